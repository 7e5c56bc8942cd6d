#include "mws/admin/admin_http.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mws/admin/admin_server.h"

namespace mws::admin {
namespace {

// Parses `request` as the admin listener does and answers it.
AdminReply ask(std::string_view request) {
  auto parser = std::make_unique<http::UpgradeParser>(8192);
  size_t consumed = 0;
  const auto status =
      parser->feed({reinterpret_cast<const uint8_t*>(request.data()), request.size()}, consumed);
  EXPECT_EQ(status, http::UpgradeParser::Status::kComplete) << request;
  const AdminEndpoints endpoints{
      [] {
        return Health{200, R"({"status":"serving"})"};
      },
      [] { return std::string("# TYPE up gauge\nup 1\n"); },
  };
  return answer(parser->request(), endpoints);
}

std::string_view head(const AdminReply& r) {
  return std::string_view(r.bytes).substr(0, r.bytes.find("\r\n\r\n") + 4);
}
std::string_view body(const AdminReply& r) {
  return std::string_view(r.bytes).substr(r.bytes.find("\r\n\r\n") + 4);
}

TEST(AdminHttp, ServesHealthAsJsonAndKeepsTheConnection) {
  const AdminReply r = ask("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.close);
  EXPECT_TRUE(head(r).starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(head(r).find("Content-Type: application/json\r\n"), std::string_view::npos);
  EXPECT_NE(head(r).find("Content-Length: 20\r\n"), std::string_view::npos);
  EXPECT_EQ(head(r).find("Connection:"), std::string_view::npos);
  EXPECT_EQ(body(r), R"({"status":"serving"})");
}

TEST(AdminHttp, ServesMetricsInTheTextFormat) {
  const AdminReply r = ask("GET /metrics?name[]=up HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(head(r).find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string_view::npos);
  EXPECT_EQ(body(r), "# TYPE up gauge\nup 1\n");
}

TEST(AdminHttp, HealthStatusComesFromTheEndpoint) {
  auto parser = std::make_unique<http::UpgradeParser>(8192);
  const std::string_view request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t consumed = 0;
  parser->feed({reinterpret_cast<const uint8_t*>(request.data()), request.size()}, consumed);
  const AdminReply r = answer(parser->request(), {[] { return Health{503, "{}"}; }, nullptr});
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.close);  // a draining answer, not an error: the prober may ask again
  EXPECT_TRUE(r.bytes.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
}

TEST(AdminHttp, HeadGetsTheHeadersAndLengthWithoutTheBody) {
  const AdminReply r = ask("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(head(r).find("Content-Length: 21\r\n"), std::string_view::npos);
  EXPECT_TRUE(body(r).empty());
}

TEST(AdminHttp, ConnectionHeaderAndVersionDecideKeepAlive) {
  EXPECT_TRUE(ask("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").close);
  EXPECT_TRUE(ask("GET /health HTTP/1.0\r\n\r\n").close);
  EXPECT_FALSE(ask("GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
  const AdminReply r = ask("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(head(r).find("Connection: close\r\n"), std::string_view::npos);
  // An HTTP/1.0 client closes unless the answer says otherwise.
  const AdminReply kept = ask("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_NE(head(kept).find("Connection: keep-alive\r\n"), std::string_view::npos);
}

TEST(AdminHttp, AbsoluteFormTargetsAreServed) {
  EXPECT_EQ(ask("GET http://10.0.0.1:9090/metrics HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  EXPECT_EQ(ask("GET HTTPS://pod/health?x HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

struct ErrorCase {
  const char* request;
  uint16_t status;
};

TEST(AdminHttp, WhatItWillNotServeGetsAClearStatusAndClose) {
  const std::array<ErrorCase, 9> cases = {{
      {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405},
      {"OPTIONS /health HTTP/1.1\r\nHost: x\r\n\r\n", 405},
      {"GET /health HTTP/1.1\r\n\r\n", 400},
      {"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET http:///health HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", 400},
  }};
  for (const ErrorCase& c : cases) {
    const AdminReply r = ask(c.request);
    EXPECT_EQ(r.status, c.status) << c.request;
    EXPECT_TRUE(r.close) << c.request;
    EXPECT_NE(head(r).find("Connection: close\r\n"), std::string_view::npos) << c.request;
    EXPECT_FALSE(body(r).empty()) << c.request;
  }
  const AdminReply r = ask("POST /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(head(r).find("Allow: GET, HEAD\r\n"), std::string_view::npos);
}

TEST(AdminHttp, AnEndpointThatThrowsGives500) {
  auto parser = std::make_unique<http::UpgradeParser>(8192);
  const std::string_view request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t consumed = 0;
  parser->feed({reinterpret_cast<const uint8_t*>(request.data()), request.size()}, consumed);
  const AdminReply r = answer(parser->request(),
                              {nullptr, []() -> std::string { throw std::runtime_error("boom"); }});
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.close);
  EXPECT_EQ(body(r), "boom\n");
}

TEST(AdminHttp, ErrorReplyNamesTheStatus) {
  const AdminReply r = errorReply(408, "request not complete in time");
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(r.close);
  EXPECT_TRUE(r.bytes.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_EQ(body(r), "request not complete in time\n");
  EXPECT_TRUE(errorReply(505, "x").bytes.starts_with("HTTP/1.1 505 HTTP Version Not Supported"));
  EXPECT_TRUE(errorReply(414, "x").bytes.starts_with("HTTP/1.1 414 URI Too Long"));
}

TEST(RequestPath, OriginAndAbsoluteForms) {
  EXPECT_EQ(requestPath("/metrics"), "/metrics");
  EXPECT_EQ(requestPath("/metrics?x=1"), "/metrics");
  EXPECT_EQ(requestPath("http://host:9090/health?x"), "/health");
  EXPECT_EQ(requestPath("http://host:9090"), "/");
  EXPECT_EQ(requestPath("http://host?x"), "/");
  EXPECT_EQ(requestPath("http:///health"), "");  // no host
  EXPECT_EQ(requestPath("*"), "");
  EXPECT_EQ(requestPath("host:9090"), "");
  EXPECT_EQ(requestPath(""), "");
}

TEST(AdminStatuses, SlotsCoverEveryStatusAnswered) {
  for (size_t i = 0; i < kAdminStatuses.size(); ++i) {
    EXPECT_EQ(adminStatusSlot(kAdminStatuses[i]), i);
  }
  EXPECT_EQ(kAdminStatuses[adminStatusSlot(418)], 500);
}

// The cap's choice of which held connection goes for a new one.
TEST(PickEvictee, OldestIdleFirst) {
  const std::array<HeldConnection, 4> held = {{
      {.accepted_seq = 7, .responding = false},
      {.accepted_seq = 3, .responding = true, .last_progress_ms = 0},  // stalled, but older
      {.accepted_seq = 5, .responding = false},
      {.accepted_seq = 9, .responding = false},
  }};
  EXPECT_EQ(pickEvictee(held, 10'000, 1000), 2);
}

TEST(PickEvictee, ThenTheOldestStalledResponse) {
  const std::array<HeldConnection, 3> held = {{
      {.accepted_seq = 1, .responding = true, .last_progress_ms = 9'500},  // moving
      {.accepted_seq = 4, .responding = true, .last_progress_ms = 8'000},  // stalled
      {.accepted_seq = 2, .responding = true, .last_progress_ms = 9'000},  // stalled exactly
  }};
  EXPECT_EQ(pickEvictee(held, 10'000, 1000), 2);
}

TEST(PickEvictee, NoneWhileEveryResponseMoves) {
  const std::array<HeldConnection, 2> held = {{
      {.accepted_seq = 1, .responding = true, .last_progress_ms = 9'999},
      {.accepted_seq = 2, .responding = true, .last_progress_ms = 9'500},
  }};
  EXPECT_EQ(pickEvictee(held, 10'000, 1000), -1);
  EXPECT_EQ(pickEvictee(std::span<const HeldConnection>(), 10'000, 1000), -1);
}

}  // namespace
}  // namespace mws::admin
