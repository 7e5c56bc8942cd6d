#include "mws/load/target.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace mws::load {

namespace {

bool startsWithNoCase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<in_addr> resolveIpv4(const std::string& host) {
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0 || result == nullptr) {
    return std::nullopt;
  }
  sockaddr_in sin{};
  std::memcpy(&sin, result->ai_addr, sizeof sin);
  freeaddrinfo(result);
  return sin.sin_addr;
}

std::optional<WsUrl> parseWsUrl(std::string_view url, std::string* error) {
  auto failWith = [&](const char* message) -> std::optional<WsUrl> {
    if (error) *error = message;
    return std::nullopt;
  };
  const bool tls = startsWithNoCase(url, "wss://");
  if (!tls && !startsWithNoCase(url, "ws://")) {
    return failWith("the URL must start with ws:// or wss://");
  }
  std::string_view rest = url.substr(tls ? 6 : 5);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  WsUrl out;
  out.tls = tls;
  out.port = tls ? 443 : 80;
  if (end != std::string_view::npos) {
    std::string_view path = rest.substr(end);
    if (const size_t hash = path.find('#'); hash != std::string_view::npos) {
      path = path.substr(0, hash);
    }
    // Built in place rather than as "/" + std::string(path): GCC 12 at -O3 reports a false
    // -Wrestrict inside that operator+ (GCC bug 105329), which breaks -Werror builds.
    out.path.clear();
    if (path.empty() || path.front() != '/') out.path.push_back('/');
    out.path.append(path);
  }
  if (authority.find('@') != std::string_view::npos) return failWith("user info is not supported");
  if (!authority.empty() && authority.front() == '[') return failWith("IPv6 is not supported");
  if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    const std::string_view digits = authority.substr(colon + 1);
    unsigned port = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      return failWith("bad port in URL");
    }
    out.port = static_cast<uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return failWith("no host in URL");
  out.host = std::string(authority);
  return out;
}

std::optional<Target> resolveTarget(std::string_view url, std::string* error,
                                    Ipv4Resolver resolve) {
  std::optional<WsUrl> parts = parseWsUrl(url, error);
  if (!parts) return std::nullopt;
  const std::optional<in_addr> addr = resolve(parts->host);
  if (!addr) {
    if (error) *error = "cannot resolve " + parts->host + " to an IPv4 address";
    return std::nullopt;
  }
  Target target;
  target.url = std::string(url);
  const uint16_t default_port = parts->tls ? 443 : 80;
  target.host_header =
      parts->port == default_port ? parts->host : parts->host + ":" + std::to_string(parts->port);
  target.address.sin_family = AF_INET;
  target.address.sin_port = htons(parts->port);
  target.address.sin_addr = *addr;
  target.parts = std::move(*parts);
  return target;
}

bool isLoopback(in_addr address) noexcept { return (ntohl(address.s_addr) >> 24) == 127; }

}  // namespace mws::load
