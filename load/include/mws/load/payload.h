// Echo payloads the generator can check without keeping a copy: "cccccccc:ssssssss:"
// (connection id and sequence number in hex) followed by letters that depend on both.
// ASCII, so the same bytes are valid text frames. Pure functions; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mws::load {

inline constexpr size_t kPayloadPrefixBytes = 18;

uint8_t payloadByte(size_t index, uint32_t conn, uint32_t seq) noexcept;

// The first out.size() bytes of the payload of message (conn, seq).
void fillPayload(std::span<uint8_t> out, uint32_t conn, uint32_t seq) noexcept;

// Whether `piece` equals the payload's bytes [offset, offset + piece.size()).
bool matchesPayload(std::span<const uint8_t> piece, size_t offset, uint32_t conn,
                    uint32_t seq) noexcept;

}  // namespace mws::load
