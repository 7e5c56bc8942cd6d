// Log-bucketed latency histogram: 2^k major buckets split into 32 linear
// sub-buckets, so every recorded value is known to within 1/32 (about 3%) and the
// midpoint reported is within 1/64. Fixed size (no allocation on record), mergeable
// across workers by adding buckets. Single-threaded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace mws::load {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 5;
  static constexpr size_t kSubBuckets = size_t{1} << kSubBits;  // 32
  // Values below 32 get exact buckets; each power of two above gets 32 buckets.
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSubBuckets;  // 1920

  void record(uint64_t value) noexcept;
  void merge(const Histogram& other) noexcept;

  // The value at quantile q in [0, 1]: the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, clamped to [min, max]. q >= 1 gives max.
  // 0 when empty.
  uint64_t percentile(double q) const noexcept;

  uint64_t count() const noexcept { return count_; }
  uint64_t min() const noexcept { return count_ ? min_ : 0; }
  uint64_t max() const noexcept { return max_; }
  uint64_t bucketCount(size_t index) const noexcept { return buckets_[index]; }

  // Rebuilding from raw buckets (a worker's report): add counts, then set the
  // exact extremes the worker saw.
  void addToBucket(size_t index, uint64_t n) noexcept;
  void widenRange(uint64_t min, uint64_t max) noexcept;

  static size_t bucketOf(uint64_t value) noexcept;
  static uint64_t bucketLow(size_t index) noexcept;
  static uint64_t bucketWidth(size_t index) noexcept;

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace mws::load
