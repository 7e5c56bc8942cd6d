#include "mws/net/timer_wheel.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <vector>

namespace mws::net {
namespace {

struct Fired {
  uint16_t tick;  // wheel time when fire() ran
  uint32_t id;
  uint16_t generation;
  uint16_t due;
  bool operator==(const Fired&) const = default;
};

void PrintTo(const Fired& f, std::ostream* os) {
  *os << "{tick " << f.tick << " id " << f.id << " gen " << f.generation << " due " << f.due << "}";
}

// Advances one tick at a time up to `to`, recording what fired and when.
std::vector<Fired> advanceTo(TimerWheel& w, uint16_t to) {
  std::vector<Fired> out;
  while (w.now() != to) {
    const uint16_t next = static_cast<uint16_t>(w.now() + 1);
    w.advance(next, [&](const TimerWheel::Entry& e) {
      out.push_back({w.now(), e.id, e.generation, e.due});
    });
  }
  return out;
}

TEST(TimerWheelTest, FiresAtTheRightTick) {
  TimerWheel w(100);
  EXPECT_EQ(w.now(), 100);
  EXPECT_EQ(w.schedule(1, 7, 105), 105);
  EXPECT_EQ(w.schedule(2, 8, 101), 101);
  EXPECT_EQ(w.schedule(3, 9, 162), 162);  // kSlots - 2 ahead: within the horizon
  EXPECT_EQ(w.armed(), 3u);
  const std::vector<Fired> fired = advanceTo(w, 170);
  EXPECT_EQ(fired, (std::vector<Fired>{{101, 2, 8, 101}, {105, 1, 7, 105}, {162, 3, 9, 162}}));
  EXPECT_EQ(w.armed(), 0u);
  EXPECT_EQ(w.now(), 170);
}

TEST(TimerWheelTest, BigJumpFiresEverythingPassed) {
  TimerWheel w(0);
  w.schedule(1, 0, 10);
  w.schedule(2, 0, 20);
  w.schedule(3, 0, 30);
  std::vector<uint32_t> ids;
  w.advance(20, [&](const TimerWheel::Entry& e) { ids.push_back(e.id); });
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(w.now(), 20);
  EXPECT_EQ(w.armed(), 1u);
  // Advancing to the current tick is a no-op.
  w.advance(20, [&](const TimerWheel::Entry& e) { ids.push_back(e.id); });
  EXPECT_EQ(ids.size(), 2u);
  w.advance(500, [&](const TimerWheel::Entry& e) { ids.push_back(e.id); });
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(w.armed(), 0u);
}

TEST(TimerWheelTest, FarDeadlinesClampToHorizon) {
  TimerWheel w(1000);
  const uint16_t last = static_cast<uint16_t>(1000 + TimerWheel::kSlots - 1);
  EXPECT_EQ(w.schedule(1, 0, static_cast<uint16_t>(1000 + TimerWheel::kSlots - 1)), last);
  EXPECT_EQ(w.schedule(2, 0, static_cast<uint16_t>(1000 + TimerWheel::kSlots)), last);
  EXPECT_EQ(w.schedule(3, 0, 1000 + 5000), last);
  EXPECT_EQ(w.schedule(4, 0, static_cast<uint16_t>(1000 + 0x8000)), last);  // the farthest "future"
  const std::vector<Fired> fired = advanceTo(w, static_cast<uint16_t>(last + 5));
  ASSERT_EQ(fired.size(), 4u);
  for (const Fired& f : fired) {
    EXPECT_EQ(f.tick, last) << f.id;
    EXPECT_EQ(f.due, last) << f.id;  // entries carry the tick they actually fire at
  }
}

TEST(TimerWheelTest, PastOrZeroDelayFiresNextTick) {
  TimerWheel w(500);
  EXPECT_EQ(w.schedule(1, 0, 500), 501);                                  // zero delay
  EXPECT_EQ(w.schedule(2, 0, 499), 501);                                  // in the past
  EXPECT_EQ(w.schedule(3, 0, 1), 501);                                    // long past
  EXPECT_EQ(w.schedule(4, 0, static_cast<uint16_t>(500 + 0x8001)), 501);  // past, wrapped
  const std::vector<Fired> fired = advanceTo(w, 510);
  ASSERT_EQ(fired.size(), 4u);
  for (const Fired& f : fired) EXPECT_EQ(f.tick, 501);
}

TEST(TimerWheelTest, MultipleEntriesSameTickFireInScheduleOrder) {
  TimerWheel w(0);
  for (uint32_t id = 0; id < 10; ++id) w.schedule(id, static_cast<uint16_t>(id * 3), 7);
  EXPECT_EQ(w.armed(), 10u);
  const std::vector<Fired> fired = advanceTo(w, 8);
  ASSERT_EQ(fired.size(), 10u);
  for (uint32_t id = 0; id < 10; ++id) {
    EXPECT_EQ(fired[id], (Fired{7, id, static_cast<uint16_t>(id * 3), 7}));
  }
}

TEST(TimerWheelTest, EntriesAHorizonApartShareABucketButNotATick) {
  // Tick 10 and tick 10 + 64 hash to the same bucket; the second is scheduled only
  // after the first fired, as a re-arm would be.
  TimerWheel w(0);
  w.schedule(1, 0, 10);
  std::vector<Fired> fired = advanceTo(w, 20);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(w.schedule(2, 0, 74), 74);
  fired = advanceTo(w, 73);
  EXPECT_TRUE(fired.empty());
  fired = advanceTo(w, 74);
  EXPECT_EQ(fired, (std::vector<Fired>{{74, 2, 0, 74}}));
}

TEST(TimerWheelTest, SchedulingFromInsideFire) {
  TimerWheel w(0);
  w.schedule(1, 0, 3);
  std::vector<Fired> fired;
  int rearms = 0;
  // Id 1 re-arms itself 2 ticks later and arms another id for "now" (the next tick).
  auto fire = [&](const TimerWheel::Entry& e) {
    fired.push_back({w.now(), e.id, e.generation, e.due});
    if (e.id == 1 && rearms < 3) {
      ++rearms;
      w.schedule(e.id, static_cast<uint16_t>(e.generation + 1), static_cast<uint16_t>(w.now() + 2));
      w.schedule(static_cast<uint32_t>(100 + rearms), 0, w.now());
    }
  };
  for (uint16_t t = 1; t <= 12; ++t) w.advance(t, fire);
  EXPECT_EQ(fired, (std::vector<Fired>{{3, 1, 0, 3},
                                       {4, 101, 0, 4},
                                       {5, 1, 1, 5},
                                       {6, 102, 0, 6},
                                       {7, 1, 2, 7},
                                       {8, 103, 0, 8},
                                       {9, 1, 3, 9}}));
  EXPECT_EQ(w.armed(), 0u);
  // The same with one big advance.
  TimerWheel w2(0);
  w2.schedule(1, 0, 3);
  std::vector<uint16_t> ticks;
  int n = 0;
  w2.advance(100, [&](const TimerWheel::Entry& e) {
    ticks.push_back(w2.now());
    if (++n < 5) w2.schedule(e.id, 0, static_cast<uint16_t>(w2.now() + 10));
  });
  EXPECT_EQ(ticks, (std::vector<uint16_t>{3, 13, 23, 33, 43}));
}

TEST(TimerWheelTest, WrapAroundOfTicks) {
  TimerWheel w(65530);
  EXPECT_EQ(w.schedule(1, 0, 65534), 65534);
  EXPECT_EQ(w.schedule(2, 0, 65535), 65535);
  EXPECT_EQ(w.schedule(3, 0, 0), 0);
  EXPECT_EQ(w.schedule(4, 0, 4), 4);
  EXPECT_EQ(w.schedule(5, 0, 65529), 65531);                             // past, across no wrap
  EXPECT_EQ(w.schedule(6, 0, static_cast<uint16_t>(65530 + 1000)), 57);  // clamped: 65530 + 63
  EXPECT_EQ(w.armed(), 6u);
  const std::vector<Fired> fired = advanceTo(w, 100);
  EXPECT_EQ(fired, (std::vector<Fired>{{65531, 5, 0, 65531},
                                       {65534, 1, 0, 65534},
                                       {65535, 2, 0, 65535},
                                       {0, 3, 0, 0},
                                       {4, 4, 0, 4},
                                       {57, 6, 0, 57}}));
  EXPECT_EQ(w.now(), 100);
  // Past deadlines across the wrap.
  TimerWheel w2(3);
  EXPECT_EQ(w2.schedule(1, 0, 65534), 4);
}

TEST(TimerWheelTest, ArmedCounts) {
  TimerWheel w(0);
  EXPECT_EQ(w.armed(), 0u);
  for (uint16_t i = 1; i <= 40; ++i) w.schedule(i, 0, i);
  EXPECT_EQ(w.armed(), 40u);
  advanceTo(w, 10);
  EXPECT_EQ(w.armed(), 30u);
  w.schedule(99, 0, 200);  // clamped to 10 + 63
  EXPECT_EQ(w.armed(), 31u);
  advanceTo(w, 40);
  EXPECT_EQ(w.armed(), 1u);
  advanceTo(w, 73);
  EXPECT_EQ(w.armed(), 0u);
}

TEST(TimerWheelTest, TicksBetween) {
  EXPECT_EQ(ticksBetween(10, 15), 5);
  EXPECT_EQ(ticksBetween(15, 10), 65531);
  EXPECT_EQ(ticksBetween(65530, 4), 10);
  EXPECT_EQ(ticksBetween(7, 7), 0);
}

}  // namespace
}  // namespace mws::net

namespace mws::net {
namespace {

TEST(TimerWheelMemory, ABurstDoesNotKeepItsCapacity) {
  TimerWheel wheel(0);
  for (uint32_t i = 0; i < 20000; ++i) wheel.schedule(i, 0, 5);
  size_t fired = 0;
  wheel.advance(10, [&](const TimerWheel::Entry&) { ++fired; });
  EXPECT_EQ(fired, 20000u);
  EXPECT_EQ(wheel.armed(), 0u);
  EXPECT_LE(wheel.retainedCapacity(), TimerWheel::kSlots * TimerWheel::kRetainedEntries);
}

}  // namespace
}  // namespace mws::net
