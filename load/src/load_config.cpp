#include "mws/load/load_config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "mws/load/source_addresses.h"

namespace mws::load {

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
  app.add_option("--connections", connections, "connections in total, across all procs")
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
  if (!isLoopback(target.address.sin_addr) && !allow_remote) {
    std::fprintf(stderr,
                 "millionws-load: refusing %s: not a loopback address (pass --allow-remote to "
                 "load another machine)\n",
                 url.c_str());
    return 2;
  }
  // More echo or verify connections than connections just means all of them.
  echo_connections = std::min(echo_connections, connections);
  verify_sample = std::min(verify_sample, connections);
  return std::nullopt;
}

}  // namespace mws::load
