// millionws-load: opens many WebSocket connections to a MillionWS server, holds
// them, measures echo latency and throughput, and prints one JSON summary.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>

#include "mws/load/client_socket.h"
#include "mws/load/load_config.h"
#include "mws/load/supervisor.h"

namespace {

// connect() prefers even ports and scans all of them before it tries an odd one,
// so past half the range every connect from a source address slows down badly
// (measured: 16K/s falls to ~250/s), and past the whole range it fails.
void warnAboutPorts(const mws::load::LoadConfig& config) {
  if (!mws::load::isLoopback(config.target.address.sin_addr)) return;
  const uint64_t ports = mws::load::ephemeralPortCount();
  if (ports == 0) return;
  const uint64_t per_source = (config.connections + config.source_ips - 1) / config.source_ips;
  if (per_source * 2 <= ports) return;
  std::fprintf(stderr,
               "millionws-load: warning: %llu connections per source address against %llu "
               "ephemeral ports: the ramp slows past half of them%s; --source-ips %llu avoids it\n",
               static_cast<unsigned long long>(per_source), static_cast<unsigned long long>(ports),
               per_source > ports ? " and connections fail past all of them" : "",
               static_cast<unsigned long long>((config.connections * 2 + ports - 1) / ports));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mws::load;
  LoadConfig config;
  try {
    if (const std::optional<int> status = config.parse(argc, argv)) return *status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "millionws-load: %s\n", e.what());
    return 2;
  }
  // Each worker needs a descriptor per connection plus a few of its own.
  constexpr uint64_t kReservedDescriptors = 32;
  const uint64_t limit = raiseDescriptorLimit();
  const uint64_t per_proc = (config.connections + config.procs - 1) / config.procs;
  if (per_proc + kReservedDescriptors > limit) {
    std::fprintf(
        stderr,
        "millionws-load: %llu connections per process need more than the %llu "
        "descriptors allowed; raise --procs to at least %llu\n",
        static_cast<unsigned long long>(per_proc), static_cast<unsigned long long>(limit),
        static_cast<unsigned long long>((config.connections + limit - kReservedDescriptors - 1) /
                                        (limit - kReservedDescriptors)));
    return 2;
  }
  warnAboutPorts(config);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return runSupervisor(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "millionws-load: %s\n", e.what());
    return 1;
  }
}
