#include "mws/load/payload.h"

namespace mws::load {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes 0-7: conn in hex, 8: ':', 9-16: seq in hex, 17: ':'.
uint8_t prefixByte(size_t index, uint32_t conn, uint32_t seq) noexcept {
  if (index == 8 || index == 17) return ':';
  const uint32_t value = index < 8 ? conn : seq;
  const size_t digit = index < 8 ? index : index - 9;
  return static_cast<uint8_t>(kHex[(value >> (28 - 4 * digit)) & 0xF]);
}

// Letters after the prefix, phase-shifted by conn and seq so that a message
// delivered to the wrong connection or out of order does not match.
uint32_t letterPhase(size_t index, uint32_t conn, uint32_t seq) noexcept {
  return static_cast<uint32_t>((index + conn % 26 + (seq % 26) * 7) % 26);
}

}  // namespace

uint8_t payloadByte(size_t index, uint32_t conn, uint32_t seq) noexcept {
  if (index < kPayloadPrefixBytes) return prefixByte(index, conn, seq);
  return static_cast<uint8_t>('a' + letterPhase(index, conn, seq));
}

void fillPayload(std::span<uint8_t> out, uint32_t conn, uint32_t seq) noexcept {
  size_t i = 0;
  for (; i < out.size() && i < kPayloadPrefixBytes; ++i) out[i] = prefixByte(i, conn, seq);
  if (i == out.size()) return;
  uint32_t letter = letterPhase(i, conn, seq);
  for (; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>('a' + letter);
    letter = letter == 25 ? 0 : letter + 1;
  }
}

bool matchesPayload(std::span<const uint8_t> piece, size_t offset, uint32_t conn,
                    uint32_t seq) noexcept {
  size_t i = 0;
  for (; i < piece.size() && offset + i < kPayloadPrefixBytes; ++i) {
    if (piece[i] != prefixByte(offset + i, conn, seq)) return false;
  }
  if (i == piece.size()) return true;
  uint32_t letter = letterPhase(offset + i, conn, seq);
  for (; i < piece.size(); ++i) {
    if (piece[i] != 'a' + letter) return false;
    letter = letter == 25 ? 0 : letter + 1;
  }
  return true;
}

}  // namespace mws::load
