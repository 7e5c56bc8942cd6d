#include "mws/load/load_config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "mws/load/shard.h"
#include "mws/load/source_addresses.h"

namespace mws::load {

namespace {

// A start time further ahead than this is a mistake (milliseconds, or a date typed wrong), not
// a plan: refuse it rather than sleep for days.
constexpr double kMaxStartAheadSeconds = 24 * 3600;

double unixNow() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* echoModeName(EchoMode mode) noexcept {
  switch (mode) {
    case EchoMode::kNone:
      return "none";
    case EchoMode::kOpen:
      return "open";
    case EchoMode::kClosed:
      return "closed";
  }
  return "?";
}

std::optional<int> LoadConfig::parse(int argc, char** argv) {
  CLI::App app{"millionws-load: WebSocket load generator (connections held, echo latency)"};
  app.set_help_flag("-h,--help", "print this help and exit");
  std::string mode_text = "none";
  std::string type_text = "binary";

  app.add_option("--url", url, "target, ws://host[:port][/path]")->required();
  app.add_option("--connections", connections,
                 "connections in total, across all procs (and shards)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--procs", procs, "worker processes; each gets connections/procs")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--rate", rate, "new connections per second in total (0: as fast as allowed)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-inflight", max_inflight, "handshakes in flight per process")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--source-ips", source_ips,
                 "source addresses 127.0.0.1, 127.0.0.2, ... (workers take disjoint slices)")
      ->check(CLI::Range(1u, kMaxSourceAddresses))
      ->capture_default_str();
  app.add_option("--hold", hold_seconds, "seconds to hold all connections idle after the ramp")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--mode", mode_text, "echo phase after the hold")
      ->check(CLI::IsMember({"none", "open", "closed"}))
      ->capture_default_str();
  app.add_option("--echo-connections", echo_connections,
                 "connections sending in the echo phase (total)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--echo-rate", echo_rate, "open loop: messages per second in total")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--duration", duration_seconds, "echo phase length in seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--message-bytes", message_bytes, "echo payload size")
      ->check(CLI::Range(0u, 16u << 20))
      ->capture_default_str();
  app.add_option("--message-type", type_text, "opcode of echo messages")
      ->check(CLI::IsMember({"text", "binary"}))
      ->capture_default_str();
  app.add_option("--verify-sample", verify_sample,
                 "at the end, this many connections each echo one message")
      ->check(CLI::Range(uint64_t{0}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout_seconds, "seconds per handshake")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--deadline", deadline_seconds, "hard stop for the whole run, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--allow-remote", allow_remote, "allow targets outside 127.0.0.0/8");
  app.add_flag("--quiet", quiet, "no progress line");
  app.add_option("--shard-count", shard_count,
                 "processes (pods) sharing this run; the totals above are the whole run's")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--shard-index", shard_index,
                 "this process's part, 0 .. shard-count - 1; it takes that even share")
      ->capture_default_str();
  app.add_option("--start-at", start_at_unix,
                 "wait until this wall-clock time (seconds since the epoch, as `date +%s`) "
                 "before the ramp, so that shards start together; a time passed starts at once")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--histograms", histograms,
               "add the raw latency histograms to the summary (for merging shards)");
  app.add_flag("--insecure", insecure,
               "wss://: accept any server certificate (self-signed test pairs)");
  app.add_option("--ca-file", ca_file,
                 "wss://: trust the PEM certificates in this file instead of the system's")
      ->check(CLI::ExistingFile);
  app.add_flag("--tls-resume", tls_resume,
               "wss://: each new connection offers the newest session ticket (resumption)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  mode = mode_text == "open"     ? EchoMode::kOpen
         : mode_text == "closed" ? EchoMode::kClosed
                                 : EchoMode::kNone;
  text = type_text == "text";

  std::string error;
  std::optional<Target> resolved = resolveTarget(url, &error);
  if (!resolved) {
    std::fprintf(stderr, "millionws-load: --url %s: %s\n", url.c_str(), error.c_str());
    return 2;
  }
  target = std::move(*resolved);
  if (!target.parts.tls && (insecure || !ca_file.empty() || tls_resume)) {
    std::fprintf(stderr, "millionws-load: --insecure, --ca-file and --tls-resume need wss://\n");
    return 2;
  }
  if (!isLoopback(target.address.sin_addr) && !allow_remote) {
    std::fprintf(stderr,
                 "millionws-load: refusing %s: not a loopback address (pass --allow-remote to "
                 "load another machine)\n",
                 url.c_str());
    return 2;
  }
  if (shard_index >= shard_count) {
    std::fprintf(stderr, "millionws-load: --shard-index %u is not below --shard-count %u\n",
                 shard_index, shard_count);
    return 2;
  }
  if (start_at_unix > unixNow() + kMaxStartAheadSeconds) {
    std::fprintf(stderr,
                 "millionws-load: --start-at %.3f is more than a day ahead (seconds since the "
                 "epoch expected)\n",
                 start_at_unix);
    return 2;
  }
  // More echo or verify connections than connections just means all of them.
  echo_connections = std::min(echo_connections, connections);
  verify_sample = std::min(verify_sample, connections);
  connections_total = connections;
  const ShardShare share = shardShare(*this, shard_index, shard_count);
  connections = share.connections;
  echo_connections = share.echo_connections;
  verify_sample = share.verify_sample;
  rate = share.rate;
  echo_rate = share.echo_rate;
  return std::nullopt;
}

}  // namespace mws::load
