#include "mws/admin/admin_http.h"

#include <strings.h>

#include <exception>

#include "mws/http/handshake.h"

namespace mws::admin {

namespace {

const char* reasonPhrase(uint16_t status) noexcept {
  switch (status) {
    case 414:
      return "URI Too Long";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return http::statusText(status);
  }
}

AdminReply reply(uint16_t status, std::string_view content_type, std::string_view body,
                 bool head_only, bool close, std::string_view extra_headers = {},
                 bool http10 = false) {
  AdminReply r;
  r.status = status;
  r.close = close;
  r.bytes.reserve(160 + body.size());
  r.bytes += "HTTP/1.1 ";
  r.bytes += std::to_string(status);
  r.bytes += ' ';
  r.bytes += reasonPhrase(status);
  r.bytes += "\r\nContent-Type: ";
  r.bytes += content_type;
  r.bytes += "\r\nContent-Length: ";
  r.bytes += std::to_string(body.size());
  r.bytes += "\r\nCache-Control: no-store\r\n";
  r.bytes += extra_headers;
  if (close) r.bytes += "Connection: close\r\n";
  if (!close && http10) r.bytes += "Connection: keep-alive\r\n";  // 1.0 closes unless told
  r.bytes += "\r\n";
  if (!head_only) r.bytes += body;
  return r;
}

AdminReply error(uint16_t status, std::string_view reason, bool head_only,
                 std::string_view extra_headers = {}) {
  std::string body(reason);
  body += '\n';
  return reply(status, "text/plain; charset=utf-8", body, head_only, true, extra_headers);
}

}  // namespace

std::string_view requestPath(std::string_view target) noexcept {
  if (target.starts_with('/')) return target.substr(0, target.find('?'));
  // Absolute-form (RFC 9112 3.2.2: a server MUST accept it): skip "scheme://authority".
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() &&
        strncasecmp(target.data(), scheme.data(), scheme.size()) == 0) {
      const std::string_view rest = target.substr(scheme.size());
      const size_t slash = rest.find_first_of("/?");
      if (slash == 0) return {};  // no host
      if (slash == std::string_view::npos || rest[slash] == '?') return "/";
      return rest.substr(slash, rest.find('?', slash) - slash);
    }
  }
  return {};
}

AdminReply errorReply(uint16_t status, std::string_view reason) noexcept {
  return error(status, reason, false);
}

AdminReply answer(const http::UpgradeRequest& request, const AdminEndpoints& endpoints) noexcept {
  const bool head_only = request.method == HTTP_HEAD;
  // First: the parser may stop at a target that outgrew its slot, before the version is read.
  if (request.target.overflow) return error(414, "request-target too long", head_only);
  // HTTP/1.x above 1.1 is answered as 1.1 (RFC 9110 2.5); another major version is not ours.
  if (request.http_major != 1) return error(505, "HTTP/1.1 only", head_only);
  // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without exactly one Host.
  if (request.http_minor >= 1 && request.host_count != 1) {
    return error(400, "exactly one Host header required", head_only);
  }
  const std::string_view path = requestPath(request.target.view());
  const bool health = path == "/health";
  if (!health && path != "/metrics")
    return error(404, "not found: try /health or /metrics", head_only);
  if (request.method != HTTP_GET && !head_only) {
    return error(405, "GET or HEAD only", false, "Allow: GET, HEAD\r\n");
  }
  // Nothing here takes a body, and reading past one is framing we need not do.
  if (request.has_body) return error(400, "no request body expected", head_only);
  // HTTP/1.1 keeps the connection unless asked not to; HTTP/1.0 only if asked to.
  const std::string_view connection = request.connection.view();
  const bool http10 = request.http_minor == 0;
  const bool close = http10 ? !http::listHasToken(connection, "keep-alive")
                            : http::listHasToken(connection, "close");
  // The endpoints build JSON and Prometheus text with libraries that report failure (memory,
  // encoding) by throwing: the admin thread answers 500 rather than stop.
  try {
    if (health) {
      const Health h = endpoints.health();
      return reply(static_cast<uint16_t>(h.status), "application/json", h.body, head_only, close,
                   {}, http10);
    }
    return reply(200, "text/plain; version=0.0.4; charset=utf-8", endpoints.metrics(), head_only,
                 close, {}, http10);
  } catch (const std::exception& e) {
    return error(500, e.what(), head_only);
  }
}

}  // namespace mws::admin
