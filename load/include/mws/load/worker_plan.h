// What one worker process does: its share of the connections, rates, echo and
// verify-sample counts, and its slice of source addresses. Derived from the
// config at fork time; pure and deterministic, so shares add up to the totals.
#pragma once

#include <cstdint>
#include <vector>

#include "mws/load/load_config.h"

namespace mws::load {

struct WorkerPlan {
  uint32_t index = 0;
  uint32_t first_conn_id = 0;  // global id of the worker's slot 0 (for payloads)
  uint32_t connections = 0;
  double connect_rate = 0;  // per second, 0: unlimited
  uint32_t echo_connections = 0;
  double echo_rate = 0;  // open loop, messages per second for this worker
  uint32_t verify_sample = 0;
  std::vector<uint32_t> sources;  // host byte order; empty: let the kernel choose
};

WorkerPlan makeWorkerPlan(const LoadConfig& config, uint32_t index);

}  // namespace mws::load
