#include "mws/load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace mws::load {
namespace {

// The histogram's answer must be within one sub-bucket (1/32) of the exact
// order statistic it stands for.
void expectClose(uint64_t got, uint64_t want, const char* what) {
  const double tolerance = static_cast<double>(want) / 32.0 + 1.0;
  EXPECT_LE(std::fabs(static_cast<double>(got) - static_cast<double>(want)), tolerance)
      << what << ": got " << got << " want " << want;
}

uint64_t referencePercentile(const std::vector<uint64_t>& sorted, double q) {
  if (q >= 1.0) return sorted.back();
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<size_t>(rank, 1) - 1];
}

void checkAgainstReference(std::vector<uint64_t> values) {
  Histogram h;
  for (uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    expectClose(h.percentile(q), referencePercentile(values, q), "quantile");
  }
}

TEST(HistogramTest, EveryBucketBoundaryMapsBack) {
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    const uint64_t low = Histogram::bucketLow(i);
    const uint64_t high = low + (Histogram::bucketWidth(i) - 1);
    ASSERT_EQ(Histogram::bucketOf(low), i) << i;
    ASSERT_EQ(Histogram::bucketOf(high), i) << i;
    if (i + 1 < Histogram::kBuckets) {
      ASSERT_EQ(Histogram::bucketLow(i + 1), high + 1) << i;
    }
    // Precision: a bucket is at most 1/32 of its lowest value wide.
    if (low >= Histogram::kSubBuckets) {
      ASSERT_LE(Histogram::bucketWidth(i) * 32, low) << i;
    }
  }
  EXPECT_EQ(Histogram::bucketOf(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 32; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 15u);
  EXPECT_EQ(h.percentile(1.0), 31u);
  EXPECT_EQ(h.percentile(0.0), 0u);
}

TEST(HistogramTest, EmptyAndSingle) {
  Histogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.record(123'456'789);
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(h.percentile(q), 123'456'789u);
}

TEST(HistogramTest, UniformRandomMatchesSortedReference) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> dist(0, 50'000'000);
  std::vector<uint64_t> values(100'000);
  for (uint64_t& v : values) v = dist(rng);
  checkAgainstReference(values);
}

TEST(HistogramTest, HeavyTailedRandomMatchesSortedReference) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(12.0, 2.0);  // ~160 us median, long tail
  std::vector<uint64_t> values(200'000);
  for (uint64_t& v : values) v = static_cast<uint64_t>(dist(rng));
  checkAgainstReference(values);
}

TEST(HistogramTest, FewSamplesMatchSortedReference) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint64_t> values(1 + rng() % 20);
    for (uint64_t& v : values) v = rng() >> (rng() % 64);
    checkAgainstReference(values);
  }
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(4);
  std::exponential_distribution<double> dist(1e-6);
  Histogram a;
  Histogram b;
  Histogram all;
  std::vector<uint64_t> values;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
    values.push_back(v);
  }
  Histogram merged;
  merged.merge(a);
  merged.merge(b);
  ASSERT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(merged.bucketCount(i), all.bucketCount(i)) << i;
  }
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(merged.percentile(q), all.percentile(q));
  std::sort(values.begin(), values.end());
  expectClose(merged.percentile(0.99), referencePercentile(values, 0.99), "merged p99");
}

TEST(HistogramTest, MergeWithEmptyKeepsRange) {
  Histogram a;
  a.record(500);
  a.record(900);
  Histogram empty;
  a.merge(empty);
  EXPECT_EQ(a.min(), 500u);
  EXPECT_EQ(a.max(), 900u);
  empty.merge(a);
  EXPECT_EQ(empty.min(), 500u);
  EXPECT_EQ(empty.count(), 2u);
}

TEST(HistogramTest, RebuildFromRawBuckets) {
  Histogram h;
  for (uint64_t v : {3u, 70u, 70u, 5000u, 1'000'000u}) h.record(v);
  Histogram copy;
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (h.bucketCount(i) != 0) copy.addToBucket(i, h.bucketCount(i));
  }
  copy.widenRange(h.min(), h.max());
  EXPECT_EQ(copy.count(), h.count());
  for (double q : {0.1, 0.5, 0.7, 1.0}) EXPECT_EQ(copy.percentile(q), h.percentile(q));
}

}  // namespace
}  // namespace mws::load
