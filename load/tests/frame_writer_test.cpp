#include "mws/load/frame_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mws/ws/decoder.h"

namespace mws::load {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes frame(ws::Opcode opcode, const Bytes& payload, uint32_t key) {
  Bytes out(clientHeaderSize(payload.size()) + payload.size() + 8, 0xEE);
  const size_t n = writeClientFrame(out.data(), opcode, payload, key);
  EXPECT_EQ(n, clientHeaderSize(payload.size()) + payload.size());
  for (size_t i = n; i < out.size(); ++i) EXPECT_EQ(out[i], 0xEE) << "wrote past the frame";
  out.resize(n);
  return out;
}

// The server's own decoder is the reference for what a client must send.
struct Collector final : ws::DecoderHandler {
  std::vector<std::pair<ws::Opcode, Bytes>> messages;
  Bytes current;
  ws::HandlerAction onMessagePiece(ws::Opcode opcode, std::span<uint8_t> piece, bool first,
                                   bool last) noexcept override {
    if (first) current.clear();
    current.insert(current.end(), piece.begin(), piece.end());
    if (last) messages.emplace_back(opcode, current);
    return ws::HandlerAction::kContinue;
  }
  ws::HandlerAction onControl(ws::Opcode opcode, uint16_t close_code,
                              std::span<const uint8_t> payload) noexcept override {
    Bytes p(payload.begin(), payload.end());
    if (opcode == ws::Opcode::kClose) {
      p.insert(p.begin(),
               {static_cast<uint8_t>(close_code >> 8), static_cast<uint8_t>(close_code)});
    }
    messages.emplace_back(opcode, p);
    return ws::HandlerAction::kContinue;
  }
};

TEST(FrameWriterTest, HeaderSizes) {
  EXPECT_EQ(clientHeaderSize(0), 6u);
  EXPECT_EQ(clientHeaderSize(125), 6u);
  EXPECT_EQ(clientHeaderSize(126), 8u);
  EXPECT_EQ(clientHeaderSize(65535), 8u);
  EXPECT_EQ(clientHeaderSize(65536), 14u);
}

TEST(FrameWriterTest, Rfc6455MaskedHelloExample) {
  uint32_t key;
  const uint8_t key_bytes[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::memcpy(&key, key_bytes, 4);
  const Bytes f = frame(ws::Opcode::kText, {'H', 'e', 'l', 'l', 'o'}, key);
  EXPECT_EQ(f, (Bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(FrameWriterTest, ServerDecoderAcceptsEveryLengthEncoding) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536},
                     size_t{200'000}}) {
    Bytes payload(len);
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
    Bytes wire = frame(ws::Opcode::kBinary, payload, 0xA1B2C3D4u + static_cast<uint32_t>(len));
    ws::DecoderState state;
    Collector c;
    const ws::DecodeResult r = ws::decode(state, wire, ws::DecoderLimits{1u << 20}, c);
    ASSERT_EQ(r.close_code, 0) << len;
    EXPECT_EQ(r.consumed, wire.size()) << len;
    ASSERT_EQ(c.messages.size(), 1u) << len;
    EXPECT_EQ(c.messages[0].first, ws::Opcode::kBinary);
    EXPECT_EQ(c.messages[0].second, payload) << len;
  }
}

TEST(FrameWriterTest, CloseFrameCarriesCode) {
  Bytes out(clientHeaderSize(2) + 2);
  ASSERT_EQ(writeClientClose(out.data(), 1000, 0x01020304u), out.size());
  ws::DecoderState state;
  Collector c;
  const ws::DecodeResult r = ws::decode(state, out, ws::DecoderLimits{}, c);
  ASSERT_EQ(r.close_code, 0);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].first, ws::Opcode::kClose);
  EXPECT_EQ(c.messages[0].second, (Bytes{0x03, 0xE8}));
}

}  // namespace
}  // namespace mws::load
