#include "mws/load/token_bucket.h"

#include <gtest/gtest.h>

namespace mws::load {
namespace {

constexpr uint64_t kMs = 1'000'000;

TEST(TokenBucketTest, UnlimitedAlwaysGives) {
  TokenBucket b(0, 1, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(b.tryTake(0));
  EXPECT_EQ(b.nanosUntilToken(0), 0u);
}

TEST(TokenBucketTest, PacesAtTheRate) {
  TokenBucket b(1000, 10, 0);  // one per ms, up to 10 banked
  EXPECT_TRUE(b.tryTake(0));   // starts with one token, not a full burst
  EXPECT_FALSE(b.tryTake(0));
  EXPECT_EQ(b.nanosUntilToken(0), 1 * kMs);
  uint64_t taken = 0;
  for (uint64_t t = 0; t <= 1000 * kMs; t += kMs / 4) {
    while (b.tryTake(t)) ++taken;
  }
  EXPECT_NEAR(static_cast<double>(taken), 1000.0, 2.0);
}

TEST(TokenBucketTest, BurstIsBounded) {
  TokenBucket b(1000, 10, 0);
  int taken = 0;
  while (b.tryTake(5000 * kMs)) ++taken;  // idle for 5 s banks only 10
  EXPECT_EQ(taken, 10);
}

}  // namespace
}  // namespace mws::load
