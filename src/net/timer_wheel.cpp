#include "mws/net/timer_wheel.h"

namespace mws::net {

uint16_t TimerWheel::schedule(uint32_t id, uint16_t generation, uint16_t due) {
  uint16_t delay = ticksBetween(now_, due);
  // A delay "in the past" (wrapped) or zero fires on the next tick.
  if (delay == 0 || delay > 0x8000) delay = 1;
  if (delay >= kSlots) delay = kSlots - 1;
  const uint16_t at = static_cast<uint16_t>(now_ + delay);
  buckets_[at % kSlots].push_back(Entry{id, generation, at});
  return at;
}

size_t TimerWheel::armed() const noexcept {
  size_t n = 0;
  for (const auto& b : buckets_) n += b.size();
  return n;
}

size_t TimerWheel::retainedCapacity() const noexcept {
  size_t n = firing_.capacity();
  for (const auto& b : buckets_) n += b.capacity();
  return n;
}

}  // namespace mws::net
