// A statistic written by exactly one thread and read by others (the admin thread
// at scrape time). Writes are a relaxed load plus a relaxed store: a plain add,
// no locked instruction, yet no data race for the reader.
#pragma once

#include <atomic>
#include <cstdint>

namespace mws {

// -DMWS_COUNTERS=OFF compiles every statistic out: the build the metrics-overhead
// benchmark compares against. Nothing but metrics may depend on a Counter's value.
#ifdef MWS_NO_COUNTERS
inline constexpr bool kCountersEnabled = false;
#else
inline constexpr bool kCountersEnabled = true;
#endif

class Counter {
 public:
  void add(uint64_t n = 1) noexcept { set(get() + n); }
  void sub(uint64_t n = 1) noexcept { set(get() - n); }
  void set(uint64_t n) noexcept {
    if constexpr (kCountersEnabled) v_.store(n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace mws
