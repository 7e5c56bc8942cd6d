#include "mws/http/accept_key.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace mws::http {
namespace {

std::string accept(std::string_view key) {
  const AcceptKey k = computeAcceptKey(key);
  return std::string(k.data(), k.size());
}

TEST(AcceptKeyTest, Rfc6455Example) {
  EXPECT_EQ(accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(AcceptKeyTest, OtherKnownVectors) {
  EXPECT_EQ(accept("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(accept("AAAAAAAAAAAAAAAAAAAAAA=="), "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
  EXPECT_EQ(kAcceptKeyLength, 28u);
  // Different keys, different answers.
  EXPECT_NE(accept("AAAAAAAAAAAAAAAAAAAAAA=="), accept("AAAAAAAAAAAAAAAAAAAAAQ=="));
}

TEST(AcceptKeyTest, ValidClientKeys) {
  EXPECT_TRUE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(isValidClientKey("x3JJHMbDL1EzLkh9GBhXDw=="));
  EXPECT_TRUE(isValidClientKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(isValidClientKey("AAECAwQFBgcICQoLDA0ODw=="));  // bytes 0..15
  EXPECT_TRUE(isValidClientKey("/+/+/+/+/+/+/+/+/+/+/w=="));
}

TEST(AcceptKeyTest, InvalidClientKeys) {
  EXPECT_FALSE(isValidClientKey(""));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ="));    // 23 characters
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ==="));  // 25 characters
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ"));     // padding missing
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQAA"));   // 24 chars, no padding: 18 bytes
  EXPECT_FALSE(isValidClientKey(" dGhlIHNhbXBsZSBub25jZQ=="));  // whitespace is the caller's job
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ== "));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j!Q=="));  // bad character
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j-Q=="));  // base64url is not base64
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j_Q=="));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j Q=="));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBs=SBub25jZQ=="));  // padding in the middle
  EXPECT_FALSE(isValidClientKey(std::string_view("dGhlIHNhbXBsZSBub25j\0Q==", 24)));
  EXPECT_FALSE(isValidClientKey("AAECAwQFBgcICQoLDA0O"));      // 15 bytes
  EXPECT_FALSE(isValidClientKey("AAECAwQFBgcICQoLDA0ODxA="));  // 17 bytes
  EXPECT_FALSE(isValidClientKey("AAECAwQFBgcICQoLDA0ODxAR"));  // 18 bytes
  EXPECT_FALSE(isValidClientKey("AAAAAAAAAAAAAAAAAAAAA==="));  // 15 bytes and a stray '='
  EXPECT_FALSE(isValidClientKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));  // 32 bytes
}

}  // namespace
}  // namespace mws::http
