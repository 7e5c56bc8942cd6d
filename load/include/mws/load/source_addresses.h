// Source addresses for --source-ips: 127.0.0.1 .. 127.0.0.254, 127.0.1.1, ... (a
// last octet of 0 or 255 is skipped), and the disjoint slice each worker process
// takes. Binding to a different 127.x.y.z gives every source its own ephemeral-port
// space towards the target. Pure functions; start-up only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mws::load {

inline constexpr uint32_t kMaxSourceAddresses = 256u * 256u * 254u;

// The index-th source address (0-based), host byte order. index < kMaxSourceAddresses.
uint32_t sourceAddress(uint32_t index) noexcept;

struct Share {
  uint64_t first = 0;
  uint64_t count = 0;
};

// Part `index` of `total` items split over `parts` as evenly as possible, the
// remainder going to the first parts.
Share splitEvenly(uint64_t total, uint32_t parts, uint32_t index) noexcept;

// The addresses worker `worker` of `procs` uses out of `total` source addresses:
// disjoint slices when total >= procs, otherwise address worker % total.
std::vector<uint32_t> workerSourceAddresses(uint32_t total, uint32_t procs, uint32_t worker);

std::string formatIpv4(uint32_t host_order);

}  // namespace mws::load
