#include "mws/server/connection_slab.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mws::server {
namespace {

TEST(ConnectionSlabTest, FreshRecords) {
  ConnectionSlab slab(8);
  EXPECT_EQ(slab.capacity(), 8u);
  EXPECT_EQ(slab.live(), 0u);
  EXPECT_EQ(slab.highWater(), 0u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(slab.allocate(), i);
    const Connection& c = slab.at(i);
    EXPECT_EQ(c.fd, -1);
    EXPECT_EQ(c.generation, 0);
    EXPECT_EQ(c.state, ConnState::kFree);
    EXPECT_EQ(c.flags, 0);
    EXPECT_EQ(c.spill, 0);
    EXPECT_FALSE(c.msg.holdsBlock());
    EXPECT_FALSE(c.out.holdsBlock());
    EXPECT_FALSE(c.decoder.discarding());
  }
  EXPECT_EQ(slab.live(), 3u);
  EXPECT_EQ(slab.highWater(), 3u);
}

TEST(ConnectionSlabTest, ReleaseAndReuseLifo) {
  ConnectionSlab slab(8);
  for (uint32_t i = 0; i < 5; ++i) ASSERT_EQ(slab.allocate(), i);
  slab.release(1);
  slab.release(3);
  EXPECT_EQ(slab.live(), 3u);
  EXPECT_EQ(slab.highWater(), 5u);
  EXPECT_EQ(slab.at(1).state, ConnState::kFree);
  EXPECT_EQ(slab.allocate(), 3u);  // last released first
  EXPECT_EQ(slab.allocate(), 1u);
  EXPECT_EQ(slab.allocate(), 5u);  // free list empty: a new slot
  EXPECT_EQ(slab.live(), 6u);
  EXPECT_EQ(slab.highWater(), 6u);
}

TEST(ConnectionSlabTest, GenerationBumpsOnReleaseAndSurvivesReuse) {
  ConnectionSlab slab(4);
  const uint32_t i = slab.allocate();
  ASSERT_EQ(i, 0u);
  Connection& c = slab.at(i);
  c.fd = 42;
  c.state = ConnState::kOpen;
  c.flags = Connection::kPaused;
  c.spill = 7;
  c.decoder.startDiscarding();
  slab.release(i);
  EXPECT_EQ(slab.at(i).generation, 1);
  EXPECT_EQ(slab.at(i).state, ConnState::kFree);
  ASSERT_EQ(slab.allocate(), i);
  // Reused: fresh fields, but the generation is kept.
  EXPECT_EQ(slab.at(i).generation, 1);
  EXPECT_EQ(slab.at(i).fd, -1);
  EXPECT_EQ(slab.at(i).flags, 0);
  EXPECT_EQ(slab.at(i).spill, 0);
  EXPECT_FALSE(slab.at(i).decoder.discarding());
  for (int k = 0; k < 5; ++k) {
    slab.release(i);
    ASSERT_EQ(slab.allocate(), i);
  }
  EXPECT_EQ(slab.at(i).generation, 6);
  // The generation wraps at 16 bits.
  slab.at(i).generation = 0xFFFF;
  slab.release(i);
  EXPECT_EQ(slab.at(i).generation, 0);
}

TEST(ConnectionSlabTest, CapacityLimit) {
  ConnectionSlab slab(3);
  EXPECT_EQ(slab.allocate(), 0u);
  EXPECT_EQ(slab.allocate(), 1u);
  EXPECT_EQ(slab.allocate(), 2u);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
  EXPECT_EQ(slab.live(), 3u);
  EXPECT_EQ(slab.highWater(), 3u);
  slab.release(0);
  EXPECT_EQ(slab.live(), 2u);
  EXPECT_EQ(slab.allocate(), 0u);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
}

TEST(ConnectionSlabTest, ZeroCapacity) {
  ConnectionSlab slab(0);
  EXPECT_EQ(slab.capacity(), 0u);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
  EXPECT_EQ(slab.live(), 0u);
}

TEST(ConnectionSlabTest, ManySlotsRecycled) {
  constexpr uint32_t kN = 10'000;
  ConnectionSlab slab(kN);
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(slab.allocate(), i);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
  for (uint32_t i = 0; i < kN; i += 2) slab.release(i);
  EXPECT_EQ(slab.live(), kN / 2);
  // Handed back in reverse order of release.
  for (uint32_t k = 0; k < kN / 2; ++k) {
    const uint32_t expected = kN - 2 - 2 * k;
    ASSERT_EQ(slab.allocate(), expected);
    EXPECT_EQ(slab.at(expected).generation, 1);
  }
  EXPECT_EQ(slab.live(), kN);
  EXPECT_EQ(slab.highWater(), kN);
  EXPECT_EQ(slab.allocate(), ConnectionSlab::kNone);
}

}  // namespace
}  // namespace mws::server
