// One edge-triggered epoll instance, owned by one reactor thread. Descriptors are
// registered once (no epoll_ctl churn) with a 64-bit tag that the owner decodes;
// a closed descriptor leaves the set by itself. Never throws after construction.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "mws/base/unique_fd.h"

namespace mws::net {

class Reactor {
 public:
  // Every connection's interest set, fixed for its lifetime.
  static constexpr uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

  Reactor();  // throws std::system_error if epoll_create1 fails (start-up only)

  // Returns 0 or -errno.
  int add(int fd, uint32_t events, uint64_t tag) noexcept;
  // Waits up to timeout_ms (-1: forever). Returns the number of events or -errno.
  int wait(std::span<epoll_event> events, int timeout_ms) noexcept;

 private:
  UniqueFd epoll_fd_;
};

}  // namespace mws::net
