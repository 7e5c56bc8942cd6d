#include "mws/http/handshake.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mws/http/upgrade_parser.h"

namespace mws::http {
namespace {

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

// Parses raw request text into the UpgradeRequest the server would validate.
UpgradeRequest parse(const std::string& text) {
  auto parser = std::make_unique<UpgradeParser>(8192);
  size_t consumed = 0;
  const auto status = parser->feed(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
      consumed);
  EXPECT_EQ(status, UpgradeParser::Status::kComplete) << text;
  return parser->request();
}

// A request line plus header lines, each without CRLF.
std::string request(const std::string& request_line, const std::vector<std::string>& headers) {
  std::string out = request_line + "\r\n";
  for (const std::string& h : headers) out += h + "\r\n";
  return out + "\r\n";
}

std::vector<std::string> goodHeaders() {
  return {"Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
          "Sec-WebSocket-Key: " + std::string(kKey), "Sec-WebSocket-Version: 13"};
}

std::vector<std::string> without(const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& h : goodHeaders()) {
    if (h.rfind(prefix, 0) != 0) out.push_back(h);
  }
  return out;
}

std::vector<std::string> with(std::vector<std::string> headers, const std::string& extra) {
  headers.push_back(extra);
  return headers;
}

std::vector<std::string> replaced(const std::string& prefix, const std::string& line) {
  return with(without(prefix), line);
}

struct Case {
  const char* name;
  std::string text;
  Route route;
  uint16_t status;
};

TEST(HandshakeTest, ValidateTable) {
  const std::string get = "GET /echo HTTP/1.1";
  const Case cases[] = {
      {"valid", request(get, goodHeaders()), Route::kEcho, 101},
      {"health GET", request("GET /health HTTP/1.1", {"Host: h"}), Route::kHealth, 200},
      {"health with query", request("GET /health?full=1 HTTP/1.1", {"Host: h"}), Route::kHealth,
       200},
      {"health HTTP/1.0", request("GET /health HTTP/1.0", {}), Route::kHealth, 200},
      {"health POST", request("POST /health HTTP/1.1", {"Host: h", "Content-Length: 0"}),
       Route::kError, 405},
      {"unknown path", request("GET /nope HTTP/1.1", goodHeaders()), Route::kError, 404},
      {"echo with trailing slash", request("GET /echo/ HTTP/1.1", goodHeaders()), Route::kError,
       404},
      {"root", request("GET / HTTP/1.1", goodHeaders()), Route::kError, 404},
      {"POST echo", request("POST /echo HTTP/1.1", goodHeaders()), Route::kError, 405},
      {"HTTP/1.0", request("GET /echo HTTP/1.0", goodHeaders()), Route::kError, 400},
      {"missing Host", request(get, without("Host:")), Route::kError, 400},
      {"two Hosts", request(get, with(goodHeaders(), "Host: other.example")), Route::kError, 400},
      {"missing Upgrade", request(get, without("Upgrade:")), Route::kError, 400},
      {"Upgrade: WebSocket", request(get, replaced("Upgrade:", "Upgrade: WebSocket")), Route::kEcho,
       101},
      {"Upgrade list", request(get, replaced("Upgrade:", "Upgrade: h2c, websocket")), Route::kEcho,
       101},
      {"Upgrade wrong", request(get, replaced("Upgrade:", "Upgrade: h2c")), Route::kError, 400},
      {"Connection keep-alive, Upgrade",
       request(get, replaced("Connection:", "Connection: keep-alive, Upgrade")), Route::kEcho, 101},
      {"Connection lower case", request(get, replaced("Connection:", "Connection: upgrade")),
       Route::kEcho, 101},
      {"Connection split over two lines",
       request(get, with(replaced("Connection:", "Connection: keep-alive"), "Connection: Upgrade")),
       Route::kEcho, 101},
      {"Connection without upgrade",
       request(get, replaced("Connection:", "Connection: keep-alive")), Route::kError, 400},
      {"Connection missing", request(get, without("Connection:")), Route::kError, 400},
      {"version 8", request(get, replaced("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8")),
       Route::kError, 426},
      {"version 13 and 8", request(get, with(goodHeaders(), "Sec-WebSocket-Version: 8")),
       Route::kError, 426},
      {"missing version", request(get, without("Sec-WebSocket-Version:")), Route::kError, 426},
      {"missing key", request(get, without("Sec-WebSocket-Key:")), Route::kError, 400},
      {"bad key", request(get, replaced("Sec-WebSocket-Key:", "Sec-WebSocket-Key: abc")),
       Route::kError, 400},
      {"17-byte key",
       request(get, replaced("Sec-WebSocket-Key:", "Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODxA=")),
       Route::kError, 400},
      {"two keys", request(get, with(goodHeaders(), "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==")),
       Route::kError, 400},
      {"query string", request("GET /echo?x=1 HTTP/1.1", goodHeaders()), Route::kEcho, 101},
      // RFC 9110 15.5.15: 414, not 404, for a target longer than we interpret.
      {"long target", request("GET /echo?" + std::string(600, 'q') + " HTTP/1.1", goodHeaders()),
       Route::kError, 414},
      {"long target on health", request("GET /health?" + std::string(600, 'q') + " HTTP/1.1", {}),
       Route::kError, 414},
      {"longest target", request("GET /echo?" + std::string(506, 'q') + " HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      // RFC 9112 3.2.2: a server MUST accept the absolute-form.
      {"absolute-form", request("GET http://example.com/echo HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      {"absolute-form with port and query",
       request("GET http://example.com:8080/echo?x=1 HTTP/1.1", goodHeaders()), Route::kEcho, 101},
      {"absolute-form scheme case", request("GET HTTP://example.com/echo HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      {"absolute-form ws", request("GET ws://example.com/echo HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      {"absolute-form https", request("GET https://example.com/echo HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      {"absolute-form IPv6", request("GET http://[::1]:8080/echo HTTP/1.1", goodHeaders()),
       Route::kEcho, 101},
      {"absolute-form health", request("GET http://h/health HTTP/1.1", {"Host: h"}), Route::kHealth,
       200},
      {"absolute-form empty path is /", request("GET http://h HTTP/1.1", goodHeaders()),
       Route::kError, 404},
      {"absolute-form other path", request("GET http://h/nope HTTP/1.1", goodHeaders()),
       Route::kError, 404},
      {"absolute-form still needs Host",
       request("GET http://example.com/echo HTTP/1.1", without("Host:")), Route::kError, 400},
      {"absolute-form other scheme", request("GET ftp://h/echo HTTP/1.1", goodHeaders()),
       Route::kError, 400},
      {"absolute-form empty host", request("GET http:///echo HTTP/1.1", goodHeaders()),
       Route::kError, 400},
      {"absolute-form port only", request("GET http://:80/echo HTTP/1.1", goodHeaders()),
       Route::kError, 400},
      {"absolute-form userinfo", request("GET http://u:p@h/echo HTTP/1.1", goodHeaders()),
       Route::kError, 400},
      {"asterisk-form", request("OPTIONS * HTTP/1.1", {"Host: h"}), Route::kError, 404},
      // RFC 9112 2.3, RFC 9110 15.6.6: a major version other than 1 gets 505.
      {"HTTP/2.0", request("GET /echo HTTP/2.0", goodHeaders()), Route::kError, 505},
      {"HTTP/3.0", request("GET /echo HTTP/3.0", goodHeaders()), Route::kError, 505},
      {"HTTP/0.9", request("GET /echo HTTP/0.9", goodHeaders()), Route::kError, 505},
      {"health HTTP/2.0", request("GET /health HTTP/2.0", {"Host: h"}), Route::kError, 505},
      // RFC 9110 2.5: a higher minor version is handled as the highest we implement.
      {"HTTP/1.2", request("GET /echo HTTP/1.2", goodHeaders()), Route::kEcho, 101},
      // Bytes after the request are frames: a request with content cannot be upgraded.
      {"Content-Length", request(get, with(goodHeaders(), "Content-Length: 5")), Route::kError,
       400},
      {"Content-Length 0", request(get, with(goodHeaders(), "Content-Length: 0")), Route::kEcho,
       101},
      {"Transfer-Encoding", request(get, with(goodHeaders(), "Transfer-Encoding: chunked")),
       Route::kError, 400},
      {"POST with content",
       request("POST /echo HTTP/1.1", with(goodHeaders(), "Content-Length: 5")), Route::kError,
       405},
  };
  for (const Case& c : cases) {
    const UpgradeRequest r = parse(c.text);
    const Verdict v = validate(r, {});
    EXPECT_EQ(v.route, c.route) << c.name;
    EXPECT_EQ(v.status, c.status) << c.name;
    if (c.route == Route::kError) {
      EXPECT_FALSE(v.reason.empty()) << c.name;
    }
  }
}

TEST(HandshakeTest, OriginAllowlist) {
  const std::vector<std::string> allowed = {"https://a.example", "https://b.example"};
  const std::string get = "GET /echo HTTP/1.1";
  struct OriginCase {
    const char* name;
    std::vector<std::string> headers;
    Route route;
    uint16_t status;
  };
  const OriginCase cases[] = {
      {"allowed", with(goodHeaders(), "Origin: https://a.example"), Route::kEcho, 101},
      {"second allowed", with(goodHeaders(), "Origin: https://b.example"), Route::kEcho, 101},
      {"other", with(goodHeaders(), "Origin: https://evil.example"), Route::kError, 403},
      {"prefix of allowed", with(goodHeaders(), "Origin: https://a.exampl"), Route::kError, 403},
      {"allowed plus suffix", with(goodHeaders(), "Origin: https://a.example.evil"), Route::kError,
       403},
      {"missing", goodHeaders(), Route::kError, 403},
  };
  for (const OriginCase& c : cases) {
    const Verdict v = validate(parse(request(get, c.headers)), allowed);
    EXPECT_EQ(v.route, c.route) << c.name;
    EXPECT_EQ(v.status, c.status) << c.name;
  }
  // No allowlist: any origin, or none.
  EXPECT_EQ(
      validate(parse(request(get, with(goodHeaders(), "Origin: https://evil.example"))), {}).status,
      101);
  EXPECT_EQ(validate(parse(request(get, goodHeaders())), {}).status, 101);
  // The health check is not subject to the allowlist.
  EXPECT_EQ(validate(parse(request("GET /health HTTP/1.1", {"Host: h"})), allowed).route,
            Route::kHealth);
}

TEST(HandshakeTest, ListHasToken) {
  EXPECT_TRUE(listHasToken("Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken("UPGRADE", "upgrade"));
  EXPECT_TRUE(listHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken("keep-alive,Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken("Upgrade, keep-alive", "upgrade"));
  EXPECT_TRUE(listHasToken("  upgrade\t , x", "upgrade"));
  EXPECT_TRUE(listHasToken("a,,upgrade,", "upgrade"));
  EXPECT_TRUE(listHasToken("websocket", "websocket"));
  EXPECT_FALSE(listHasToken("", "upgrade"));
  EXPECT_FALSE(listHasToken("keep-alive", "upgrade"));
  EXPECT_FALSE(listHasToken("upgraded", "upgrade"));
  EXPECT_FALSE(listHasToken("upgrad", "upgrade"));
  EXPECT_FALSE(listHasToken("up grade", "upgrade"));
  EXPECT_FALSE(listHasToken("keep-alive upgrade", "upgrade"));
  EXPECT_FALSE(listHasToken("x-upgrade", "upgrade"));
}

TEST(HandshakeTest, TargetPath) {
  const std::optional<std::string_view> invalid;
  // origin-form
  EXPECT_EQ(targetPath("/echo?x=1"), "/echo");
  EXPECT_EQ(targetPath("/echo"), "/echo");
  EXPECT_EQ(targetPath("/echo?"), "/echo");
  EXPECT_EQ(targetPath("/a?b?c"), "/a");
  EXPECT_EQ(targetPath("/a:b"), "/a:b");
  EXPECT_EQ(targetPath("?x"), "");
  EXPECT_EQ(targetPath(""), "");
  // absolute-form (RFC 9112 3.2.2)
  EXPECT_EQ(targetPath("http://h/echo"), "/echo");
  EXPECT_EQ(targetPath("http://h:80/echo?x=1"), "/echo");
  EXPECT_EQ(targetPath("hTTp://h/a/b"), "/a/b");
  EXPECT_EQ(targetPath("wss://h/echo"), "/echo");
  EXPECT_EQ(targetPath("http://h"), "/");
  EXPECT_EQ(targetPath("http://h?x=/echo"), "/");
  EXPECT_EQ(targetPath("http://[::1]:8080/echo"), "/echo");
  EXPECT_EQ(targetPath("http:"), invalid);
  EXPECT_EQ(targetPath("http:/echo"), invalid);
  EXPECT_EQ(targetPath("http:echo"), invalid);
  EXPECT_EQ(targetPath("http:///echo"), invalid);
  EXPECT_EQ(targetPath("http://:8080/echo"), invalid);
  EXPECT_EQ(targetPath("http://user@h/echo"), invalid);
  EXPECT_EQ(targetPath("file://h/echo"), invalid);
  EXPECT_EQ(targetPath("h:443"), invalid);  // authority-form is for CONNECT only (3.2.3)
  // neither: served by nobody
  EXPECT_EQ(targetPath("*"), "*");
  EXPECT_EQ(targetPath("echo"), "echo");
  EXPECT_EQ(targetPath(":x"), ":x");
  EXPECT_EQ(targetPath("1http://h/echo"), "1http://h/echo");
}

TEST(HandshakeTest, RenderSwitchingProtocolsExactBytes) {
  std::array<char, kMaxResponseBytes> out{};
  const size_t n = renderSwitchingProtocols(out, kKey);
  EXPECT_EQ(std::string_view(out.data(), n),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
  // Whitespace around the key (as a header value may carry) is ignored.
  std::array<char, kMaxResponseBytes> out2{};
  const size_t n2 = renderSwitchingProtocols(out2, " dGhlIHNhbXBsZSBub25jZQ==\t");
  EXPECT_EQ(std::string_view(out2.data(), n2), std::string_view(out.data(), n));
  // Too small a buffer: nothing.
  std::array<char, 40> small{};
  EXPECT_EQ(renderSwitchingProtocols(small, kKey), 0u);
}

// Splits a response into head and body and checks the framing.
void checkErrorResponse(std::string_view text, uint16_t status, std::string_view reason_phrase,
                        std::string_view body) {
  const size_t end = text.find("\r\n\r\n");
  ASSERT_NE(end, std::string_view::npos) << text;
  const std::string_view head = text.substr(0, end + 2);
  const std::string_view actual_body = text.substr(end + 4);
  const std::string status_line =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase) + "\r\n";
  EXPECT_EQ(head.substr(0, status_line.size()), status_line) << text;
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(actual_body.size()) + "\r\n"),
            std::string_view::npos)
      << text;
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string_view::npos) << text;
  EXPECT_NE(head.find("\r\nContent-Type: text/plain\r\n"), std::string_view::npos) << text;
  EXPECT_EQ(actual_body, std::string(body) + "\n");
}

TEST(HandshakeTest, RenderError) {
  struct ErrCase {
    uint16_t status;
    const char* phrase;
  };
  for (const ErrCase& c :
       {ErrCase{400, "Bad Request"}, ErrCase{403, "Forbidden"}, ErrCase{404, "Not Found"},
        ErrCase{405, "Method Not Allowed"}, ErrCase{408, "Request Timeout"},
        ErrCase{414, "URI Too Long"}, ErrCase{426, "Upgrade Required"},
        ErrCase{431, "Request Header Fields Too Large"}, ErrCase{500, "Internal Server Error"},
        ErrCase{503, "Service Unavailable"}, ErrCase{505, "HTTP Version Not Supported"}}) {
    std::array<char, kMaxResponseBytes> out{};
    const size_t n = renderError(out, c.status, "something went wrong");
    ASSERT_GT(n, 0u);
    ASSERT_LT(n, out.size());
    const std::string_view text(out.data(), n);
    checkErrorResponse(text, c.status, c.phrase, "something went wrong");
    EXPECT_EQ(text.find("Sec-WebSocket-Version: 13\r\n") != std::string_view::npos, c.status == 426)
        << c.status;
    EXPECT_EQ(std::string_view(statusText(c.status)), c.phrase);
  }
  std::array<char, kMaxResponseBytes> out{};
  const size_t n = renderError(out, 405, "method not allowed");
  EXPECT_NE(std::string_view(out.data(), n).find("\r\nAllow: GET\r\n"), std::string_view::npos);
  // An empty body still gets its newline.
  const size_t e = renderError(out, 400, "");
  checkErrorResponse(std::string_view(out.data(), e), 400, "Bad Request", "");
  // Too small a buffer: nothing.
  std::array<char, 32> small{};
  EXPECT_EQ(renderError(small, 400, "bad"), 0u);
  EXPECT_EQ(std::string_view(statusText(299)), "Error");
}

TEST(HandshakeTest, RenderHealth) {
  std::array<char, kMaxResponseBytes> out{};
  size_t n = renderHealth(out, true);
  checkErrorResponse(std::string_view(out.data(), n), 200, "OK", "ok");
  n = renderHealth(out, false);
  checkErrorResponse(std::string_view(out.data(), n), 503, "Service Unavailable", "draining");
}

}  // namespace
}  // namespace mws::http
