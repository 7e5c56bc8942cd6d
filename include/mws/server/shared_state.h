// The little that reactors share: the run phase, the open-connection totals that
// --max-connections and the descriptor limit bound, and the eventfd that wakes every
// reactor at once.
// Touched on accept/upgrade/close and on shutdown, never per message.
#pragma once

#include <atomic>
#include <cstdint>

namespace mws::server {

enum class Phase : int { kRunning, kDraining };

struct SharedState {
  std::atomic<Phase> phase{Phase::kRunning};
  std::atomic<uint64_t> open_websockets{0};
  uint64_t max_websockets = 0;
  // Sockets held in any state, against the descriptors the limit leaves for them: past
  // the budget a new socket is closed at once, so accept(2) never meets EMFILE because of
  // us (the reserve descriptor stays for descriptors opened by others).
  std::atomic<uint64_t> open_sockets{0};
  uint64_t max_sockets = 0;
  // --max-buffer-memory in effect (0: none), and each reactor's share of it.
  uint64_t max_buffer_memory = 0;
  uint64_t buffer_budget_per_reactor = 0;
  // Written once to start draining; registered edge-triggered in every reactor, so
  // each gets exactly one wakeup per write.
  int wake_fd = -1;
  std::atomic<unsigned> workers_done{0};
  // The drain's account: Close frames received while draining (answers to our 1001, or the
  // client's own), and connections still open at the deadline, cut off without one.
  std::atomic<uint64_t> drain_clean{0};
  std::atomic<uint64_t> drain_cut{0};
  // wss:// (issue 15), written by the main thread (start-up, SIGHUP), read by the admin one.
  bool tls_serving = false;
  std::atomic<int64_t> tls_certificate_expiry{0};  // Unix seconds; 0 without TLS
  std::atomic<uint64_t> tls_reloads_ok{0}, tls_reloads_failed{0};
};

}  // namespace mws::server
