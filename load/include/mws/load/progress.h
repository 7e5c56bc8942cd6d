// The live progress line: the parent sums the workers' shared counters about once
// a second and prints connections, rates and errors on stderr. Formatting is a
// pure function so it can be tested.
#pragma once

#include <cstdint>
#include <string>

#include "mws/load/shared_control.h"

namespace mws::load {

struct ProgressTotals {
  uint64_t started = 0;
  uint64_t connected = 0;
  uint64_t failed = 0;
  uint64_t inflight = 0;
  uint64_t server_closed = 0;
  uint64_t open = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t verify_errors = 0;
  Phase phase = Phase::kDone;  // the least advanced worker's phase
};

ProgressTotals sumLiveCounters(const SharedControl& shared);

std::string formatProgress(double elapsed_seconds, uint64_t requested, const ProgressTotals& now,
                           const ProgressTotals& before, double interval_seconds);

}  // namespace mws::load
