// libFuzzer target for the opening handshake: http::UpgradeParser (llhttp), http::validate
// and the response renderers (rfc6455#section-4.2, RFC 9112).
//
// The request is fed in reads of random sizes, as server/session.cpp feeds it, and again
// in one read; both must reach the same end, at the same byte, with the same request (a
// verdict may not depend on where the reads were cut). A complete request
// is then judged and its response rendered, and checked here independently:
//   - the header block ends with an empty line and holds no bare CR or folded line (RFC 9112
//     2.2, 5.2);
//   - 414 exactly when the target overflowed, 505 exactly for a major version other than 1;
//   - a 101 only for a GET to /echo (origin- or absolute-form) over HTTP/1.1+, one Host, no
//     content, Upgrade/Connection tokens, version 13, one 16-byte base64 key, an allowed
//     Origin; its Sec-WebSocket-Accept recomputed with OpenSSL's EVP interface;
//   - every error response well-framed (status line, Content-Length, Connection: close), and
//     rendering into a buffer of any size writes within it (ASan) or returns 0.
//
// Input: byte 0 = read-size class (bits 0-2), header limit (bits 3-4), Origin allowlist
// (bits 5-6); byte 1 = read-size seed; byte 2 = size of the render buffer; the rest is the
// request.
#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "mws/http/handshake.h"
#include "mws/http/upgrade_parser.h"

namespace {

using mws::http::Route;
using mws::http::UpgradeParser;
using mws::http::UpgradeRequest;
using Status = UpgradeParser::Status;

constexpr size_t kHeaderLimits[4] = {8192, 1024, 256, 64};
const std::vector<std::string> kAllowlists[4] = {
    {}, {"http://a.example"}, {"https://a.example", "http://b.example:8080"}, {"null"}};

struct Run {
  Status status = Status::kNeedMore;
  size_t consumed = 0;  // bytes of the stream that were the request
  std::unique_ptr<UpgradeParser> parser;
};

Run parse(std::span<const uint8_t> stream, size_t limit, mws::fuzz::Chunker chunker) {
  Run run;
  run.parser = std::make_unique<UpgradeParser>(limit);
  size_t pos = 0;
  while (pos < stream.size()) {
    const size_t n = std::min(chunker.next(), stream.size() - pos);
    size_t consumed = SIZE_MAX;
    run.status = run.parser->feed(stream.subspan(pos, n), consumed);
    FUZZ_CHECK(consumed <= n);
    if (run.status == Status::kNeedMore) FUZZ_CHECK(consumed == n);
    run.consumed += consumed;
    pos += n;
    if (run.status != Status::kNeedMore) break;
  }
  return run;
}

bool sameSlot(const auto& a, const auto& b) {
  return a.view() == b.view() && a.overflow == b.overflow;
}

bool sameRequest(const UpgradeRequest& a, const UpgradeRequest& b) {
  return a.method == b.method && a.http_major == b.http_major && a.http_minor == b.http_minor &&
         a.host_count == b.host_count && a.key_count == b.key_count && a.has_body == b.has_body &&
         sameSlot(a.target, b.target) && sameSlot(a.upgrade, b.upgrade) &&
         sameSlot(a.connection, b.connection) && sameSlot(a.key, b.key) &&
         sameSlot(a.version, b.version) && sameSlot(a.origin, b.origin);
}

std::string_view trimmed(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool sameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// RFC 9110 5.6.1: a comma-separated list, items trimmed, compared case-insensitively.
bool hasToken(std::string_view list, std::string_view token) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    if (sameText(trimmed(list.substr(start, end - start)), token)) return true;
    start = end + 1;
  }
  return false;
}

bool isBase64Key(std::string_view key) {  // 16 bytes: 22 characters and "=="
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (const char c : key.substr(0, 22)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return true;
}

// Whether the target names /echo, as "/echo[?query]" or "scheme://host[:port]/echo[?query]".
bool namesEcho(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/echo") return true;
  const size_t sep = path.find("://");
  if (sep == std::string_view::npos) return false;
  const std::string_view scheme = path.substr(0, sep);
  const bool ours = sameText(scheme, "http") || sameText(scheme, "https") ||
                    sameText(scheme, "ws") || sameText(scheme, "wss");
  const std::string_view rest = path.substr(sep + 3);
  const size_t slash = rest.find('/');
  return ours && slash != std::string_view::npos && slash > 0 && rest.substr(slash) == "/echo" &&
         rest.substr(0, slash).find('@') == std::string_view::npos;
}

std::string expectedAccept(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  FUZZ_CHECK(EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr));
  unsigned char encoded[64];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(n));
}

// An error or /health response: status line, Content-Length matching the body,
// Connection: close, and the extra header 405 and 426 need.
void checkErrorResponse(std::string_view text, uint16_t status) {
  const std::string line =
      "HTTP/1.1 " + std::to_string(status) + " " + mws::http::statusText(status) + "\r\n";
  FUZZ_CHECK(text.substr(0, line.size()) == line);
  const size_t end = text.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string_view::npos);
  const std::string_view head = text.substr(0, end + 2);
  const std::string_view body = text.substr(end + 4);
  FUZZ_CHECK(!body.empty() && body.back() == '\n');
  const std::string length = "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  FUZZ_CHECK(head.find(length) != std::string_view::npos);
  FUZZ_CHECK(head.find("\r\nConnection: close\r\n") != std::string_view::npos);
  if (status == 405) FUZZ_CHECK(head.find("\r\nAllow: GET\r\n") != std::string_view::npos);
  if (status == 426) {
    FUZZ_CHECK(head.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string_view::npos);
  }
}

// Renders into a heap buffer of exactly `size` bytes, so that ASan sees any write past it.
template <typename Render>
void renderInto(size_t size, Render render) {
  std::unique_ptr<char[]> buffer(new char[size == 0 ? 1 : size]);
  const size_t n = render(std::span<char>(buffer.get(), size));
  FUZZ_CHECK(n < size || n == 0);
}

void checkVerdict(const UpgradeRequest& r, std::span<const uint8_t> head,
                  const std::vector<std::string>& allowlist, size_t render_size) {
  const mws::http::Verdict v = mws::http::validate(r, allowlist);
  // RFC 9112 2.2 and 5.2: what was accepted holds no bare CR and no obs-fold; the header block
  // ends at an empty line.
  for (size_t i = 1; i < head.size(); ++i) {
    FUZZ_CHECK(!(head[i - 1] == '\r' && head[i] != '\n'));
    FUZZ_CHECK(!(head[i - 1] == '\n' && (head[i] == ' ' || head[i] == '\t')));
  }
  if (!r.target.overflow) FUZZ_CHECK(!head.empty() && head.back() == '\n');
  FUZZ_CHECK((v.status == 414) == r.target.overflow);
  if (!r.target.overflow) FUZZ_CHECK((v.status == 505) == (r.http_major != 1));

  std::array<char, mws::http::kMaxResponseBytes> out;
  switch (v.route) {
    case Route::kEcho: {
      FUZZ_CHECK(v.status == 101);
      FUZZ_CHECK(r.method == HTTP_GET && r.http_major == 1 && r.http_minor >= 1);
      FUZZ_CHECK(namesEcho(r.target.view()));
      FUZZ_CHECK(r.host_count == 1 && r.key_count == 1 && !r.has_body);
      FUZZ_CHECK(!r.upgrade.overflow && hasToken(r.upgrade.view(), "websocket"));
      FUZZ_CHECK(!r.connection.overflow && hasToken(r.connection.view(), "upgrade"));
      FUZZ_CHECK(!r.version.overflow && trimmed(r.version.view()) == "13");
      const std::string_view key = trimmed(r.key.view());
      FUZZ_CHECK(!r.key.overflow && isBase64Key(key));
      if (!allowlist.empty()) {
        const std::string_view origin = trimmed(r.origin.view());
        FUZZ_CHECK(std::any_of(allowlist.begin(), allowlist.end(),
                               [&](const std::string& a) { return sameText(a, origin); }));
      }
      const size_t n = mws::http::renderSwitchingProtocols(out, r.key.view());
      FUZZ_CHECK(std::string_view(out.data(), n) ==
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                 "Upgrade\r\nSec-WebSocket-Accept: " +
                     expectedAccept(key) + "\r\n\r\n");
      renderInto(render_size, [&](std::span<char> buf) {
        return mws::http::renderSwitchingProtocols(buf, r.key.view());
      });
      break;
    }
    case Route::kHealth: {
      FUZZ_CHECK(v.status == 200 && r.method == HTTP_GET);
      for (const bool serving : {true, false}) {
        const size_t n = mws::http::renderHealth(out, serving);
        FUZZ_CHECK(n > 0);
        checkErrorResponse(std::string_view(out.data(), n), serving ? 200 : 503);
        renderInto(render_size,
                   [&](std::span<char> buf) { return mws::http::renderHealth(buf, serving); });
      }
      break;
    }
    case Route::kError: {
      static constexpr uint16_t kStatuses[] = {400, 403, 404, 405, 414, 426, 505};
      FUZZ_CHECK(std::find(std::begin(kStatuses), std::end(kStatuses), v.status) !=
                 std::end(kStatuses));
      FUZZ_CHECK(!v.reason.empty());
      const size_t n = mws::http::renderError(out, v.status, v.reason);
      FUZZ_CHECK(n > 0);
      checkErrorResponse(std::string_view(out.data(), n), v.status);
      renderInto(render_size, [&](std::span<char> buf) {
        return mws::http::renderError(buf, v.status, v.reason);
      });
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t control = data[0];
  const size_t limit = kHeaderLimits[(control >> 3) & 3];
  const std::vector<std::string>& allowlist = kAllowlists[(control >> 5) & 3];
  const size_t render_size = data[2] * 3;  // 0..765: below and above every response
  const std::span<const uint8_t> stream(data + 3, size - 3);

  const Run chunked =
      parse(stream, limit, mws::fuzz::Chunker(data[1], mws::fuzz::maxChunkForClass(control)));
  const Run whole = parse(stream, limit, mws::fuzz::Chunker(0, SIZE_MAX));
  FUZZ_CHECK(chunked.status == whole.status);  // each verdict falls at one byte
  if (chunked.status == Status::kInvalid || chunked.status == Status::kTooLarge) {
    // What server/session.cpp answers a request the parser refused.
    const uint16_t status = chunked.status == Status::kInvalid ? 400 : 431;
    std::array<char, mws::http::kMaxResponseBytes> out;
    const size_t n = mws::http::renderError(out, status, "refused");
    FUZZ_CHECK(n > 0);
    checkErrorResponse(std::string_view(out.data(), n), status);
    return 0;
  }
  if (chunked.status != Status::kComplete) return 0;
  FUZZ_CHECK(chunked.consumed == whole.consumed);
  FUZZ_CHECK(chunked.consumed <= limit);
  FUZZ_CHECK(sameRequest(chunked.parser->request(), whole.parser->request()));
  checkVerdict(chunked.parser->request(), stream.subspan(0, chunked.consumed), allowlist,
               render_size);
  return 0;
}
