// One reactor thread: its own epoll instance and SO_REUSEPORT listener (and one for wss://
// when TLS is on), the loop that
// waits for events and hands them to its connections (server/session.h), accepting with
// the reserve-descriptor trick, the timer sweep and the drain on shutdown. Every
// connection it accepts lives and dies on this thread; nothing here takes a lock or
// allocates per message, and nothing here looks inside a connection.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstdint>

#include "mws/base/unique_fd.h"
#include "mws/net/reactor.h"
#include "mws/net/timer_wheel.h"
#include "mws/server/config.h"
#include "mws/server/logging.h"
#include "mws/server/session.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker_stats.h"

namespace mws::server {

class Worker {
 public:
  static constexpr int kMaxEvents = 1024;

  // Throws at start-up if the reactor cannot be created. With `tls` (wss://), sockets
  // accepted on `tls_listener` start with a TLS handshake under that context.
  Worker(const Config& config, unsigned index, UniqueFd listener, SharedState& shared,
         uint32_t capacity, UniqueFd tls_listener = {}, tls::ServerContext* tls = nullptr);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run() noexcept;  // the thread body; returns once drained

  const WorkerStats& stats() const noexcept { return stats_; }
  const buf::PoolStats& poolStats() const noexcept { return sessions_.poolStats(); }

 private:
  void dispatch(const epoll_event& ev) noexcept;
  void acceptAll(int listener, bool tls) noexcept;
  bool rejectOneForEmfile(int listener) noexcept;
  void onWake() noexcept;
  void startDrain() noexcept;
  void advanceTimers() noexcept;

  const Config& config_;
  const unsigned index_;
  SharedState& shared_;
  net::Reactor reactor_;
  UniqueFd listener_;
  UniqueFd tls_listener_;  // wss:// only
  UniqueFd reserve_fd_;    // given up to accept-and-close when descriptors run out
  net::TimerWheel wheel_;
  WarnThrottle warn_;
  WorkerStats stats_;
  Sessions sessions_;
  std::array<epoll_event, kMaxEvents> events_{};

  uint64_t start_ms_ = 0;
  uint64_t now_ms_ = 0;
  uint16_t now_tick_ = 0;
  uint64_t drain_deadline_ms_ = 0;
  bool draining_ = false;
  bool retry_accept_ = false;
  uint64_t tls_admitted_at_tick_ = 0, tls_admitted_at_trim_ = 0;  // see advanceTimers()
};

}  // namespace mws::server
