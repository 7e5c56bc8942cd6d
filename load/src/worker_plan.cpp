#include "mws/load/worker_plan.h"

#include "mws/load/source_addresses.h"

namespace mws::load {

WorkerPlan makeWorkerPlan(const LoadConfig& config, uint32_t index) {
  WorkerPlan plan;
  plan.index = index;
  const uint32_t procs = config.procs;
  const Share conns = splitEvenly(config.connections, procs, index);
  plan.first_conn_id = static_cast<uint32_t>(conns.first);
  plan.connections = static_cast<uint32_t>(conns.count);
  plan.connect_rate = config.rate / procs;
  // echo_connections <= connections, so every worker's echo share fits in its connections.
  plan.echo_connections =
      static_cast<uint32_t>(splitEvenly(config.echo_connections, procs, index).count);
  plan.echo_rate = config.echo_connections == 0 ? 0
                                                : config.echo_rate * plan.echo_connections /
                                                      static_cast<double>(config.echo_connections);
  plan.verify_sample = static_cast<uint32_t>(splitEvenly(config.verify_sample, procs, index).count);
  // Source addresses only make sense towards loopback: 127.x.y.z cannot reach another host.
  if (isLoopback(config.target.address.sin_addr)) {
    plan.sources = workerSourceAddresses(config.source_ips, procs, index);
  }
  return plan;
}

}  // namespace mws::load
