#include "mws/load/client_handshake.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstring>

namespace mws::load {

namespace {

bool equalsNoCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `list` is a comma-separated header value (rfc9110#section-5.6.1).
bool hasToken(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (equalsNoCase(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

ClientKey encodeClientKey(const uint8_t nonce[16]) noexcept {
  unsigned char encoded[kClientKeyLength + 1];  // EVP_EncodeBlock adds a NUL
  EVP_EncodeBlock(encoded, nonce, 16);
  ClientKey key;
  std::memcpy(key.data(), encoded, kClientKeyLength);
  return key;
}

RequestTemplate::RequestTemplate(std::string_view host_header, std::string_view path) {
  prefix_.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host_header);
  prefix_.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  suffix_ = "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

size_t RequestTemplate::render(const ClientKey& key, char* out) const noexcept {
  std::memcpy(out, prefix_.data(), prefix_.size());
  std::memcpy(out + prefix_.size(), key.data(), kClientKeyLength);
  std::memcpy(out + prefix_.size() + kClientKeyLength, suffix_.data(), suffix_.size());
  return size();
}

ResponseCheck checkResponse(std::string_view data, std::string_view expected_accept) noexcept {
  ResponseCheck out;
  const size_t line_end = data.find("\r\n");
  if (line_end == std::string_view::npos) return out;
  // status-line = HTTP-version SP status-code SP [reason-phrase] (rfc9112#section-4)
  const std::string_view line = data.substr(0, line_end);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' ||
      !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) ||
      (line.size() > 12 && line[12] != ' ')) {
    out.verdict = ResponseVerdict::kBadResponse;
    return out;
  }
  out.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  // Any status but 101 means the server did not accept the upgrade (rfc6455#section-4.1).
  if (out.status != 101) {
    out.verdict = ResponseVerdict::kBadStatus;
    return out;
  }
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) return out;

  bool upgrade = false;
  bool connection = false;
  bool accept = false;
  size_t pos = line_end + 2;
  for (;;) {
    const size_t next = data.find("\r\n", pos);
    const std::string_view header = data.substr(pos, next - pos);
    pos = next + 2;
    if (header.empty()) break;
    const size_t colon = header.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      out.verdict = ResponseVerdict::kBadResponse;
      return out;
    }
    const std::string_view name = header.substr(0, colon);
    const std::string_view value = trim(header.substr(colon + 1));
    if (equalsNoCase(name, "upgrade")) {
      upgrade = equalsNoCase(value, "websocket");
    } else if (equalsNoCase(name, "connection")) {
      connection = hasToken(value, "upgrade");
    } else if (equalsNoCase(name, "sec-websocket-accept")) {
      accept = value == expected_accept;
    } else if (equalsNoCase(name, "sec-websocket-extensions") ||
               equalsNoCase(name, "sec-websocket-protocol")) {
      // We asked for neither, so the client must fail the connection (rfc6455#section-4.1).
      out.verdict = ResponseVerdict::kBadResponse;
      return out;
    }
  }
  if (!upgrade || !connection) {
    out.verdict = ResponseVerdict::kBadResponse;
  } else if (!accept) {
    out.verdict = ResponseVerdict::kBadAcceptKey;
  } else {
    out.verdict = ResponseVerdict::kAccepted;
    out.header_bytes = end + 4;
  }
  return out;
}

}  // namespace mws::load
