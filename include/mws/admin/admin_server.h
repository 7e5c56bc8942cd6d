// The admin listener: /metrics through prometheus-cpp's pull exposer (its own
// civetweb threads, a fixed number) and /health answered in the same server's
// request hook. Reads reactor counters and heartbeats; never blocks a reactor.
// Built at start-up (throws if the port cannot be bound).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mws/admin/metrics_collector.h"
#include "mws/server/shared_state.h"

namespace prometheus {
class Exposer;
}

namespace mws::admin {

struct Health {
  int status = 200;  // 200 serving, 503 draining or stalled
  std::string body;  // JSON
};

class AdminServer {
 public:
  // A reactor whose heartbeat is older than this is considered stalled.
  static constexpr uint64_t kStallMillis = 5000;

  AdminServer(const std::string& bind, uint16_t port, std::vector<ReactorView> reactors,
              const server::SharedState& shared);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  uint16_t port() const noexcept { return port_; }
  Health health() const;

 private:
  std::vector<ReactorView> reactors_;
  const server::SharedState& shared_;
  uint64_t started_ms_;
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
};

}  // namespace mws::admin
