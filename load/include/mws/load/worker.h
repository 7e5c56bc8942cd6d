// One worker process: ramps its share of connections, holds them, runs the echo
// phase and the verify sample, closes cleanly and returns its report. Phases are
// aligned across workers by shared barriers; every wait is bounded by --deadline
// and the parent's stop flag. Runs on the worker's only thread.
#pragma once

#include <cstdint>

#include "mws/load/client_set.h"
#include "mws/load/echo_driver.h"
#include "mws/load/load_config.h"
#include "mws/load/rng.h"
#include "mws/load/shared_control.h"
#include "mws/load/worker_plan.h"
#include "mws/load/worker_report.h"

namespace mws::load {

class Worker {
 public:
  Worker(const LoadConfig& config, const WorkerPlan& plan, SharedControl& shared);

  WorkerReport run();

 private:
  void ramp();
  uint64_t waitBarrier(Barrier barrier);
  void holdUntil(uint64_t until_ns);
  void echoPhase();
  void verifyPhase();
  void closePhase();
  // Calls tick(now) and handles events until `until_ns`, until a tick reports done
  // or (with honor_stop) the deadline or a stop request. Returns the clock.
  template <typename Tick>
  uint64_t runUntil(uint64_t until_ns, bool honor_stop, Tick tick);
  bool stopping(uint64_t now_ns) noexcept;
  void publish(Phase phase) noexcept;

  const LoadConfig& config_;
  const WorkerPlan& plan_;
  SharedControl& shared_;
  LiveCounters& live_;
  WorkerReport report_;
  Rng rng_;
  ClientSet clients_;
  EchoDriver echo_;
  uint64_t deadline_ns_ = 0;
  Phase phase_ = Phase::kStarting;
};

}  // namespace mws::load
