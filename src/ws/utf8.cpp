#include "mws/ws/utf8.h"

#include <cstring>

namespace mws::ws {

namespace {

// First byte of a sequence -> the state that follows it.
inline uint8_t stateAfterLead(uint8_t byte) noexcept {
  using V = Utf8Validator;
  if (byte < 0x80) return V::kAccept;
  if (byte < 0xC2) return V::kReject;  // continuation as lead, or C0/C1 overlong
  if (byte < 0xE0) return V::kNeed1;
  if (byte == 0xE0) return V::kAfterE0;
  if (byte == 0xED) return V::kAfterED;
  if (byte < 0xF0) return V::kNeed2;
  if (byte == 0xF0) return V::kAfterF0;
  if (byte < 0xF4) return V::kNeed3;
  if (byte == 0xF4) return V::kAfterF4;
  return V::kReject;  // F5-FF never appear in UTF-8
}

inline uint8_t step(uint8_t state, uint8_t byte) noexcept {
  using V = Utf8Validator;
  switch (state) {
    case V::kAccept:
      return stateAfterLead(byte);
    case V::kNeed1:
      return (byte & 0xC0) == 0x80 ? V::kAccept : V::kReject;
    case V::kNeed2:
      return (byte & 0xC0) == 0x80 ? V::kNeed1 : V::kReject;
    case V::kNeed3:
      return (byte & 0xC0) == 0x80 ? V::kNeed2 : V::kReject;
    case V::kAfterE0:
      return (byte >= 0xA0 && byte <= 0xBF) ? V::kNeed1 : V::kReject;
    case V::kAfterED:
      return (byte >= 0x80 && byte <= 0x9F) ? V::kNeed1 : V::kReject;
    case V::kAfterF0:
      return (byte >= 0x90 && byte <= 0xBF) ? V::kNeed2 : V::kReject;
    case V::kAfterF4:
      return (byte >= 0x80 && byte <= 0x8F) ? V::kNeed2 : V::kReject;
    default:
      return V::kReject;
  }
}

}  // namespace

bool Utf8Validator::feed(uint8_t& state, std::span<const uint8_t> bytes) noexcept {
  const uint8_t* p = bytes.data();
  const uint8_t* end = p + bytes.size();
  uint8_t s = state;
  while (p < end) {
    // Echo traffic is mostly ASCII: skip eight bytes at a time while at a boundary.
    if (s == kAccept) {
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        if (word & 0x8080808080808080ull) break;
        p += 8;
      }
      if (p == end) break;
    }
    s = step(s, *p++);
    if (s == kReject) {
      state = kReject;
      return false;
    }
  }
  state = s;
  return true;
}

}  // namespace mws::ws
