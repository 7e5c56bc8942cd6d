// Incremental UTF-8 validator (Unicode table 3-7, "well-formed byte sequences").
// The whole state is one byte, so it lives in the connection record and survives
// fragment and read boundaries. Validates without decoding; never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mws::ws {

class Utf8Validator {
 public:
  enum State : uint8_t {
    kAccept = 0,  // at a code point boundary
    kNeed1,       // one continuation byte (80-BF) left
    kNeed2,       // two left, next in 80-BF
    kNeed3,       // three left, next in 80-BF
    kAfterE0,     // next in A0-BF (no overlongs), then one more
    kAfterED,     // next in 80-9F (no surrogates), then one more
    kAfterF0,     // next in 90-BF (no overlongs), then two more
    kAfterF4,     // next in 80-8F (<= U+10FFFF), then two more
    kReject,      // sticky: the input is not UTF-8
  };

  // Advances `state` over `bytes`. Returns false as soon as an invalid byte is seen
  // (fail fast), leaving state == kReject.
  static bool feed(uint8_t& state, std::span<const uint8_t> bytes) noexcept;

  // One-shot check of a complete string.
  static bool isValid(std::span<const uint8_t> bytes) noexcept {
    uint8_t state = kAccept;
    return feed(state, bytes) && state == kAccept;
  }
};

}  // namespace mws::ws
