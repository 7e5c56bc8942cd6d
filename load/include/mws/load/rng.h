// xoshiro256** pseudo-random numbers for masking keys and handshake nonces. One
// instance per worker process, seeded from getrandom(); single-threaded, never
// allocates. Not for secrets: a load generator only needs unpredictable-enough masks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mws::load {

class Rng {
 public:
  explicit Rng(uint64_t seed) noexcept;
  static Rng fromEntropy() noexcept;

  uint64_t next() noexcept;
  uint32_t next32() noexcept { return static_cast<uint32_t>(next() >> 32); }
  void fill(uint8_t* out, size_t len) noexcept;

 private:
  uint64_t s_[4];
};

}  // namespace mws::load
