// Coarse hashed timer wheel for connection timeouts (handshake, idle, ping,
// close). One tick is one second; an entry costs 8 bytes while armed and nothing
// otherwise; there is no timer object or timerfd per connection. Entries are never
// removed: the owner tags them (id, generation, due tick) and ignores stale ones
// when they fire. Used by one reactor thread; appending may grow a bucket vector
// (amortised, never per message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mws::net {

class TimerWheel {
 public:
  struct Entry {
    uint32_t id;
    uint16_t generation;
    uint16_t due;  // tick at which the entry was meant to fire
  };
  static_assert(sizeof(Entry) == 8);

  static constexpr uint16_t kSlots = 64;           // horizon in ticks; later deadlines re-arm
  static constexpr size_t kRetainedEntries = 256;  // capacity a bucket may keep once fired

  explicit TimerWheel(uint16_t now) noexcept : now_(now), buckets_(kSlots) {}

  uint16_t now() const noexcept { return now_; }

  // Arms an entry for tick `due` (clamped into [now+1, now+kSlots-1]: a later deadline
  // fires early and the owner re-arms it). Returns the tick the entry will fire at.
  uint16_t schedule(uint32_t id, uint16_t generation, uint16_t due);

  // Moves the wheel to tick `now`, calling fire(entry) for every entry whose tick has
  // passed. `fire` may schedule new entries.
  template <typename Fire>
  void advance(uint16_t now, Fire&& fire) {
    while (now_ != now) {
      now_ = static_cast<uint16_t>(now_ + 1);
      std::vector<Entry>& bucket = buckets_[now_ % kSlots];
      firing_.swap(bucket);
      for (const Entry& e : firing_) fire(e);
      firing_.clear();
      // A burst of connections (a ramp) fills a few buckets; do not keep that capacity
      // for good, it would cost every later idle connection its share.
      if (firing_.capacity() > kRetainedEntries) firing_.shrink_to_fit();
    }
  }

  size_t armed() const noexcept;
  // Entries the buckets could hold without growing (memory kept by the wheel).
  size_t retainedCapacity() const noexcept;

 private:
  uint16_t now_;
  std::vector<std::vector<Entry>> buckets_;
  std::vector<Entry> firing_;
};

// Ticks from `from` to `to`, modulo 2^16: valid while timeouts stay far below 18 hours.
inline uint16_t ticksBetween(uint16_t from, uint16_t to) noexcept {
  return static_cast<uint16_t>(to - from);
}

}  // namespace mws::net
