#include "mws/ws/encoder.h"

namespace mws::ws {

size_t writeServerHeader(uint8_t* out, Opcode opcode, uint64_t payload_len, bool fin) noexcept {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode));
  if (payload_len <= 125) {
    out[1] = static_cast<uint8_t>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_len >> 8);
    out[3] = static_cast<uint8_t>(payload_len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_len >> (56 - 8 * i));
  return 10;
}

size_t writeClosePayload(uint8_t* out, uint16_t code) noexcept {
  out[0] = static_cast<uint8_t>(code >> 8);
  out[1] = static_cast<uint8_t>(code);
  return 2;
}

}  // namespace mws::ws
