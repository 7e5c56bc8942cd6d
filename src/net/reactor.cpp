#include "mws/net/reactor.h"

#include <cerrno>
#include <system_error>

namespace mws::net {

Reactor::Reactor() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_fd_.valid()) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

int Reactor::add(int fd, uint32_t events, uint64_t tag) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int Reactor::wait(std::span<epoll_event> events, int timeout_ms) noexcept {
  const int n =
      ::epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  return n >= 0 ? n : -errno;
}

}  // namespace mws::net
