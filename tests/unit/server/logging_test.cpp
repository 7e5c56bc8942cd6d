#include "mws/server/logging.h"

#include <gtest/gtest.h>

#include <string>

namespace mws::server {
namespace {

TEST(JsonEscape, PlainTextIsUnchanged) {
  EXPECT_EQ(jsonEscape(""), "");
  EXPECT_EQ(jsonEscape("listening on 127.0.0.1:8080 (2 reactors)"),
            "listening on 127.0.0.1:8080 (2 reactors)");
}

TEST(JsonEscape, QuotesAndBackslashes) {
  EXPECT_EQ(jsonEscape(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(jsonEscape(R"(C:\dir\)"), R"(C:\\dir\\)");
  EXPECT_EQ(jsonEscape(R"(\")"), R"(\\\")");
}

TEST(JsonEscape, ShortFormsForCommonControls) {
  EXPECT_EQ(jsonEscape("a\nb\rc\td"), R"(a\nb\rc\td)");
}

TEST(JsonEscape, OtherControlsAsUnicodeEscapes) {
  EXPECT_EQ(jsonEscape(std::string("\0", 1)), R"(\u0000)");
  EXPECT_EQ(jsonEscape("\x01\x08\x0c\x1f"), R"(\u0001\u0008\u000c\u001f)");
  EXPECT_EQ(jsonEscape("\x20"), " ");     // the first character that needs nothing
  EXPECT_EQ(jsonEscape("\x7f"), "\x7f");  // DEL is allowed raw in JSON strings
}

TEST(JsonEscape, Utf8PassesThroughByteForByte) {
  EXPECT_EQ(jsonEscape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  // Bytes that are not UTF-8 are not JSON's to judge here: passed on unchanged, never dropped.
  EXPECT_EQ(jsonEscape("\xff\xfe"), "\xff\xfe");
}

TEST(JsonEscape, EveryControlCharacterIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string out = jsonEscape(std::string(1, static_cast<char>(c)));
    ASSERT_GE(out.size(), 2u) << c;
    EXPECT_EQ(out[0], '\\') << c;
    for (const char o : out) EXPECT_GE(static_cast<unsigned char>(o), 0x20) << c;
  }
}

}  // namespace
}  // namespace mws::server
