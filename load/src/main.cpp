// millionws-load: opens many WebSocket connections to a MillionWS server, holds
// them, measures echo latency and throughput, and prints one JSON summary.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "mws/load/client_socket.h"
#include "mws/load/load_config.h"
#include "mws/load/port_budget.h"
#include "mws/load/supervisor.h"

namespace {

void warnAboutPorts(const mws::load::LoadConfig& config) {
  const std::string warning = mws::load::portBudgetWarning(
      config.connections, config.source_ips, mws::load::isLoopback(config.target.address.sin_addr),
      mws::load::ephemeralPortCount());
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
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
