// Ephemeral ports: connect() picks a local port per (source address, destination address and
// port), and prefers half of the range before it tries the other half, so past half of the
// range every connect from one source address slows down badly (measured: 16K/s falls to
// ~250/s), and past the whole range it fails. Towards loopback, --source-ips spreads the
// connections over 127.x.y.z addresses; towards another host (a pod) they all leave from the
// host's one address. Pure; start-up only.
#pragma once

#include <cstdint>
#include <string>

namespace mws::load {

// The warning to print, or "" when the connections fit in half of `ports` per source address.
// `connections` are this process's (after sharding); `ports` 0 means unknown (no warning).
std::string portBudgetWarning(uint64_t connections, uint32_t source_ips, bool loopback,
                              uint64_t ports);

}  // namespace mws::load
