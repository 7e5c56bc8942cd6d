// millionws-load's command line (CLI11): every flag and its default, validated
// once at start-up in the parent process and then read-only (copied into each
// worker by fork). Exceptions are allowed here only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mws/load/target.h"

namespace mws::load {

enum class EchoMode : uint8_t { kNone, kOpen, kClosed };

const char* echoModeName(EchoMode mode) noexcept;

struct LoadConfig {
  std::string url;
  uint64_t connections = 1000;
  uint32_t procs = 1;
  double rate = 0;  // new connections per second in total; 0: as fast as allowed
  uint32_t max_inflight = 2000;
  uint32_t source_ips = 1;
  double hold_seconds = 0;
  EchoMode mode = EchoMode::kNone;
  uint64_t echo_connections = 1000;
  double echo_rate = 10000;
  double duration_seconds = 10;
  uint32_t message_bytes = 32;
  bool text = false;
  uint64_t verify_sample = 100;
  double connect_timeout_seconds = 10;
  double deadline_seconds = 600;
  bool allow_remote = false;
  bool quiet = false;
  // One of shard_count processes making one run (deploy/load's Indexed Job): connections,
  // echo connections, verify sample and rates above are this shard's share after parse().
  uint32_t shard_index = 0;
  uint32_t shard_count = 1;
  uint64_t connections_total = 0;  // --connections as given: the whole run's
  double start_at_unix = 0;        // wall-clock start (seconds since the epoch); 0: at once
  bool histograms = false;         // raw histograms in the summary, for deploy/load/gather.py
  // wss:// only: trust (--insecure, or --ca-file, else the system's store), and resumption.
  bool insecure = false;
  std::string ca_file;
  bool tls_resume = false;

  Target target;  // resolved from url by parse()

  // Parses argv, resolves the target and narrows the totals to this shard. Returns the exit
  // status to stop with (0 after --help, 2 for usage errors, including a non-loopback target
  // without --allow-remote), or nullopt to run.
  std::optional<int> parse(int argc, char** argv);
};

}  // namespace mws::load
