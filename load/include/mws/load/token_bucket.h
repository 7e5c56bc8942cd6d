// Token bucket pacing new connections: `rate` tokens per second up to `burst`
// banked. A rate of 0 means unlimited. Plain arithmetic on the caller's clock
// readings; single-threaded.
#pragma once

#include <cstdint>

namespace mws::load {

class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst, uint64_t now_ns) noexcept;

  bool tryTake(uint64_t now_ns) noexcept;
  // Nanoseconds until tryTake() can succeed; 0 if it can now.
  uint64_t nanosUntilToken(uint64_t now_ns) const noexcept;

 private:
  void refill(uint64_t now_ns) noexcept;

  double rate_;
  double burst_;
  double tokens_ = 1.0;
  uint64_t last_ns_;
};

}  // namespace mws::load
