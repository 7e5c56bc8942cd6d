#include "mws/load/source_addresses.h"

#include <gtest/gtest.h>

#include <set>

namespace mws::load {
namespace {

TEST(SourceAddressesTest, SequenceSkipsZeroAndBroadcastOctets) {
  EXPECT_EQ(formatIpv4(sourceAddress(0)), "127.0.0.1");
  EXPECT_EQ(formatIpv4(sourceAddress(1)), "127.0.0.2");
  EXPECT_EQ(formatIpv4(sourceAddress(253)), "127.0.0.254");
  EXPECT_EQ(formatIpv4(sourceAddress(254)), "127.0.1.1");
  EXPECT_EQ(formatIpv4(sourceAddress(254 * 256)), "127.1.0.1");
  EXPECT_EQ(formatIpv4(sourceAddress(kMaxSourceAddresses - 1)), "127.255.255.254");
}

TEST(SourceAddressesTest, AllDistinctAndInsideLoopback) {
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < 200'000; ++i) {
    const uint32_t a = sourceAddress(i);
    ASSERT_EQ(a >> 24, 127u);
    ASSERT_NE(a & 0xFF, 0u);
    ASSERT_NE(a & 0xFF, 255u);
    ASSERT_TRUE(seen.insert(a).second) << i;
  }
}

TEST(SourceAddressesTest, SplitEvenlyCoversTotalContiguously) {
  for (uint64_t total : {0ull, 1ull, 7ull, 1000ull, 1'000'003ull}) {
    for (uint32_t parts : {1u, 2u, 3u, 7u, 64u}) {
      uint64_t next = 0;
      for (uint32_t i = 0; i < parts; ++i) {
        const Share s = splitEvenly(total, parts, i);
        ASSERT_EQ(s.first, next);
        ASSERT_LE(s.count, total / parts + 1);
        ASSERT_GE(s.count, total / parts);
        next += s.count;
      }
      ASSERT_EQ(next, total);
    }
  }
}

TEST(SourceAddressesTest, WorkerSlicesAreDisjoint) {
  std::set<uint32_t> seen;
  size_t total = 0;
  for (uint32_t w = 0; w < 3; ++w) {
    const auto slice = workerSourceAddresses(10, 3, w);
    EXPECT_GE(slice.size(), 3u);
    for (uint32_t a : slice) EXPECT_TRUE(seen.insert(a).second);
    total += slice.size();
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(workerSourceAddresses(10, 3, 0).front(), sourceAddress(0));
}

TEST(SourceAddressesTest, FewerAddressesThanWorkersShareRoundRobin) {
  EXPECT_EQ(workerSourceAddresses(2, 5, 0), std::vector<uint32_t>{sourceAddress(0)});
  EXPECT_EQ(workerSourceAddresses(2, 5, 3), std::vector<uint32_t>{sourceAddress(1)});
  EXPECT_EQ(workerSourceAddresses(1, 4, 2), std::vector<uint32_t>{sourceAddress(0)});
}

}  // namespace
}  // namespace mws::load
