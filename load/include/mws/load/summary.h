// The one JSON summary the parent prints on stdout, and the exit status that goes
// with it. Runs once at the end of a run.
#pragma once

#include <string>

#include "mws/load/load_config.h"
#include "mws/load/worker_report.h"

namespace mws::load {

// Where and when this process ran: labels a pod's summary among the others of a run.
struct RunInfo {
  std::string host;            // gethostname(): the pod's name in Kubernetes
  double started_at_unix = 0;  // wall clock when the ramp began (after any --start-at wait)
};

// `merged` is every worker's report added together (a lost worker's connections
// already counted as failed).
std::string renderSummary(const LoadConfig& config, const WorkerReport& merged, const RunInfo& run);

// 0 if the run finished with every connection up and no verify errors, else 1.
int exitStatusFor(const WorkerReport& merged) noexcept;

}  // namespace mws::load
