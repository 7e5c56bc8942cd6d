// Client frames (rfc6455#section-5.2 and 5.3): FIN set, shortest length encoding,
// masked with a caller-chosen 32-bit key (fresh per frame). Writes into caller
// memory; never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mws/ws/frame.h"

namespace mws::load {

constexpr size_t clientHeaderSize(uint64_t payload_len) noexcept {
  return (payload_len <= 125 ? 2 : payload_len <= 0xFFFF ? 4 : 10) + 4;
}

// Writes header, mask and masked payload into `out` (room for
// clientHeaderSize(payload.size()) + payload.size() bytes; `payload` must not
// overlap it). Returns the frame size.
size_t writeClientFrame(uint8_t* out, ws::Opcode opcode, std::span<const uint8_t> payload,
                        uint32_t mask_key) noexcept;

// A Close frame carrying `code` and no reason (rfc6455#section-5.5.1). `out` needs
// clientHeaderSize(2) + 2 bytes.
size_t writeClientClose(uint8_t* out, uint16_t code, uint32_t mask_key) noexcept;

}  // namespace mws::load
