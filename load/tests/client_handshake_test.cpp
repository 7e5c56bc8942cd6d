#include "mws/load/client_handshake.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "mws/http/accept_key.h"
#include "mws/http/handshake.h"
#include "mws/http/upgrade_parser.h"

namespace mws::load {
namespace {

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";  // rfc6455#section-1.3
constexpr std::string_view kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string goodResponse(std::string_view accept = kRfcAccept) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         std::string(accept) + "\r\n\r\n";
}

TEST(ClientHandshakeTest, EncodesRfcSampleNonce) {
  const char* nonce = "the sample nonce";
  uint8_t bytes[16];
  std::memcpy(bytes, nonce, 16);
  const ClientKey key = encodeClientKey(bytes);
  EXPECT_EQ(std::string_view(key.data(), key.size()), kRfcKey);
  const http::AcceptKey accept = http::computeAcceptKey(kRfcKey);
  EXPECT_EQ(std::string_view(accept.data(), accept.size()), kRfcAccept);
}

TEST(ClientHandshakeTest, RequestIsAcceptedByTheServerParser) {
  const RequestTemplate request("127.0.0.1:8080", "/echo?x=1");
  uint8_t nonce[16];
  for (int i = 0; i < 16; ++i) nonce[i] = static_cast<uint8_t>(i * 17);
  const ClientKey key = encodeClientKey(nonce);
  std::string wire(request.size(), '\0');
  ASSERT_EQ(request.render(key, wire.data()), wire.size());

  http::UpgradeParser parser(8192);
  size_t consumed = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(wire.data());
  ASSERT_EQ(parser.feed({bytes, wire.size()}, consumed), http::UpgradeParser::Status::kComplete);
  EXPECT_EQ(consumed, wire.size());
  const http::UpgradeRequest& req = parser.request();
  EXPECT_EQ(req.key.view(), std::string_view(key.data(), key.size()));
  EXPECT_TRUE(http::isValidClientKey(req.key.view()));
  EXPECT_EQ(req.target.view(), "/echo?x=1");
  EXPECT_EQ(req.version.view(), "13");
  EXPECT_EQ(http::validate(req, {}).route, http::Route::kEcho);
}

TEST(ClientHandshakeTest, AcceptsTheServersOwn101) {
  char out[http::kMaxResponseBytes];
  const size_t n = http::renderSwitchingProtocols(out, kRfcKey);
  ASSERT_GT(n, 0u);
  const ResponseCheck check = checkResponse({out, n}, kRfcAccept);
  EXPECT_EQ(check.verdict, ResponseVerdict::kAccepted);
  EXPECT_EQ(check.header_bytes, n);
  EXPECT_EQ(check.status, 101);
}

TEST(ClientHandshakeTest, GoodResponseAndEveryPrefixIsIncomplete) {
  const std::string good = goodResponse();
  for (size_t len = 0; len < good.size(); ++len) {
    const ResponseCheck check = checkResponse(std::string_view(good).substr(0, len), kRfcAccept);
    ASSERT_EQ(check.verdict, ResponseVerdict::kIncomplete) << len;
  }
  const ResponseCheck check = checkResponse(good, kRfcAccept);
  EXPECT_EQ(check.verdict, ResponseVerdict::kAccepted);
  EXPECT_EQ(check.header_bytes, good.size());
}

TEST(ClientHandshakeTest, FrameBytesAfterTheHeaderAreNotPartOfIt) {
  const std::string good = goodResponse();
  const std::string with_frame = good + std::string("\x89\x00", 2);
  const ResponseCheck check = checkResponse(with_frame, kRfcAccept);
  EXPECT_EQ(check.verdict, ResponseVerdict::kAccepted);
  EXPECT_EQ(check.header_bytes, good.size());
}

TEST(ClientHandshakeTest, HeaderNamesAndTokensAreCaseInsensitive) {
  const std::string response =
      "HTTP/1.1 101 OK\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive, upgrade \r\n"
      "sec-websocket-accept:  " +
      std::string(kRfcAccept) + "\r\nServer: x\r\n\r\n";
  EXPECT_EQ(checkResponse(response, kRfcAccept).verdict, ResponseVerdict::kAccepted);
}

TEST(ClientHandshakeTest, BadStatusIsKnownFromTheStatusLine) {
  for (const char* response : {"HTTP/1.1 400 Bad Request\r\n", "HTTP/1.1 200 OK\r\n\r\n",
                               "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n",
                               "HTTP/1.0 503 Service Unavailable\r\n\r\n"}) {
    const ResponseCheck check = checkResponse(response, kRfcAccept);
    EXPECT_EQ(check.verdict, ResponseVerdict::kBadStatus) << response;
    EXPECT_NE(check.status, 101);
  }
  char out[http::kMaxResponseBytes];
  const size_t n = http::renderError(out, 400, "bad request");
  EXPECT_EQ(checkResponse({out, n}, kRfcAccept).verdict, ResponseVerdict::kBadStatus);
}

TEST(ClientHandshakeTest, WrongOrMissingAcceptKey) {
  EXPECT_EQ(checkResponse(goodResponse("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), kRfcAccept).verdict,
            ResponseVerdict::kBadAcceptKey);
  EXPECT_EQ(checkResponse(goodResponse(""), kRfcAccept).verdict, ResponseVerdict::kBadAcceptKey);
  const std::string missing =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  EXPECT_EQ(checkResponse(missing, kRfcAccept).verdict, ResponseVerdict::kBadAcceptKey);
}

TEST(ClientHandshakeTest, MalformedResponses) {
  const std::string accept = "Sec-WebSocket-Accept: " + std::string(kRfcAccept) + "\r\n";
  const std::vector<std::string> bad = {
      "HTTP/1.1 10x Switching\r\n\r\n",
      "HTTP/2 101 Switching Protocols\r\n\r\n",
      "ICY 101 OK\r\n\r\n",
      // no Upgrade / wrong Upgrade / no Connection upgrade token
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n" + accept + "\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" + accept +
          "\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: close\r\n" + accept +
          "\r\n",
      // a header line without a colon
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n",
      // an extension or subprotocol we never asked for (rfc6455#section-4.1)
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + accept +
          "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
  };
  for (const std::string& response : bad) {
    EXPECT_EQ(checkResponse(response, kRfcAccept).verdict, ResponseVerdict::kBadResponse)
        << response;
  }
}

}  // namespace
}  // namespace mws::load
