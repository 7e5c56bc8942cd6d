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
}

TEST(TargetTest, RejectsWhatItCannotDo) {
  for (const char* bad : {"wss://127.0.0.1/", "http://127.0.0.1/", "ws://", "ws://:80/",
                          "ws://[::1]:80/", "ws://u@127.0.0.1/", "ws://127.0.0.1:0/",
                          "ws://127.0.0.1:65536/", "ws://127.0.0.1:x/", "127.0.0.1:80"}) {
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

TEST(TargetTest, ResolvesNumericAndLocalhost) {
  std::string error;
  auto t = resolveTarget("ws://127.0.0.2:9000/echo", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(isLoopback(t->address.sin_addr));
  EXPECT_EQ(ntohs(t->address.sin_port), 9000);
  EXPECT_EQ(t->host_header, "127.0.0.2:9000");

  t = resolveTarget("ws://localhost/", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(isLoopback(t->address.sin_addr));
  EXPECT_EQ(t->host_header, "localhost");

  t = resolveTarget("ws://10.1.2.3:80/", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_FALSE(isLoopback(t->address.sin_addr));
}

}  // namespace
}  // namespace mws::load
