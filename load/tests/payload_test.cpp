#include "mws/load/payload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mws/ws/utf8.h"

namespace mws::load {
namespace {

std::vector<uint8_t> payload(size_t len, uint32_t conn, uint32_t seq) {
  std::vector<uint8_t> out(len);
  fillPayload(out, conn, seq);
  return out;
}

TEST(PayloadTest, PrefixNamesConnectionAndSequence) {
  const auto p = payload(24, 0x1234abcd, 7);
  EXPECT_EQ(std::string(p.begin(), p.begin() + 18), "1234abcd:00000007:");
  for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i], payloadByte(i, 0x1234abcd, 7)) << i;
}

TEST(PayloadTest, ValidUtf8ForTextFrames) {
  EXPECT_TRUE(ws::Utf8Validator::isValid(payload(4096, 99, 12345)));
}

TEST(PayloadTest, MatchesAnyPieceAtAnyOffset) {
  const auto p = payload(300, 42, 9);
  for (size_t offset = 0; offset < p.size(); offset += 7) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{5}, size_t{40}}) {
      if (offset + len > p.size()) continue;
      EXPECT_TRUE(matchesPayload({p.data() + offset, len}, offset, 42, 9)) << offset << "+" << len;
    }
  }
}

TEST(PayloadTest, DetectsWrongConnectionSequenceAndCorruption) {
  const auto p = payload(64, 42, 9);
  EXPECT_FALSE(matchesPayload(p, 0, 43, 9));
  EXPECT_FALSE(matchesPayload(p, 0, 42, 10));
  // The letters alone (prefix cut away) still depend on conn and seq.
  EXPECT_FALSE(matchesPayload({p.data() + 20, 44}, 20, 42, 10));
  EXPECT_FALSE(matchesPayload({p.data() + 20, 44}, 20, 43, 9));
  for (size_t i = 0; i < p.size(); ++i) {
    auto bad = p;
    bad[i] ^= 0x01;
    EXPECT_FALSE(matchesPayload(bad, 0, 42, 9)) << i;
  }
}

TEST(PayloadTest, ShortPayloadsAreAPrefix) {
  const auto full = payload(18, 5, 6);
  for (size_t len = 0; len <= 18; ++len) {
    const auto p = payload(len, 5, 6);
    EXPECT_TRUE(std::equal(p.begin(), p.end(), full.begin()));
    EXPECT_TRUE(matchesPayload(p, 0, 5, 6));
  }
}

}  // namespace
}  // namespace mws::load
