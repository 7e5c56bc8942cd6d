// The admin listener: /health and /metrics over HTTP/1.1, served by one thread of its own
// running a small level-triggered epoll loop over at most AdminLimits::max_connections
// non-blocking sockets. It reads the reactors' counters and heartbeats and never blocks,
// locks or wakes a reactor. It must never block on a client (every socket has a deadline),
// hold more connections than its cap, or start a thread per client.
// Built at start-up (throws if the port cannot be bound); stops in milliseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "mws/admin/admin_http.h"
#include "mws/admin/admin_stats.h"
#include "mws/admin/metrics_collector.h"
#include "mws/base/unique_fd.h"
#include "mws/server/shared_state.h"

namespace mws::admin {

struct AdminLimits {
  // Kubelet probes (a connection each, closed after the answer), one or two Prometheus
  // servers (kept alive) and an operator's curl need fewer than ten; 16 plus the loop's own 3
  // descriptors stay inside the 32 the application keeps aside from WebSocket connections.
  size_t max_connections = 16;
  // The whole request head must arrive within this, counted from the connection (or from the
  // previous response): a probe sends it in the first segment (under 1 ms on loopback), while
  // a slowloris client that drips a byte a second is cut after 2 s however it paces itself.
  // A connection that sends nothing is closed after the same time.
  uint64_t request_timeout_ms = 2000;
  // A response must be taken by the client within this (/metrics is about 12 KB).
  uint64_t write_timeout_ms = 5000;
  // A response the client has not taken a byte of for this long makes its connection
  // evictable, like an idle one: a reading client takes bytes every round trip.
  uint64_t stall_ms = 1000;
  // After a last response the listener half-closes and waits this long for the client's
  // FIN, so that closing with unread input cannot reset the answer away.
  uint64_t linger_ms = 1000;
  size_t max_header_bytes = 8192;
};

// What the cap needs to know about a held connection.
struct HeldConnection {
  uint64_t accepted_seq = 0;      // accept order
  bool responding = false;        // a response is in flight: not all of it taken by the kernel
  uint64_t last_progress_ms = 0;  // when the kernel last took bytes of that response
};

// At the cap, which held connection to close so that a new one can be served: the oldest
// idle one (no response in flight: waiting for a request, part of one, or for the client's
// FIN), else the oldest whose response has not moved for `stall_ms`. -1 when every one is
// being answered: the new connection is refused.
ptrdiff_t pickEvictee(std::span<const HeldConnection> held, uint64_t now_ms,
                      uint64_t stall_ms) noexcept;

class AdminServer {
 public:
  // A reactor whose heartbeat is older than this is considered stalled.
  static constexpr uint64_t kStallMillis = 5000;

  // Binds `bind` (numeric IPv4 or IPv6) and `port` (0: any) and starts the admin thread.
  AdminServer(const std::string& bind, uint16_t port, std::vector<ReactorView> reactors,
              const server::SharedState& shared, AdminLimits limits = {});
  ~AdminServer();  // wakes the thread, joins it, closes every admin socket
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  uint16_t port() const noexcept { return port_; }
  // The endpoints' content; called on the admin thread (and by tests).
  Health health() const;
  std::string metrics() const;
  const AdminStats& stats() const noexcept { return stats_; }

 private:
  struct Client;

  void run() noexcept;
  void acceptSome(uint64_t now) noexcept;
  void admit(int fd, uint64_t now) noexcept;
  void onReadable(Client& c) noexcept;
  void serve(Client& c, uint64_t now) noexcept;
  void respond(Client& c, AdminReply reply, uint64_t now) noexcept;
  void onWritable(Client& c, uint64_t now) noexcept;
  void startReading(Client& c, uint64_t now) noexcept;
  void startLingering(Client& c, uint64_t now) noexcept;
  void expire(uint64_t now) noexcept;
  int nextTimeout(uint64_t now) const noexcept;
  void watch(Client& c, uint32_t events) noexcept;
  void close(Client& c) noexcept;

  std::vector<ReactorView> reactors_;
  const server::SharedState& shared_;
  AdminLimits limits_;
  uint64_t started_ms_;
  AdminStats stats_;
  MetricsCollector collector_;
  AdminEndpoints endpoints_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd stop_fd_;  // eventfd: the destructor's wake-up
  uint16_t port_ = 0;
  // Touched by the admin thread only.
  std::vector<std::unique_ptr<Client>> clients_;  // closed ones are freed after each batch
  size_t open_clients_ = 0;
  std::vector<HeldConnection> held_;  // scratch of admit() at the cap
  std::vector<Client*> who_;
  uint64_t next_seq_ = 0;
  uint64_t accept_paused_until_ = 0;  // out of descriptors: accept again after this
  uint64_t last_warn_ms_ = 0;
  std::thread thread_;
};

}  // namespace mws::admin
