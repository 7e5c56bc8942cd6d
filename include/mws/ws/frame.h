// RFC 6455 section 5 vocabulary: opcodes, header limits and close codes, all
// constexpr so the decoder's checks compile to a few compares. No state here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mws::ws {

// https://www.rfc-editor.org/rfc/rfc6455#section-5.2
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

inline constexpr size_t kMaxClientHeaderBytes = 14;  // 2 + 8 (64-bit length) + 4 (mask)
inline constexpr size_t kMaxServerHeaderBytes = 10;  // servers never mask
inline constexpr size_t kMaxControlPayload = 125;    // rfc6455#section-5.5
// The longest control frame a client can send: 2-byte header, mask, 125 bytes.
inline constexpr size_t kMaxClientControlFrame = 2 + 4 + kMaxControlPayload;

constexpr bool isControl(uint8_t opcode) noexcept { return (opcode & 0x8) != 0; }

// Opcodes 0x3-0x7 and 0xB-0xF are reserved (rfc6455#section-5.2): receiving one fails the
// connection with 1002.
constexpr bool isKnownOpcode(uint8_t opcode) noexcept {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

// Close status codes, rfc6455#section-7.4.1 and the IANA registry.
enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,
  kCloseProtocolError = 1002,
  kCloseUnsupportedData = 1003,
  kCloseNoStatus = 1005,  // never on the wire
  kCloseAbnormal = 1006,  // never on the wire
  kCloseInvalidPayload = 1007,
  kClosePolicyViolation = 1008,
  kCloseMessageTooBig = 1009,
  kCloseMandatoryExtension = 1010,
  kCloseInternalError = 1011,
};

// Whether a peer may put `code` in a Close frame (rfc6455#section-7.4).
constexpr bool isValidCloseCode(uint32_t code) noexcept {
  if (code < 1000) return false;   // 0-999: not used
  if (code >= 5000) return false;  // undefined range
  if (code >= 3000) return true;   // 3000-3999 registered, 4000-4999 private use
  switch (code) {
    case 1000:  // normal closure
    case 1001:  // going away
    case 1002:  // protocol error
    case 1003:  // unsupported data
    case 1007:  // invalid frame payload data
    case 1008:  // policy violation
    case 1009:  // message too big
    case 1010:  // mandatory extension
    case 1011:  // internal error
    case 1012:  // service restart (IANA)
    case 1013:  // try again later (IANA)
    case 1014:  // bad gateway (IANA)
      return true;
    default:  // 1004 reserved, 1005/1006/1015 never on the wire, 1016-2999 unassigned
      return false;
  }
}

}  // namespace mws::ws
