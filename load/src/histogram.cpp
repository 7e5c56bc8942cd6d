#include "mws/load/histogram.h"

#include <algorithm>
#include <cmath>

namespace mws::load {

size_t Histogram::bucketOf(uint64_t value) noexcept {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  // The top kSubBits + 1 significant bits pick the bucket: its leading 1 the
  // major bucket, the next kSubBits the linear sub-bucket.
  const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(value));
  const unsigned shift = msb - kSubBits;
  const size_t sub = static_cast<size_t>(value >> shift) - kSubBuckets;
  return (shift + 1) * kSubBuckets + sub;
}

uint64_t Histogram::bucketLow(size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const size_t major = index / kSubBuckets;
  const size_t sub = index % kSubBuckets;
  return static_cast<uint64_t>(kSubBuckets + sub) << (major - 1);
}

uint64_t Histogram::bucketWidth(size_t index) noexcept {
  return index < kSubBuckets ? 1 : uint64_t{1} << (index / kSubBuckets - 1);
}

void Histogram::record(uint64_t value) noexcept {
  ++buckets_[bucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  if (other.count_ > 0) widenRange(other.min_, other.max_);
}

void Histogram::addToBucket(size_t index, uint64_t n) noexcept {
  if (index >= kBuckets) return;
  buckets_[index] += n;
  count_ += n;
}

void Histogram::widenRange(uint64_t min, uint64_t max) noexcept {
  min_ = std::min(min_, min);
  max_ = std::max(max_, max);
}

uint64_t Histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  const double wanted = std::ceil(std::max(q, 0.0) * static_cast<double>(count_));
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t mid = bucketLow(i) + (bucketWidth(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace mws::load
