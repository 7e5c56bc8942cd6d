#include "mws/http/accept_key.h"

// Before any OpenSSL header: see sha1() below.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace mws::http {

namespace {
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// OpenSSL 3's one-shot SHA1() and EVP_Digest*() look the algorithm up in the provider
// tables and allocate and free a digest context on every call (EVP_DigestInit_ex2 too,
// even on a reused EVP_MD_CTX): 0.4-1.2 µs warm, several times that with the cold caches of
// a ramp spread over dozens of processes, where it was 4-6% of the server's CPU. The
// SHA_CTX functions hash on the stack with no lookup and no allocation (~0.2 µs). OpenSSL 3
// marks them deprecated but ships them; this file alone opts in.
void sha1(const unsigned char* data, size_t len,
          unsigned char (&digest)[SHA_DIGEST_LENGTH]) noexcept {
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, data, len);
  SHA1_Final(digest, &ctx);
}

bool isBase64Char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
}  // namespace

bool isValidClientKey(std::string_view key) noexcept {
  // 16 bytes encode to 22 significant characters and "==" of padding.
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!isBase64Char(key[i])) return false;
  }
  unsigned char decoded[24];
  // EVP_DecodeBlock ignores padding in its count: 24 characters always give 18 bytes.
  return EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

AcceptKey computeAcceptKey(std::string_view client_key) noexcept {
  // Valid keys are 24 characters; anything longer is cut, it could not have passed validation.
  unsigned char input[64 + kGuid.size()];
  const size_t key_len = client_key.size() < 64 ? client_key.size() : 64;
  std::memcpy(input, client_key.data(), key_len);
  std::memcpy(input + key_len, kGuid.data(), kGuid.size());
  unsigned char digest[SHA_DIGEST_LENGTH];
  sha1(input, key_len + kGuid.size(), digest);
  unsigned char encoded[kAcceptKeyLength + 1];  // EVP_EncodeBlock writes a terminating NUL
  EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  AcceptKey out;
  std::memcpy(out.data(), encoded, kAcceptKeyLength);
  return out;
}

}  // namespace mws::http
