// Socket calls for one client connection: a non-blocking TCP socket bound to a
// chosen source address with IP_BIND_ADDRESS_NO_PORT (the port is picked at
// connect() per destination, so each 127.x.y.z has its own port space), and the
// mapping of errno values to failure reasons. No state.
#pragma once

#include <netinet/in.h>

#include <cstdint>

#include "mws/load/worker_report.h"

namespace mws::load {

// Starts a connect to `target` from `source_host_order` (0: no bind). Returns the
// descriptor (the connect is in progress or done: wait for EPOLLOUT) or -errno.
int startConnect(const sockaddr_in& target, uint32_t source_host_order) noexcept;

// The pending error of a socket whose connect finished (SO_ERROR), 0 if connected.
int socketError(int fd) noexcept;

FailReason failReasonForErrno(int err) noexcept;

// Ports in net.ipv4.ip_local_port_range (0 if unreadable): how many connections
// one source address can have open towards one destination address and port.
uint32_t ephemeralPortCount() noexcept;

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t raiseDescriptorLimit() noexcept;

}  // namespace mws::load
