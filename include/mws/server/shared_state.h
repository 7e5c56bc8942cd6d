// The little that reactors share: the run phase, the open-connection total that
// --max-connections bounds, and the eventfd that wakes every reactor at once.
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
  // Written once to start draining; registered edge-triggered in every reactor, so
  // each gets exactly one wakeup per write.
  int wake_fd = -1;
  std::atomic<unsigned> workers_done{0};
};

}  // namespace mws::server
