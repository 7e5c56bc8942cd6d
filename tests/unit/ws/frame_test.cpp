#include "mws/ws/frame.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace mws::ws {
namespace {

TEST(FrameTest, IsControl) {
  for (uint8_t op = 0; op < 16; ++op) {
    EXPECT_EQ(isControl(op), op >= 0x8) << int{op};
  }
  EXPECT_FALSE(isControl(static_cast<uint8_t>(Opcode::kContinuation)));
  EXPECT_FALSE(isControl(static_cast<uint8_t>(Opcode::kText)));
  EXPECT_FALSE(isControl(static_cast<uint8_t>(Opcode::kBinary)));
  EXPECT_TRUE(isControl(static_cast<uint8_t>(Opcode::kClose)));
  EXPECT_TRUE(isControl(static_cast<uint8_t>(Opcode::kPing)));
  EXPECT_TRUE(isControl(static_cast<uint8_t>(Opcode::kPong)));
}

TEST(FrameTest, IsKnownOpcodeForAllSixteen) {
  const bool expected[16] = {true, true, true, false, false, false, false, false,
                             true, true, true, false, false, false, false, false};
  for (uint8_t op = 0; op < 16; ++op) {
    EXPECT_EQ(isKnownOpcode(op), expected[op]) << int{op};
  }
}

TEST(FrameTest, IsValidCloseCodeForEveryCodeUpTo5100) {
  int valid = 0;
  for (uint32_t code = 0; code <= 5100; ++code) {
    const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                          (code >= 3000 && code <= 4999);
    EXPECT_EQ(isValidCloseCode(code), expected) << code;
    valid += isValidCloseCode(code) ? 1 : 0;
  }
  EXPECT_EQ(valid, 4 + 8 + 2000);
  EXPECT_FALSE(isValidCloseCode(65535));
  EXPECT_FALSE(isValidCloseCode(0x10000 + 1000));  // not truncated to 16 bits
  EXPECT_FALSE(isValidCloseCode(kCloseNoStatus));
  EXPECT_FALSE(isValidCloseCode(kCloseAbnormal));
}

}  // namespace
}  // namespace mws::ws
