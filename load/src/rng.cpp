#include "mws/load/rng.h"

#include <sys/random.h>
#include <unistd.h>

#include <cstring>

#include "mws/base/clock.h"

namespace mws::load {

namespace {

uint64_t splitMix(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) noexcept {
  for (uint64_t& s : s_) s = splitMix(seed);
}

Rng Rng::fromEntropy() noexcept {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
    seed = monotonicNanos() ^ (static_cast<uint64_t>(getpid()) << 32);
  }
  return Rng(seed);
}

uint64_t Rng::next() noexcept {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void Rng::fill(uint8_t* out, size_t len) noexcept {
  while (len > 0) {
    const uint64_t v = next();
    const size_t n = len < sizeof v ? len : sizeof v;
    std::memcpy(out, &v, n);
    out += n;
    len -= n;
  }
}

}  // namespace mws::load
