#include "mws/ws/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace mws::ws {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes(std::initializer_list<int> list) {
  Bytes out;
  for (int b : list) out.push_back(static_cast<uint8_t>(b));
  return out;
}

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string hex(const Bytes& b) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (uint8_t c : b) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

// Encodes a code point (no validity checks: used to build test input).
Bytes encode(uint32_t cp) {
  if (cp < 0x80) return {static_cast<uint8_t>(cp)};
  if (cp < 0x800) {
    return {static_cast<uint8_t>(0xC0 | (cp >> 6)), static_cast<uint8_t>(0x80 | (cp & 0x3F))};
  }
  if (cp < 0x10000) {
    return {static_cast<uint8_t>(0xE0 | (cp >> 12)),
            static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)),
            static_cast<uint8_t>(0x80 | (cp & 0x3F))};
  }
  return {static_cast<uint8_t>(0xF0 | (cp >> 18)), static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F)),
          static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)),
          static_cast<uint8_t>(0x80 | (cp & 0x3F))};
}

// Independent reference: decodes code points by value and applies the Unicode rules
// (shortest form, no surrogates, at most U+10FFFF) to the decoded value.
enum class Ref : uint8_t { kValid, kInvalid, kTruncated };

Ref refDecode(const Bytes& s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = s[i];
    size_t extra;
    uint32_t cp;
    uint32_t min;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
      min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
      min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
      min = 0x10000;
    } else {
      return Ref::kInvalid;
    }
    size_t k = 1;
    for (; k <= extra && i + k < s.size(); ++k) {
      const uint8_t c = s[i + k];
      if ((c & 0xC0) != 0x80) return Ref::kInvalid;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (k <= extra) return Ref::kTruncated;  // ran out of input inside the sequence
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Ref::kInvalid;
    i += extra + 1;
  }
  return Ref::kValid;
}

bool refComplete(const Bytes& s) { return refDecode(s) == Ref::kValid; }

// True if some continuation of `s` is valid UTF-8. Only the second byte of a sequence is
// ever constrained beyond 80..BF, so trying every value for the first missing byte and
// 0x80 for the rest is exhaustive.
bool refValidPrefix(const Bytes& s) {
  const Ref r = refDecode(s);
  if (r != Ref::kTruncated) return r == Ref::kValid;
  Bytes t = s;
  for (size_t k = 1; k <= 3; ++k) {
    for (int c = 0x80; c <= 0xBF; ++c) {
      t.resize(s.size());
      t.push_back(static_cast<uint8_t>(c));
      for (size_t j = 1; j < k; ++j) t.push_back(0x80);
      if (refComplete(t)) return true;
    }
  }
  return false;
}

// Feeds `s` in one call; checks the return value and state against the reference.
void checkAgainstReference(const Bytes& s) {
  uint8_t state = Utf8Validator::kAccept;
  const bool ok = Utf8Validator::feed(state, s);
  const bool prefix = refValidPrefix(s);
  ASSERT_EQ(ok, prefix) << hex(s);
  if (ok) {
    ASSERT_EQ(state == Utf8Validator::kAccept, refComplete(s)) << hex(s);
  } else {
    ASSERT_EQ(state, Utf8Validator::kReject) << hex(s);
  }
  ASSERT_EQ(Utf8Validator::isValid(s), refComplete(s)) << hex(s);
}

// Feeds one byte at a time; returns the index of the byte where feed first returned
// false, or s.size() if it never did. Leaves the final state in `state`.
size_t firstRejectedByte(const Bytes& s, uint8_t& state) {
  state = Utf8Validator::kAccept;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!Utf8Validator::feed(state, std::span<const uint8_t>(&s[i], 1))) return i;
  }
  return s.size();
}

TEST(Utf8Test, EmptyIsValid) {
  EXPECT_TRUE(Utf8Validator::isValid({}));
  uint8_t state = Utf8Validator::kAccept;
  EXPECT_TRUE(Utf8Validator::feed(state, {}));
  EXPECT_EQ(state, Utf8Validator::kAccept);
}

TEST(Utf8Test, ValidAsciiAndMultiByte) {
  EXPECT_TRUE(Utf8Validator::isValid(bytes(std::string("hello, world"))));
  EXPECT_TRUE(Utf8Validator::isValid(bytes(std::string("\x00\x01\x7F", 3))));
  EXPECT_TRUE(Utf8Validator::isValid(bytes({0xC3, 0xA9})));              // é
  EXPECT_TRUE(Utf8Validator::isValid(bytes({0xE2, 0x82, 0xAC})));        // €
  EXPECT_TRUE(Utf8Validator::isValid(bytes({0xF0, 0x9F, 0x98, 0x80})));  // 😀
  EXPECT_TRUE(Utf8Validator::isValid(bytes(std::string("Ünïcödé ✓ 𝄞 κόσμε"))));
}

TEST(Utf8Test, Boundaries) {
  struct Case {
    uint32_t cp;
    Bytes encoded;
  };
  const Case cases[] = {
      {0x0000, bytes({0x00})},
      {0x007F, bytes({0x7F})},
      {0x0080, bytes({0xC2, 0x80})},
      {0x07FF, bytes({0xDF, 0xBF})},
      {0x0800, bytes({0xE0, 0xA0, 0x80})},
      {0xD7FF, bytes({0xED, 0x9F, 0xBF})},
      {0xE000, bytes({0xEE, 0x80, 0x80})},
      {0xFFFD, bytes({0xEF, 0xBF, 0xBD})},
      {0xFFFF, bytes({0xEF, 0xBF, 0xBF})},
      {0x10000, bytes({0xF0, 0x90, 0x80, 0x80})},
      {0xFFFFF, bytes({0xF3, 0xBF, 0xBF, 0xBF})},
      {0x100000, bytes({0xF4, 0x80, 0x80, 0x80})},
      {0x10FFFF, bytes({0xF4, 0x8F, 0xBF, 0xBF})},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(encode(c.cp), c.encoded) << std::hex << c.cp;
    EXPECT_TRUE(Utf8Validator::isValid(c.encoded)) << hex(c.encoded);
    uint8_t state = Utf8Validator::kAccept;
    EXPECT_TRUE(Utf8Validator::feed(state, c.encoded)) << hex(c.encoded);
    EXPECT_EQ(state, Utf8Validator::kAccept) << hex(c.encoded);
  }
}

TEST(Utf8Test, Invalid) {
  const Bytes cases[] = {
      // Overlong encodings.
      bytes({0xC0, 0x80}),
      bytes({0xC0, 0xAF}),
      bytes({0xC1, 0xBF}),
      bytes({0xE0, 0x80, 0x80}),
      bytes({0xE0, 0x9F, 0xBF}),
      bytes({0xF0, 0x80, 0x80, 0x80}),
      bytes({0xF0, 0x8F, 0xBF, 0xBF}),
      // Surrogates U+D800..U+DFFF.
      bytes({0xED, 0xA0, 0x80}),
      bytes({0xED, 0xAD, 0xBF}),
      bytes({0xED, 0xB0, 0x80}),
      bytes({0xED, 0xBF, 0xBF}),
      bytes({0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}),  // a surrogate pair (CESU-8)
      // Above U+10FFFF.
      bytes({0xF4, 0x90, 0x80, 0x80}),
      bytes({0xF4, 0xBF, 0xBF, 0xBF}),
      bytes({0xF5, 0x80, 0x80, 0x80}),
      bytes({0xF7, 0xBF, 0xBF, 0xBF}),
      bytes({0xF8, 0x88, 0x80, 0x80, 0x80}),
      bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}),
      bytes({0xFE}),
      bytes({0xFF}),
      // Lone continuation bytes.
      bytes({0x80}),
      bytes({0xBF}),
      bytes({'a', 0x80, 'b'}),
      bytes({0xC3, 0xA9, 0xA9}),
      // A lead byte followed by a non-continuation.
      bytes({0xC3, 'a'}),
      bytes({0xE2, 0x82, 'a'}),
      bytes({0xF0, 0x9F, 0x98, 'a'}),
      bytes({0xE2, 0xC3, 0xA9}),
  };
  for (const Bytes& s : cases) {
    EXPECT_FALSE(Utf8Validator::isValid(s)) << hex(s);
    uint8_t state = Utf8Validator::kAccept;
    EXPECT_FALSE(Utf8Validator::feed(state, s)) << hex(s);
    EXPECT_EQ(state, Utf8Validator::kReject) << hex(s);
  }
  // Every byte F5..FF is invalid anywhere, also after valid text.
  for (int b = 0xF5; b <= 0xFF; ++b) {
    const Bytes s = bytes({'o', 'k', b});
    EXPECT_FALSE(Utf8Validator::isValid(s)) << hex(s);
  }
  // C0 and C1 can never start a sequence.
  for (int c = 0x80; c <= 0xBF; ++c) {
    EXPECT_FALSE(Utf8Validator::isValid(bytes({0xC0, c})));
    EXPECT_FALSE(Utf8Validator::isValid(bytes({0xC1, c})));
  }
}

TEST(Utf8Test, TruncatedSequencesAreIncompleteNotRejected) {
  const Bytes cases[] = {
      bytes({0xC3}),
      bytes({0xE2}),
      bytes({0xE2, 0x82}),
      bytes({0xE0, 0xA0}),
      bytes({0xED, 0x9F}),
      bytes({0xF0}),
      bytes({0xF0, 0x9F}),
      bytes({0xF0, 0x9F, 0x98}),
      bytes({0xF4, 0x8F, 0xBF}),
      bytes({'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0xE2, 0x82}),
  };
  for (const Bytes& s : cases) {
    uint8_t state = Utf8Validator::kAccept;
    EXPECT_TRUE(Utf8Validator::feed(state, s)) << hex(s);
    EXPECT_NE(state, Utf8Validator::kAccept) << hex(s);
    EXPECT_NE(state, Utf8Validator::kReject) << hex(s);
    EXPECT_FALSE(Utf8Validator::isValid(s)) << hex(s);
  }
  // The states name what is still missing.
  uint8_t state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xE0})));
  EXPECT_EQ(state, Utf8Validator::kAfterE0);
  state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xED})));
  EXPECT_EQ(state, Utf8Validator::kAfterED);
  state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xF0})));
  EXPECT_EQ(state, Utf8Validator::kAfterF0);
  state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xF4})));
  EXPECT_EQ(state, Utf8Validator::kAfterF4);
  state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xF1, 0x80})));
  EXPECT_EQ(state, Utf8Validator::kNeed2);
  state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xE1, 0x80})));
  EXPECT_EQ(state, Utf8Validator::kNeed1);
}

// Every 1- and 2-byte input, and 3/4-byte inputs around every interesting lead byte,
// against the reference decoder.
TEST(Utf8Test, ExhaustiveShortInputsMatchReference) {
  for (int a = 0; a < 256; ++a) {
    checkAgainstReference(bytes({a}));
    if (HasFatalFailure()) return;
    for (int b = 0; b < 256; ++b) {
      checkAgainstReference(bytes({a, b}));
      if (HasFatalFailure()) return;
    }
  }
  const int interesting[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  for (int lead : {0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4}) {
    for (int b = 0; b < 256; ++b) {
      for (int c : interesting) {
        checkAgainstReference(bytes({lead, b, c}));
        if (HasFatalFailure()) return;
      }
    }
  }
  for (int lead : {0xF0, 0xF1, 0xF3, 0xF4}) {
    for (int b : interesting) {
      for (int c : interesting) {
        for (int d : interesting) {
          checkAgainstReference(bytes({lead, b, c, d}));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(Utf8Test, IncrementalSplitsMatchOneShot) {
  const std::vector<Bytes> strings = {
      bytes(std::string("aé€😀b")),
      bytes(std::string("κόσμε 🎉🎉 ✓ x")),
      bytes(std::string("\xF4\x8F\xBF\xBF\xEF\xBF\xBF\xDF\xBF\x7F\xF0\x90\x80\x80\xE0\xA0\x80")),
      bytes(std::string("0123456789abcdef€0123456789abcdef😀")),
      // Invalid ones must give the same verdict too.
      bytes(std::string("abc\xED\xA0\x80")),
      bytes(std::string("abcdefghij\xF4\x90\x80\x80")),
      bytes(std::string("€\xE2\x82")),
  };
  for (const Bytes& s : strings) {
    uint8_t one_state = Utf8Validator::kAccept;
    const bool one_ok = Utf8Validator::feed(one_state, s);
    for (size_t cut = 0; cut <= s.size(); ++cut) {
      uint8_t state = Utf8Validator::kAccept;
      const std::span<const uint8_t> all(s);
      bool ok = Utf8Validator::feed(state, all.first(cut));
      if (ok) ok = Utf8Validator::feed(state, all.subspan(cut));
      EXPECT_EQ(ok, one_ok) << hex(s) << " cut " << cut;
      EXPECT_EQ(state, one_state) << hex(s) << " cut " << cut;
    }
    // Three pieces.
    for (size_t i = 0; i <= s.size(); ++i) {
      for (size_t j = i; j <= s.size(); ++j) {
        uint8_t state = Utf8Validator::kAccept;
        const std::span<const uint8_t> all(s);
        bool ok = Utf8Validator::feed(state, all.subspan(0, i));
        if (ok) ok = Utf8Validator::feed(state, all.subspan(i, j - i));
        if (ok) ok = Utf8Validator::feed(state, all.subspan(j));
        EXPECT_EQ(ok, one_ok) << hex(s) << " cuts " << i << "," << j;
        EXPECT_EQ(state, one_state) << hex(s) << " cuts " << i << "," << j;
      }
    }
  }
  // The valid ones are valid.
  EXPECT_TRUE(Utf8Validator::isValid(strings[0]));
  EXPECT_TRUE(Utf8Validator::isValid(strings[1]));
  EXPECT_TRUE(Utf8Validator::isValid(strings[2]));
  EXPECT_TRUE(Utf8Validator::isValid(strings[3]));
}

TEST(Utf8Test, FailsFastAtTheFirstInvalidByte) {
  // One call: false even though valid text follows, and the state stays rejected.
  const Bytes s = bytes(std::string("abc\xC0\x80 and then a lot of perfectly valid text"));
  uint8_t state = Utf8Validator::kAccept;
  EXPECT_FALSE(Utf8Validator::feed(state, s));
  EXPECT_EQ(state, Utf8Validator::kReject);
  // Sticky: more valid input does not bring it back.
  EXPECT_FALSE(Utf8Validator::feed(state, bytes(std::string("more valid text"))));
  EXPECT_EQ(state, Utf8Validator::kReject);

  // Byte by byte, the first false is at the offending byte.
  struct Case {
    Bytes s;
    size_t bad;
  };
  const Case cases[] = {
      {bytes(std::string("abc\xC0\x80xyz")), 3},
      {bytes(std::string("abc\xE0\x80\x80xyz")), 4},  // E0 is a fine lead; 80 is not A0-BF
      {bytes(std::string("\xED\xA0\x80")), 1},
      {bytes(std::string("ok\xF4\x90\x80\x80")), 3},
      {bytes(std::string("0123456789\xF5zz")), 10},
      {bytes(std::string("\xE2\x82\xAC\x80")), 3},
      {bytes(std::string("\xF0\x9F\x98z")), 3},
  };
  for (const Case& c : cases) {
    uint8_t st = 0;
    EXPECT_EQ(firstRejectedByte(c.s, st), c.bad) << hex(c.s);
    EXPECT_EQ(st, Utf8Validator::kReject) << hex(c.s);
  }
}

TEST(Utf8Test, LongAsciiRunsWithAnInvalidByteAtEachPosition) {
  for (size_t len : {9u, 16u, 17u, 24u, 31u, 40u}) {
    for (size_t pos = 0; pos <= 20 && pos < len; ++pos) {
      for (uint8_t bad : {uint8_t{0x80}, uint8_t{0xBF}, uint8_t{0xC0}, uint8_t{0xC1}, uint8_t{0xF5},
                          uint8_t{0xFF}}) {
        Bytes s(len, 'a');
        s[pos] = bad;
        EXPECT_FALSE(Utf8Validator::isValid(s)) << len << " " << pos << " " << hex(s);
        uint8_t state = Utf8Validator::kAccept;
        EXPECT_FALSE(Utf8Validator::feed(state, s)) << len << " " << pos;
        EXPECT_EQ(state, Utf8Validator::kReject);
        uint8_t st = 0;
        EXPECT_EQ(firstRejectedByte(s, st), pos) << len << " " << pos;
      }
      // A lead byte followed by ASCII: the fast path must not skip while mid-sequence.
      for (uint8_t lead : {uint8_t{0xC3}, uint8_t{0xE2}, uint8_t{0xF0}}) {
        Bytes s(len, 'a');
        s[pos] = lead;
        uint8_t state = Utf8Validator::kAccept;
        const bool ok = Utf8Validator::feed(state, s);
        if (pos + 1 < len) {
          EXPECT_FALSE(ok) << len << " " << pos << " " << hex(s);
          EXPECT_EQ(state, Utf8Validator::kReject);
        } else {
          EXPECT_TRUE(ok);  // truncated at the very end
          EXPECT_NE(state, Utf8Validator::kAccept);
        }
      }
      // A valid code point at each position in a run is fine.
      for (uint32_t cp : {0xE9u, 0x20ACu, 0x1F600u}) {
        Bytes s(len, 'a');
        const Bytes e = encode(cp);
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), e.begin(), e.end());
        EXPECT_TRUE(Utf8Validator::isValid(s)) << hex(s);
      }
    }
  }
  // A long valid run, and the same run fed after a pending lead byte.
  const Bytes run(100, 'z');
  EXPECT_TRUE(Utf8Validator::isValid(run));
  uint8_t state = Utf8Validator::kAccept;
  ASSERT_TRUE(Utf8Validator::feed(state, bytes({0xE2, 0x82})));
  EXPECT_FALSE(Utf8Validator::feed(state, run));
  EXPECT_EQ(state, Utf8Validator::kReject);
}

}  // namespace
}  // namespace mws::ws
