#include "mws/admin/admin_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "mws/base/clock.h"

#ifndef MWS_VERSION
#define MWS_VERSION "unknown"
#endif

namespace mws::admin {

namespace {

// civetweb's request hook is a plain function: it finds the (only) admin server here.
std::atomic<const AdminServer*> g_admin{nullptr};

int onBeginRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const AdminServer* admin = g_admin.load();
  if (!admin || !info->local_uri || std::strcmp(info->local_uri, "/health") != 0) return 0;
  const Health h = admin->health();
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            h.status, h.status == 200 ? "OK" : "Service Unavailable", h.body.size());
  if (std::strcmp(info->request_method, "HEAD") != 0) mg_write(conn, h.body.data(), h.body.size());
  return h.status;  // non-zero: handled here
}

std::string listenSpec(const std::string& bind, uint16_t port) {
  // civetweb wants IPv6 addresses in brackets.
  const bool v6 = bind.find(':') != std::string::npos && bind.front() != '[';
  return (v6 ? "[" + bind + "]" : bind) + ":" + std::to_string(port);
}

}  // namespace

AdminServer::AdminServer(const std::string& bind, uint16_t port, std::vector<ReactorView> reactors,
                         const server::SharedState& shared)
    : reactors_(std::move(reactors)),
      shared_(shared),
      started_ms_(monotonicMillis()),
      collector_(std::make_shared<MetricsCollector>(reactors_)) {
  static CivetCallbacks callbacks = [] {
    CivetCallbacks c;  // zero-initialised by its constructor
    c.begin_request = &onBeginRequest;
    return c;
  }();
  g_admin.store(this);
  // One worker thread: scrapes are rare and cheap (O(reactors)).
  exposer_ = std::make_unique<prometheus::Exposer>(
      std::vector<std::string>{"listening_ports", listenSpec(bind, port), "num_threads", "1"},
      &callbacks);
  exposer_->RegisterCollectable(collector_);
  const auto ports = exposer_->GetListeningPorts();
  if (ports.empty())
    throw std::runtime_error("admin listener did not start on " + listenSpec(bind, port));
  port_ = static_cast<uint16_t>(ports.front());
}

AdminServer::~AdminServer() {
  exposer_.reset();
  g_admin.store(nullptr);
}

Health AdminServer::health() const {
  const uint64_t now = monotonicMillis();
  uint64_t active = 0;
  int stalled = 0;
  for (const ReactorView& r : reactors_) {
    active += r.stats->active.get();
    if (now > r.stats->heartbeat_ms.get() + kStallMillis) ++stalled;
  }
  const bool draining = shared_.phase.load() == server::Phase::kDraining;
  const char* status = draining ? "draining" : stalled ? "stalled" : "serving";
  nlohmann::json body = {
      {"status", status},
      {"connections", active},
      {"reactors", reactors_.size()},
      {"stalled_reactors", stalled},
      {"uptime_seconds", static_cast<double>(now - started_ms_) / 1000.0},
      {"version", MWS_VERSION},
  };
  return Health{draining || stalled ? 503 : 200, body.dump()};
}

}  // namespace mws::admin
