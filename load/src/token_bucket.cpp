#include "mws/load/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace mws::load {

TokenBucket::TokenBucket(double rate_per_second, double burst, uint64_t now_ns) noexcept
    : rate_(rate_per_second), burst_(std::max(burst, 1.0)), last_ns_(now_ns) {}

void TokenBucket::refill(uint64_t now_ns) noexcept {
  if (now_ns <= last_ns_) return;
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_ / 1e9);
  last_ns_ = now_ns;
}

bool TokenBucket::tryTake(uint64_t now_ns) noexcept {
  if (rate_ <= 0) return true;
  refill(now_ns);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

uint64_t TokenBucket::nanosUntilToken(uint64_t now_ns) const noexcept {
  if (rate_ <= 0) return 0;
  double tokens = tokens_;
  if (now_ns > last_ns_) {
    tokens = std::min(burst_, tokens + static_cast<double>(now_ns - last_ns_) * rate_ / 1e9);
  }
  if (tokens >= 1.0) return 0;
  return static_cast<uint64_t>(std::ceil((1.0 - tokens) * 1e9 / rate_));
}

}  // namespace mws::load
