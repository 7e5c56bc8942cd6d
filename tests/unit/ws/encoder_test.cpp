#include "mws/ws/encoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace mws::ws {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes header(Opcode opcode, uint64_t len) {
  std::array<uint8_t, kMaxServerHeaderBytes + 4> out;
  out.fill(0xEE);
  const size_t n = writeServerHeader(out.data(), opcode, len);
  EXPECT_LE(n, kMaxServerHeaderBytes);
  // Nothing written past the header.
  for (size_t i = n; i < out.size(); ++i) EXPECT_EQ(out[i], 0xEE) << i;
  return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(EncoderTest, HeaderLengthEncodings) {
  EXPECT_EQ(header(Opcode::kText, 0), (Bytes{0x81, 0x00}));
  EXPECT_EQ(header(Opcode::kText, 1), (Bytes{0x81, 0x01}));
  EXPECT_EQ(header(Opcode::kText, 125), (Bytes{0x81, 0x7D}));
  EXPECT_EQ(header(Opcode::kBinary, 126), (Bytes{0x82, 0x7E, 0x00, 0x7E}));
  EXPECT_EQ(header(Opcode::kBinary, 300), (Bytes{0x82, 0x7E, 0x01, 0x2C}));
  EXPECT_EQ(header(Opcode::kBinary, 65535), (Bytes{0x82, 0x7E, 0xFF, 0xFF}));
  EXPECT_EQ(header(Opcode::kBinary, 65536),
            (Bytes{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
  EXPECT_EQ(header(Opcode::kBinary, uint64_t{1} << 32),
            (Bytes{0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(header(Opcode::kText, 0x0102030405060708ull),
            (Bytes{0x81, 0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}));
}

TEST(EncoderTest, HeaderOpcodesFinSetNoMask) {
  EXPECT_EQ(header(Opcode::kClose, 2), (Bytes{0x88, 0x02}));
  EXPECT_EQ(header(Opcode::kPing, 0), (Bytes{0x89, 0x00}));
  EXPECT_EQ(header(Opcode::kPong, 125), (Bytes{0x8A, 0x7D}));
  for (uint64_t len : {uint64_t{0}, uint64_t{125}, uint64_t{126}, uint64_t{65535}, uint64_t{65536},
                       uint64_t{1} << 32}) {
    const Bytes h = header(Opcode::kBinary, len);
    ASSERT_GE(h.size(), 2u);
    EXPECT_EQ(h[0] & 0x80, 0x80) << "FIN";
    EXPECT_EQ(h[0] & 0x70, 0x00) << "RSV";
    EXPECT_EQ(h[1] & 0x80, 0x00) << "MASK";
  }
}

TEST(EncoderTest, ServerHeaderSize) {
  EXPECT_EQ(serverHeaderSize(0), 2u);
  EXPECT_EQ(serverHeaderSize(125), 2u);
  EXPECT_EQ(serverHeaderSize(126), 4u);
  EXPECT_EQ(serverHeaderSize(65535), 4u);
  EXPECT_EQ(serverHeaderSize(65536), 10u);
  EXPECT_EQ(serverHeaderSize(uint64_t{1} << 32), 10u);
  static_assert(serverHeaderSize(125) == 2 && serverHeaderSize(126) == 4);
  for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{125}, uint64_t{126}, uint64_t{127},
                       uint64_t{65535}, uint64_t{65536}, uint64_t{1} << 32, ~uint64_t{0} >> 1}) {
    EXPECT_EQ(header(Opcode::kText, len).size(), serverHeaderSize(len)) << len;
  }
}

TEST(EncoderTest, ClosePayload) {
  uint8_t out[4] = {0xEE, 0xEE, 0xEE, 0xEE};
  EXPECT_EQ(writeClosePayload(out, kCloseNormal), 2u);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_EQ(out[1], 0xE8);
  EXPECT_EQ(out[2], 0xEE);
  EXPECT_EQ(writeClosePayload(out, kCloseMessageTooBig), 2u);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_EQ(out[1], 0xF1);
  EXPECT_EQ(writeClosePayload(out, 4999), 2u);
  EXPECT_EQ(out[0], 0x13);
  EXPECT_EQ(out[1], 0x87);
  EXPECT_EQ(writeClosePayload(out, 0xABCD), 2u);
  EXPECT_EQ(out[0], 0xAB);
  EXPECT_EQ(out[1], 0xCD);
  EXPECT_EQ(out[2], 0xEE);
}

}  // namespace
}  // namespace mws::ws
