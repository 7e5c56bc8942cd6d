// The client side of the opening handshake (rfc6455#section-4.1): a GET request
// carrying a fresh base64 nonce, and validation of the server's response (101,
// Upgrade, Connection, Sec-WebSocket-Accept). Sans-I/O; no allocation per handshake.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mws::load {

inline constexpr size_t kClientKeyLength = 24;  // base64 of a 16-byte nonce
using ClientKey = std::array<char, kClientKeyLength>;

ClientKey encodeClientKey(const uint8_t nonce[16]) noexcept;

// The request with everything but the key rendered once at start-up.
class RequestTemplate {
 public:
  RequestTemplate(std::string_view host_header, std::string_view path);

  size_t size() const noexcept { return prefix_.size() + kClientKeyLength + suffix_.size(); }
  // Writes the request into `out` (room for size() bytes) and returns size().
  size_t render(const ClientKey& key, char* out) const noexcept;

 private:
  std::string prefix_;
  std::string suffix_;
};

// The longest response header block accepted.
inline constexpr size_t kMaxResponseBytes = 1024;

enum class ResponseVerdict : uint8_t {
  kIncomplete,    // no blank line yet: read more
  kAccepted,      // 101 with the right Upgrade, Connection and accept key
  kBadStatus,     // a complete status line other than 101
  kBadAcceptKey,  // Sec-WebSocket-Accept missing or not base64(SHA-1(key + GUID))
  kBadResponse,   // malformed, or Upgrade/Connection wrong, or an unrequested extension
};

struct ResponseCheck {
  ResponseVerdict verdict = ResponseVerdict::kIncomplete;
  size_t header_bytes = 0;  // bytes up to and including the blank line (kAccepted only)
  int status = 0;           // the status code once the status line is complete
};

// `expected_accept` is computeAcceptKey(key) for the key that was sent.
ResponseCheck checkResponse(std::string_view data, std::string_view expected_accept) noexcept;

}  // namespace mws::load
