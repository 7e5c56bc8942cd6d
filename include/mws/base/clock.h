// Monotonic time helpers. Reactors read the clock once per loop iteration and
// derive coarse ticks from it; nothing on the hot path calls the clock per message.
#pragma once

#include <time.h>

#include <cstdint>

namespace mws {

inline uint64_t monotonicMillis() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

inline uint64_t monotonicNanos() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace mws
