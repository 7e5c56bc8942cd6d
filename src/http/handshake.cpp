#include "mws/http/handshake.h"

#include <strings.h>

#include <cstdio>
#include <cstring>

#include "mws/http/accept_key.h"

namespace mws::http {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isAsciiAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

Verdict error(uint16_t status, std::string_view reason) noexcept {
  return Verdict{Route::kError, status, reason};
}

bool originAllowed(const UpgradeRequest& r, OriginAllowlist allowed) noexcept {
  if (allowed.empty()) return true;
  if (r.origin.overflow || r.origin.length == 0) return false;
  const std::string_view origin = trim(r.origin.view());
  for (const std::string& a : allowed) {
    if (a.size() == origin.size() && strncasecmp(a.data(), origin.data(), a.size()) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool listHasToken(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (item.size() == token.size() && strncasecmp(item.data(), token.data(), token.size()) == 0) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string_view> targetPath(std::string_view target) noexcept {
  target = target.substr(0, target.find('?'));
  if (target.empty() || target.front() == '/') return target;  // origin-form
  // absolute-form (RFC 9112 3.2.2): scheme ":" hier-part, the scheme being ALPHA *( ALPHA /
  // DIGIT / "+" / "-" / "." ) (RFC 3986 3.1). Anything else is asterisk- or authority-form.
  const size_t colon = target.find(':');
  if (colon == std::string_view::npos || colon == 0 || !isAsciiAlpha(target.front())) {
    return target;
  }
  const std::string_view scheme = target.substr(0, colon);
  for (const char c : scheme) {
    if (!isAsciiAlpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') {
      return target;
    }
  }
  // RFC 3986 3.1: schemes are case-insensitive. https and wss too: TLS may end at a proxy in
  // front of us that forwards the absolute-form.
  const bool ours = equalsIgnoreCase(scheme, "http") || equalsIgnoreCase(scheme, "https") ||
                    equalsIgnoreCase(scheme, "ws") || equalsIgnoreCase(scheme, "wss");
  std::string_view rest = target.substr(colon + 1);
  if (!ours || rest.substr(0, 2) != "//") return std::nullopt;  // "http:" "//" authority
  rest.remove_prefix(2);
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  // RFC 9110 4.2.1: an http URI with an empty host MUST be rejected as invalid; 4.2.4: a
  // recipient SHOULD treat userinfo in it as an error.
  if (authority.empty() || authority.front() == ':' || authority.find('@') != authority.npos) {
    return std::nullopt;
  }
  // RFC 9112 3.2.1: an empty path is "/". The Host header is still required and still only
  // one (3.2), and its value is ignored (3.2.2), as we ignore it anyway.
  return slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
}

Verdict validate(const UpgradeRequest& r, OriginAllowlist allowed_origins) noexcept {
  // RFC 9110 15.5.15: a target longer than we are willing to interpret gets 414.
  if (r.target.overflow) return error(414, "request target too long");
  // RFC 9112 2.3 / RFC 9110 15.6.6: a major version we do not speak gets 505. "HTTP/2.0" in
  // a request line is not HTTP/2 (RFC 9113 3.3 starts with a preface; 8.2.2 has no Upgrade)
  // and HTTP/3 never uses this syntax: only HTTP/1.x is served. A higher 1.x minor version
  // is treated as 1.1 (RFC 9110 2.5).
  if (r.http_major != 1) return error(505, "only HTTP/1.x is supported");
  const std::optional<std::string_view> path = targetPath(r.target.view());
  if (!path) return error(400, "invalid absolute-form request target");
  const bool is_get = r.method == HTTP_GET;
  if (*path == "/health") {
    return is_get ? Verdict{Route::kHealth, 200, {}} : error(405, "method not allowed");
  }
  if (*path != "/echo") return error(404, "not found");
  if (!is_get) return error(405, "method not allowed");
  // 4.2.1: an HTTP/1.1 or higher GET request with a Host header.
  if (r.http_minor < 1) return error(400, "HTTP/1.1 or later required");
  // Whatever follows the request is read as WebSocket frames, so it cannot have content: a
  // body would be taken for frames (and "a client SHOULD NOT generate content in a GET
  // request", RFC 9110 9.3.1).
  if (r.has_body) return error(400, "request content not allowed");
  if (r.host_count != 1) return error(400, "exactly one Host header required");
  if (r.upgrade.overflow || !listHasToken(r.upgrade.view(), "websocket")) {
    return error(400, "Upgrade: websocket required");
  }
  if (r.connection.overflow || !listHasToken(r.connection.view(), "upgrade")) {
    return error(400, "Connection: Upgrade required");
  }
  // 4.2.2: a version we do not speak gets 426 and the version we do.
  if (r.version.overflow || trim(r.version.view()) != "13") {
    return error(426, "Sec-WebSocket-Version 13 required");
  }
  if (r.key_count != 1 || r.key.overflow || !isValidClientKey(trim(r.key.view()))) {
    return error(400, "invalid Sec-WebSocket-Key");
  }
  if (!originAllowed(r, allowed_origins)) return error(403, "origin not allowed");
  return Verdict{Route::kEcho, 101, {}};
}

const char* statusText(uint16_t status) noexcept {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

namespace {
size_t finish(int n, std::span<char> out) noexcept {
  return n > 0 && static_cast<size_t>(n) < out.size() ? static_cast<size_t>(n) : 0;
}
}  // namespace

size_t renderSwitchingProtocols(std::span<char> out, std::string_view client_key) noexcept {
  // Once per upgrade, a million times in a ramp: fixed text around the key, no printf.
  // No Sec-WebSocket-Extensions and no Sec-WebSocket-Protocol: we negotiate neither.
  static constexpr std::string_view kHead =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  static constexpr std::string_view kTail = "\r\n\r\n";
  const size_t len = kHead.size() + kAcceptKeyLength + kTail.size();
  if (out.size() < len) return 0;
  const AcceptKey accept = computeAcceptKey(trim(client_key));
  char* p = out.data();
  std::memcpy(p, kHead.data(), kHead.size());
  std::memcpy(p + kHead.size(), accept.data(), accept.size());
  std::memcpy(p + kHead.size() + accept.size(), kTail.data(), kTail.size());
  return len;
}

size_t renderError(std::span<char> out, uint16_t status, std::string_view body) noexcept {
  const char* extra = status == 426   ? "Sec-WebSocket-Version: 13\r\n"
                      : status == 405 ? "Allow: GET\r\n"
                                      : "";
  const int n = std::snprintf(out.data(), out.size(),
                              "HTTP/1.1 %u %s\r\n"
                              "%s"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: %zu\r\n"
                              "Connection: close\r\n\r\n"
                              "%.*s\n",
                              status, statusText(status), extra, body.size() + 1,
                              static_cast<int>(body.size()), body.data());
  return finish(n, out);
}

size_t renderHealth(std::span<char> out, bool serving) noexcept {
  return renderError(out, serving ? 200 : 503, serving ? "ok" : "draining");
}

}  // namespace mws::http
