#include "mws/net/socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace mws::net {
namespace {

const sockaddr_in6& v6(const Endpoint& e) {
  return *reinterpret_cast<const sockaddr_in6*>(&e.addr);
}

in6_addr addr6(const char* text) {
  in6_addr a{};
  EXPECT_EQ(inet_pton(AF_INET6, text, &a), 1) << text;
  return a;
}

TEST(ParseEndpoint, Ipv6Loopback) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("::1", 9090, e));
  EXPECT_EQ(e.addr.ss_family, AF_INET6);
  EXPECT_EQ(e.len, sizeof(sockaddr_in6));
  EXPECT_EQ(std::memcmp(&v6(e).sin6_addr, &in6addr_loopback, sizeof(in6_addr)), 0);
  EXPECT_EQ(e.port(), 9090);
  EXPECT_EQ(e.toString(), "[::1]:9090");
}

TEST(ParseEndpoint, Ipv6AnyAndFullForms) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("::", 0, e));
  EXPECT_EQ(std::memcmp(&v6(e).sin6_addr, &in6addr_any, sizeof(in6_addr)), 0);
  EXPECT_EQ(e.toString(), "[::]:0");
  ASSERT_TRUE(parseEndpoint("2001:0db8:0000:0000:0000:0000:0000:0001", 443, e));
  const in6_addr want = addr6("2001:db8::1");
  EXPECT_EQ(std::memcmp(&v6(e).sin6_addr, &want, sizeof(in6_addr)), 0);
  EXPECT_EQ(e.toString(), "[2001:db8::1]:443");  // printed in the shortest form
}

TEST(ParseEndpoint, Ipv6InBrackets) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("[fe80::1]", 8080, e));
  EXPECT_EQ(e.addr.ss_family, AF_INET6);
  EXPECT_EQ(e.port(), 8080);
  EXPECT_EQ(e.toString(), "[fe80::1]:8080");
  ASSERT_TRUE(parseEndpoint("[::]", 1, e));
  EXPECT_EQ(e.toString(), "[::]:1");
}

TEST(ParseEndpoint, Ipv4MappedIpv6StaysIpv6) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("::ffff:127.0.0.1", 80, e));
  EXPECT_EQ(e.addr.ss_family, AF_INET6);
  EXPECT_EQ(e.toString(), "[::ffff:127.0.0.1]:80");
}

TEST(ParseEndpoint, PortIsInNetworkOrder) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("::1", 0x1234, e));
  EXPECT_EQ(v6(e).sin6_port, htons(0x1234));
  EXPECT_EQ(v6(e).sin6_flowinfo, 0u);
  EXPECT_EQ(v6(e).sin6_scope_id, 0u);
}

TEST(ParseEndpoint, Ipv4StillWorks) {
  Endpoint e;
  ASSERT_TRUE(parseEndpoint("127.0.0.1", 80, e));
  EXPECT_EQ(e.addr.ss_family, AF_INET);
  EXPECT_EQ(e.len, sizeof(sockaddr_in));
  EXPECT_EQ(e.toString(), "127.0.0.1:80");
  ASSERT_TRUE(parseEndpoint("[127.0.0.1]", 80, e));  // brackets are stripped whatever inside
  EXPECT_EQ(e.addr.ss_family, AF_INET);
}

TEST(ParseEndpoint, RejectsMalformedIpv6) {
  Endpoint e;
  for (const char* bad :
       {"", "[]", "[", "]", "[::1", "::1]", ":::", "1::2::3", "::g", "2001:db8::1:2:3:4:5:6:7",
        "fe80::1%lo", "[::1]:80", "localhost", "::1 ", " ::1"}) {
    EXPECT_FALSE(parseEndpoint(bad, 80, e)) << '"' << bad << '"';
    EXPECT_EQ(e.len, 0u) << bad;  // left empty, never half-filled
  }
}

}  // namespace
}  // namespace mws::net
