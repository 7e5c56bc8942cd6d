// What the admin listener answers to one HTTP/1.1 request: GET or HEAD /health and
// /metrics, a clear status for anything else (400, 404, 405, 408, 414, 431, 503, 505), and
// the response bytes. Pure functions over a request http::UpgradeParser has parsed: no I/O,
// so every rule is unit-tested without a socket. Runs on the admin thread; never throws.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mws/http/upgrade_parser.h"

namespace mws::admin {

struct Health {
  int status = 200;  // 200 serving, 503 draining or stalled
  std::string body;  // JSON
};

// The endpoints' content, asked for only when a request routes to them.
struct AdminEndpoints {
  std::function<Health()> health;
  std::function<std::string()> metrics;  // Prometheus text format
};

struct AdminReply {
  uint16_t status = 500;
  std::string bytes;  // status line, headers and body, ready to write
  bool close = true;  // close the connection once it is written
};

// The answer to a complete request head: the endpoint's response (kept alive as HTTP/1.1 and
// the client's Connection header say), or an error that closes the connection.
AdminReply answer(const http::UpgradeRequest& request, const AdminEndpoints& endpoints) noexcept;

// An error the listener decides before a request is routed (400 malformed, 408 too slow,
// 431 too large, 503 over the cap): a short text body, "Connection: close".
AdminReply errorReply(uint16_t status, std::string_view reason) noexcept;

// The path an origin-form ("/metrics?x") or absolute-form ("http://host:9090/metrics")
// request-target names, without the query; empty for any other form.
std::string_view requestPath(std::string_view target) noexcept;

}  // namespace mws::admin
