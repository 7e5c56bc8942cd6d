// The parent process: forks one worker per --procs, each reporting over its own
// pipe; prints the progress line, forwards SIGINT/SIGTERM as a shared stop flag,
// SIGKILLs (by PID) workers that outlive the deadline, then merges the reports and
// prints the summary. Runs once on the main thread.
#pragma once

#include "mws/load/load_config.h"

namespace mws::load {

// Runs the whole load test; returns the process exit status.
int runSupervisor(const LoadConfig& config);

}  // namespace mws::load
