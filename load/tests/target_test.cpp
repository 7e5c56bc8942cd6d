#include "mws/load/target.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace mws::load {
namespace {

in_addr ip(const char* text) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1);
  return a;
}

TEST(TargetTest, ParsesHostPortAndPath) {
  std::string error;
  auto url = parseWsUrl("ws://127.0.0.1:8080/echo", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/echo");

  url = parseWsUrl("WS://localhost", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "/");

  url = parseWsUrl("ws://h:1?x=1#frag", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->path, "/?x=1");
  EXPECT_FALSE(url->tls);
}

std::optional<in_addr> fakeResolver(const std::string& host);

TEST(TargetTest, WssIsTlsWithPort443ByDefault) {
  std::string error;
  auto url = parseWsUrl("wss://127.0.0.1:8443/echo", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/echo");
  url = parseWsUrl("WSS://localhost", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->port, 443);
  // The Host header names the port only when it is not the scheme's default.
  auto t = resolveTarget("wss://millionws.test/echo", &error, fakeResolver);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host_header, "millionws.test");
  t = resolveTarget("wss://millionws.test:80/echo", &error, fakeResolver);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host_header, "millionws.test:80");
}

TEST(TargetTest, RejectsWhatItCannotDo) {
  for (const char* bad :
       {"wss://", "http://127.0.0.1/", "ws://", "ws://:80/", "ws://[::1]:80/", "ws://u@127.0.0.1/",
        "ws://127.0.0.1:0/", "ws://127.0.0.1:65536/", "ws://127.0.0.1:x/", "127.0.0.1:80"}) {
    std::string error;
    EXPECT_FALSE(parseWsUrl(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(TargetTest, LoopbackIsAllOf127Slash8) {
  EXPECT_TRUE(isLoopback(ip("127.0.0.1")));
  EXPECT_TRUE(isLoopback(ip("127.255.255.254")));
  EXPECT_TRUE(isLoopback(ip("127.3.2.1")));
  EXPECT_FALSE(isLoopback(ip("128.0.0.1")));
  EXPECT_FALSE(isLoopback(ip("10.0.0.1")));
  EXPECT_FALSE(isLoopback(ip("0.0.0.0")));
  EXPECT_FALSE(isLoopback(ip("192.168.1.127")));
}

// A resolver that knows one name, so these tests do not depend on /etc/hosts or DNS.
std::optional<in_addr> fakeResolver(const std::string& host) {
  if (host == "millionws.test") return ip("127.0.0.9");
  if (host == "remote.test") return ip("10.9.8.7");
  return std::nullopt;
}

TEST(TargetTest, ResolvesDottedQuadsWithoutNameService) {
  std::string error;
  auto t = resolveTarget("ws://127.0.0.2:9000/echo", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(isLoopback(t->address.sin_addr));
  EXPECT_EQ(ntohs(t->address.sin_port), 9000);
  EXPECT_EQ(t->host_header, "127.0.0.2:9000");

  t = resolveTarget("ws://10.1.2.3:80/", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_FALSE(isLoopback(t->address.sin_addr));
  EXPECT_EQ(t->host_header, "10.1.2.3");
}

TEST(TargetTest, ResolvesNamesThroughTheGivenResolver) {
  std::string error;
  auto t = resolveTarget("ws://millionws.test:8080/echo", &error, fakeResolver);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->address.sin_addr.s_addr, ip("127.0.0.9").s_addr);
  EXPECT_EQ(ntohs(t->address.sin_port), 8080);
  EXPECT_EQ(t->host_header, "millionws.test:8080");

  t = resolveTarget("ws://remote.test/", &error, fakeResolver);
  ASSERT_TRUE(t) << error;
  EXPECT_FALSE(isLoopback(t->address.sin_addr));
  EXPECT_EQ(t->host_header, "remote.test");
}

TEST(TargetTest, NameWithoutAnAddressIsAnError) {
  std::string error;
  EXPECT_FALSE(resolveTarget("ws://nowhere.test/", &error, fakeResolver));
  EXPECT_EQ(error, "cannot resolve nowhere.test to an IPv4 address");
}

}  // namespace
}  // namespace mws::load
