// Decides what a parsed opening-handshake request deserves (rfc6455#section-4.2)
// and renders the response: 101 with Sec-WebSocket-Accept, or an error status
// with a short body and "Connection: close". Pure functions; no I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mws/http/upgrade_parser.h"

namespace mws::http {

enum class Route : uint8_t { kEcho, kHealth, kError };

struct Verdict {
  Route route = Route::kError;
  uint16_t status = 400;    // for kError
  std::string_view reason;  // short human-readable body for errors
};

// Origins a browser client may come from; empty means any. Owned by the config.
using OriginAllowlist = std::span<const std::string>;

// True if the comma-separated `list` contains `token`, case-insensitively (RFC 9110 5.6.1).
bool listHasToken(std::string_view list, std::string_view token) noexcept;

// The path a request-target names, query dropped (RFC 9112 3.2): "/echo?x=1" -> "/echo", and
// for the absolute-form "http://host:8080/echo?x=1" -> "/echo" ("/" when its path is empty).
// nullopt for an absolute-form that is not an http, https, ws or wss URI with a host and no
// userinfo (400). The other forms (asterisk, authority) come back as they are: no path we serve.
std::optional<std::string_view> targetPath(std::string_view target) noexcept;

Verdict validate(const UpgradeRequest& request, OriginAllowlist allowed_origins) noexcept;

// Response texts. Each returns the bytes written, or 0 if `out` is too small.
inline constexpr size_t kMaxResponseBytes = 512;
size_t renderSwitchingProtocols(std::span<char> out, std::string_view client_key) noexcept;
size_t renderError(std::span<char> out, uint16_t status, std::string_view body) noexcept;
size_t renderHealth(std::span<char> out, bool serving) noexcept;

const char* statusText(uint16_t status) noexcept;

}  // namespace mws::http
