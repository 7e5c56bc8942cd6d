#include "mws/load/client_socket.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mws::load {

int startConnect(const sockaddr_in& target, uint32_t source_host_order) noexcept {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  auto failWith = [fd](int err) {
    ::close(fd);
    return -err;
  };
  const int one = 1;
  // Small echo messages must leave at once; Nagle would add tens of milliseconds.
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) return failWith(errno);
  if (source_host_order != 0) {
    // Without this, bind() picks the port before the destination is known and one
    // source address runs out after ~28K ports whatever the target.
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) {
      return failWith(errno);
    }
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(source_host_order);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) {
      return failWith(errno);
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
      errno != EINPROGRESS) {
    return failWith(errno);
  }
  return fd;
}

int socketError(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

FailReason failReasonForErrno(int err) noexcept {
  switch (err) {
    case ECONNREFUSED:
      return FailReason::kConnectRefused;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
      return FailReason::kAddressUnavailable;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return FailReason::kNoDescriptors;
    case ETIMEDOUT:
      return FailReason::kTimeout;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
      return FailReason::kReset;
    default:
      return FailReason::kConnectError;
  }
}

uint32_t ephemeralPortCount() noexcept {
  std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f == nullptr) return 0;
  unsigned low = 0;
  unsigned high = 0;
  const int fields = std::fscanf(f, "%u %u", &low, &high);
  std::fclose(f);
  return fields == 2 && high >= low ? high - low + 1 : 0;
}

uint64_t raiseDescriptorLimit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace mws::load
