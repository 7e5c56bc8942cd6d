// Shared by the libFuzzer targets: a check that aborts with a message (libFuzzer then saves
// the input as a crash), a chunker that cuts a stream into reads the way a socket would, and
// a UTF-8 checker written independently of src/ws/utf8.cpp (it decodes code points and
// compares ranges instead of walking Unicode table 3-7), so that both would have to be wrong
// the same way for a bad message to pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace mws::fuzz {

// Read sizes for a stream: 1..max_chunk bytes each, from a seed the input chooses.
class Chunker {
 public:
  Chunker(uint32_t seed, size_t max_chunk) noexcept
      : state_(seed * 2654435761u + 0x9E3779B9u), max_chunk_(max_chunk == 0 ? 1 : max_chunk) {}

  size_t next() noexcept {
    if (max_chunk_ == SIZE_MAX) return SIZE_MAX;  // everything in one read
    state_ ^= state_ << 13;                       // xorshift32
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return 1 + state_ % max_chunk_;
  }

 private:
  uint32_t state_;
  size_t max_chunk_;
};

// The largest read for a 3-bit size class: byte by byte, a few bytes, around a header or
// control frame, socket-sized, or everything at once.
inline size_t maxChunkForClass(uint8_t size_class) noexcept {
  static constexpr size_t kMax[8] = {1, 2, 3, 7, 16, 131, 1024, SIZE_MAX};
  return kMax[size_class & 7];
}

// Whether `bytes` is UTF-8 (RFC 3629), or with `allow_unfinished`, a prefix of some UTF-8
// string (what a validator that fails at the first bad byte accepts mid-message).
inline bool isUtf8(std::span<const uint8_t> bytes, bool allow_unfinished) noexcept {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t lead = bytes[i];
    size_t len;
    uint32_t cp;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      len = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      len = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      len = 4;
      cp = lead & 0x07;
    } else {
      return false;  // a continuation byte without a lead, or F8-FF
    }
    const size_t have = bytes.size() - i < len ? bytes.size() - i : len;
    for (size_t k = 1; k < have; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (bytes[i + k] & 0x3F);
    }
    // The code points this sequence can still become: all of them when complete, else every
    // value the missing continuation bytes (6 bits each) allow.
    const unsigned missing_bits = static_cast<unsigned>(6 * (len - have));
    const uint32_t lo = cp << missing_bits;
    const uint32_t hi = lo | ((1u << missing_bits) - 1);
    if (have < len && !allow_unfinished) return false;
    const uint32_t min_for_len = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;  // no overlongs
    // Some value in [lo, hi] must be a scalar value encodable in `len` bytes.
    const uint32_t from = lo < min_for_len ? min_for_len : lo;
    const uint32_t to = hi > 0x10FFFF ? 0x10FFFF : hi;
    if (from > to) return false;
    const bool all_surrogates = from >= 0xD800 && to <= 0xDFFF;
    if (all_surrogates) return false;
    i += have;
  }
  return true;
}

}  // namespace mws::fuzz
