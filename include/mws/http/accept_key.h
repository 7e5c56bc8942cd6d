// Sec-WebSocket-Key validation and Sec-WebSocket-Accept computation
// (rfc6455#section-4.2.2): base64(SHA-1(key + GUID)) with OpenSSL. Runs once per
// handshake; uses only stack memory.
#pragma once

#include <array>
#include <string_view>

namespace mws::http {

inline constexpr size_t kAcceptKeyLength = 28;  // base64 of a 20-byte SHA-1
using AcceptKey = std::array<char, kAcceptKeyLength>;

// True if `key` is base64 that decodes to exactly 16 bytes (rfc6455#section-4.1).
bool isValidClientKey(std::string_view key) noexcept;

AcceptKey computeAcceptKey(std::string_view client_key) noexcept;

}  // namespace mws::http
