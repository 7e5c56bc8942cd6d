// The --url target: ws://host[:port][/path] or wss://... parsed and resolved to one IPv4
// address, plus the loopback test that keeps the generator off other machines
// unless --allow-remote. Start-up only; may allocate and call getaddrinfo().
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mws::load {

struct WsUrl {
  std::string host;
  uint16_t port = 80;      // 443 for wss:// when not given
  std::string path = "/";  // includes any query string
  bool tls = false;        // wss://
};

// Returns nullopt and sets *error for anything but ws:// or wss:// with an IPv4 address or
// host name (IPv6 literals and user info are not supported).
std::optional<WsUrl> parseWsUrl(std::string_view url, std::string* error);

struct Target {
  std::string url;
  WsUrl parts;
  std::string host_header;  // host, or host:port when the port is not the scheme's default
  sockaddr_in address{};
};

// Turns a host name (or dotted quad) into one IPv4 address; nullopt when it has none.
using Ipv4Resolver = std::optional<in_addr> (*)(const std::string& host);

// The system's resolver: a dotted quad directly, any other name through getaddrinfo(), so the
// answer depends on /etc/hosts and DNS. Tests inject their own resolver instead.
std::optional<in_addr> resolveIpv4(const std::string& host);

std::optional<Target> resolveTarget(std::string_view url, std::string* error,
                                    Ipv4Resolver resolve = resolveIpv4);

// 127.0.0.0/8 (rfc1122#section-3.2.1.3); `address` in network byte order.
bool isLoopback(in_addr address) noexcept;

}  // namespace mws::load
