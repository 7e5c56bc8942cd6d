// Server-side frame headers (rfc6455#section-5.2): unmasked, shortest length encoding,
// FIN set unless the frame is a non-final fragment. Writes into caller-provided memory; never
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mws/ws/frame.h"

namespace mws::ws {

// Bytes of header a server frame with `payload_len` bytes of payload needs: 2, 4 or 10.
constexpr size_t serverHeaderSize(uint64_t payload_len) noexcept {
  return payload_len <= 125 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
}

// Writes the header of a frame into `out`, which must have room for kMaxServerHeaderBytes:
// a final one (FIN=1) unless `fin` is false (a fragment with more to follow, opcode
// kContinuation after the first: rfc6455#section-5.4). Returns the number of bytes written.
size_t writeServerHeader(uint8_t* out, Opcode opcode, uint64_t payload_len,
                         bool fin = true) noexcept;

// Writes the payload of a Close frame (2-byte code, big-endian) into `out`. Returns 2.
size_t writeClosePayload(uint8_t* out, uint16_t code) noexcept;

}  // namespace mws::ws
