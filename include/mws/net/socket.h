// Thin, checked wrappers over the socket calls the server makes (anet-style).
// Return a descriptor or a negative errno; never throw. Used at start-up for
// listeners and on the accept path by reactor threads.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace mws::net {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;

  uint16_t port() const noexcept;
  std::string toString() const;
};

// Resolves a numeric IPv4/IPv6 address (no DNS) and port. Returns false if malformed.
bool parseEndpoint(const std::string& host, uint16_t port, Endpoint& out) noexcept;

// A non-blocking, close-on-exec listening TCP socket with SO_REUSEADDR and
// SO_REUSEPORT (so several reactors and processes share one port) and TCP_NODELAY
// (inherited by accepted sockets: echoes must not wait for Nagle). Returns fd or -errno.
int listenTcp(const Endpoint& endpoint, int backlog) noexcept;

// The address a socket is bound to (to learn the port chosen for port 0).
bool localEndpoint(int fd, Endpoint& out) noexcept;

// accept4(NONBLOCK|CLOEXEC). Returns fd or -errno.
int acceptNonBlocking(int listen_fd) noexcept;

}  // namespace mws::net
