#include "mws/load/frame_writer.h"

#include <cstring>

#include "mws/ws/decoder.h"

namespace mws::load {

size_t writeClientFrame(uint8_t* out, ws::Opcode opcode, std::span<const uint8_t> payload,
                        uint32_t mask_key) noexcept {
  const uint64_t len = payload.size();
  constexpr uint8_t kFin = 0x80;
  constexpr uint8_t kMaskBit = 0x80;  // clients always mask (rfc6455#section-5.3)
  out[0] = kFin | static_cast<uint8_t>(opcode);
  size_t pos = 2;
  if (len <= 125) {
    out[1] = kMaskBit | static_cast<uint8_t>(len);
  } else if (len <= 0xFFFF) {
    out[1] = kMaskBit | 126;
    out[2] = static_cast<uint8_t>(len >> 8);
    out[3] = static_cast<uint8_t>(len);
    pos = 4;
  } else {
    out[1] = kMaskBit | 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(len >> (56 - 8 * i));
    pos = 10;
  }
  uint8_t key[4];
  std::memcpy(key, &mask_key, sizeof key);
  std::memcpy(out + pos, key, sizeof key);
  pos += sizeof key;
  if (len > 0) {
    std::memcpy(out + pos, payload.data(), len);
    ws::unmask(out + pos, len, key, 0);  // XOR masking is its own inverse
  }
  return pos + len;
}

size_t writeClientClose(uint8_t* out, uint16_t code, uint32_t mask_key) noexcept {
  const uint8_t payload[2] = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
  return writeClientFrame(out, ws::Opcode::kClose, payload, mask_key);
}

}  // namespace mws::load
