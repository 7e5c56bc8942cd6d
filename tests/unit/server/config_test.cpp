#include "mws/server/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mws::server {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("12h"), milliseconds(43'200'000));
  EXPECT_EQ(parseDuration("5"), milliseconds(5'000));  // bare number: seconds
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
  EXPECT_EQ(parseDuration("0ms"), milliseconds(0));
  EXPECT_EQ(parseDuration("off"), milliseconds(0));
  EXPECT_EQ(parseDuration("1500ms"), milliseconds(1500));
}

TEST(ParseDurationTest, Malformed) {
  for (const char* text :
       {"", "junk", "10x", "ms", "s", "-5", "-5s", "1.5s", " 5s", "5s ", "5 s", "10sec", "10msx",
        "1h30m", "+5", "0x10", "99999999999999999999", "1099511627777"}) {
    EXPECT_EQ(parseDuration(text), std::nullopt) << '"' << text << '"';
  }
}

// Clears every MILLIONWS_* variable around each test so the environment cannot leak in.
class ConfigTest : public testing::Test {
 protected:
  static constexpr const char* kVars[] = {
      "MILLIONWS_BIND",
      "MILLIONWS_PORT",
      "MILLIONWS_THREADS",
      "MILLIONWS_MAX_CONNECTIONS",
      "MILLIONWS_MAX_MESSAGE_BYTES",
      "MILLIONWS_MAX_HEADER_BYTES",
      "MILLIONWS_HANDSHAKE_TIMEOUT",
      "MILLIONWS_IDLE_TIMEOUT",
      "MILLIONWS_PING_INTERVAL",
      "MILLIONWS_MAX_PENDING_BYTES",
      "MILLIONWS_DRAIN_TIMEOUT",
      "MILLIONWS_ALLOWED_ORIGINS",
      "MILLIONWS_LOG_LEVEL",
      "MILLIONWS_LOG_FORMAT",
      "MILLIONWS_ADMIN_BIND",
      "MILLIONWS_ADMIN_PORT",
  };
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* v : kVars) ::unsetenv(v);
  }

  static std::optional<int> parse(Config& c, std::vector<std::string> args) {
    args.insert(args.begin(), "millionws");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return c.parse(static_cast<int>(args.size()), argv.data());
  }

  static void expectRejected(std::vector<std::string> args) {
    Config c;
    const std::optional<int> rc = parse(c, args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    ASSERT_TRUE(rc.has_value()) << joined;
    EXPECT_NE(*rc, 0) << joined;
  }
};

TEST_F(ConfigTest, Defaults) {
  Config c;
  EXPECT_EQ(parse(c, {}), std::nullopt);
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.max_connections, 0u);
  EXPECT_EQ(c.max_message_bytes, 1u << 20);
  EXPECT_EQ(c.max_header_bytes, 8u << 10);
  EXPECT_EQ(c.handshake_timeout, milliseconds(10'000));
  EXPECT_EQ(c.idle_timeout, milliseconds(0));
  EXPECT_EQ(c.ping_interval, milliseconds(0));
  EXPECT_EQ(c.max_pending_bytes, 1u << 20);
  EXPECT_EQ(c.drain_timeout, milliseconds(10'000));
  EXPECT_TRUE(c.allowed_origins.empty());
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.admin_bind, "0.0.0.0");
  EXPECT_EQ(c.admin_port, 9090);
}

TEST_F(ConfigTest, EveryFlag) {
  Config c;
  EXPECT_EQ(parse(c, {"--bind",
                      "127.0.0.1",
                      "--port",
                      "9001",
                      "--threads",
                      "4",
                      "--max-connections",
                      "1000000",
                      "--max-message-bytes",
                      "64KiB",
                      "--max-header-bytes",
                      "4096",
                      "--handshake-timeout",
                      "5s",
                      "--idle-timeout",
                      "2m",
                      "--ping-interval",
                      "30s",
                      "--max-pending-bytes",
                      "1MiB",
                      "--drain-timeout",
                      "250ms",
                      "--allowed-origins",
                      "https://a.example,https://b.example",
                      "--log-level",
                      "debug",
                      "--log-format",
                      "json",
                      "--admin-bind",
                      "127.0.0.2",
                      "--admin-port",
                      "0"}),
            std::nullopt);
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.max_connections, 1'000'000u);
  EXPECT_EQ(c.max_message_bytes, 65536u);
  EXPECT_EQ(c.max_header_bytes, 4096u);
  EXPECT_EQ(c.handshake_timeout, milliseconds(5'000));
  EXPECT_EQ(c.idle_timeout, milliseconds(120'000));
  EXPECT_EQ(c.ping_interval, milliseconds(30'000));
  EXPECT_EQ(c.max_pending_bytes, 1u << 20);
  EXPECT_EQ(c.drain_timeout, milliseconds(250));
  EXPECT_EQ(c.allowed_origins,
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.admin_bind, "127.0.0.2");
  EXPECT_EQ(c.admin_port, 0);
}

TEST_F(ConfigTest, EqualsSyntax) {
  Config c;
  EXPECT_EQ(parse(c, {"--port=1234", "--idle-timeout=off", "--max-message-bytes=1024"}),
            std::nullopt);
  EXPECT_EQ(c.port, 1234);
  EXPECT_EQ(c.idle_timeout, milliseconds(0));
  EXPECT_EQ(c.max_message_bytes, 1024u);
}

TEST_F(ConfigTest, Sizes) {
  struct Case {
    const char* text;
    uint32_t bytes;
  };
  for (const Case& k : {Case{"64KiB", 65536}, Case{"1MiB", 1u << 20}, Case{"1024", 1024},
                        Case{"1", 1}, Case{"1GiB", 1u << 30}, Case{"64KB", 65536}}) {
    Config c;
    EXPECT_EQ(parse(c, {"--max-message-bytes", k.text}), std::nullopt) << k.text;
    EXPECT_EQ(c.max_message_bytes, k.bytes) << k.text;
  }
}

TEST_F(ConfigTest, AllowedOrigins) {
  Config c;
  EXPECT_EQ(parse(c, {"--allowed-origins", "a,b"}), std::nullopt);
  EXPECT_EQ(c.allowed_origins, (std::vector<std::string>{"a", "b"}));
  Config one;
  EXPECT_EQ(parse(one, {"--allowed-origins", "https://only.example"}), std::nullopt);
  EXPECT_EQ(one.allowed_origins, std::vector<std::string>{"https://only.example"});
}

TEST_F(ConfigTest, EnvironmentVariables) {
  ::setenv("MILLIONWS_PORT", "7000", 1);
  ::setenv("MILLIONWS_BIND", "::1", 1);
  ::setenv("MILLIONWS_THREADS", "3", 1);
  ::setenv("MILLIONWS_MAX_MESSAGE_BYTES", "2MiB", 1);
  ::setenv("MILLIONWS_MAX_HEADER_BYTES", "16KiB", 1);
  ::setenv("MILLIONWS_IDLE_TIMEOUT", "90s", 1);
  ::setenv("MILLIONWS_PING_INTERVAL", "1m", 1);
  ::setenv("MILLIONWS_HANDSHAKE_TIMEOUT", "1500ms", 1);
  ::setenv("MILLIONWS_DRAIN_TIMEOUT", "off", 1);
  ::setenv("MILLIONWS_MAX_PENDING_BYTES", "4096", 1);
  ::setenv("MILLIONWS_MAX_CONNECTIONS", "42", 1);
  ::setenv("MILLIONWS_ALLOWED_ORIGINS", "https://x.example,https://y.example", 1);
  ::setenv("MILLIONWS_LOG_LEVEL", "warn", 1);
  ::setenv("MILLIONWS_LOG_FORMAT", "json", 1);
  ::setenv("MILLIONWS_ADMIN_BIND", "127.0.0.1", 1);
  ::setenv("MILLIONWS_ADMIN_PORT", "9999", 1);
  Config c;
  EXPECT_EQ(parse(c, {}), std::nullopt);
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.bind, "::1");
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.max_message_bytes, 2u << 20);
  EXPECT_EQ(c.max_header_bytes, 16u << 10);
  EXPECT_EQ(c.idle_timeout, milliseconds(90'000));
  EXPECT_EQ(c.ping_interval, milliseconds(60'000));
  EXPECT_EQ(c.handshake_timeout, milliseconds(1'500));
  EXPECT_EQ(c.drain_timeout, milliseconds(0));
  EXPECT_EQ(c.max_pending_bytes, 4096u);
  EXPECT_EQ(c.max_connections, 42u);
  EXPECT_EQ(c.allowed_origins,
            (std::vector<std::string>{"https://x.example", "https://y.example"}));
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.admin_bind, "127.0.0.1");
  EXPECT_EQ(c.admin_port, 9999);
}

TEST_F(ConfigTest, FlagOverridesEnvironment) {
  ::setenv("MILLIONWS_PORT", "7000", 1);
  ::setenv("MILLIONWS_IDLE_TIMEOUT", "90s", 1);
  ::setenv("MILLIONWS_MAX_MESSAGE_BYTES", "2MiB", 1);
  Config c;
  EXPECT_EQ(parse(c, {"--port", "7001", "--idle-timeout", "5s", "--max-message-bytes", "100"}),
            std::nullopt);
  EXPECT_EQ(c.port, 7001);
  EXPECT_EQ(c.idle_timeout, milliseconds(5'000));
  EXPECT_EQ(c.max_message_bytes, 100u);
}

TEST_F(ConfigTest, InvalidValuesReturnAnExitCode) {
  expectRejected({"--port", "70000"});
  expectRejected({"--port", "-1"});
  expectRejected({"--port", "abc"});
  expectRejected({"--threads", "2000"});
  expectRejected({"--threads", "two"});
  expectRejected({"--max-connections", "many"});
  expectRejected({"--max-message-bytes", "0"});
  expectRejected({"--max-message-bytes", "2GiB"});
  expectRejected({"--max-message-bytes", "junk"});
  expectRejected({"--max-message-bytes", "-5"});
  expectRejected({"--max-message-bytes", ""});
  expectRejected({"--max-header-bytes", "100"});  // below the 256 minimum
  expectRejected({"--max-header-bytes", "2MiB"});
  expectRejected({"--max-pending-bytes", "1000"});
  expectRejected({"--handshake-timeout", "13h"});  // above the 12h cap
  expectRejected({"--idle-timeout", "10x"});
  expectRejected({"--ping-interval", ""});
  expectRejected({"--drain-timeout", "soon"});
  expectRejected({"--log-level", "loud"});
  expectRejected({"--log-format", "xml"});
  expectRejected({"--no-such-flag"});
  expectRejected({"--port"});  // missing value
  expectRejected({"stray-positional"});
}

TEST_F(ConfigTest, InvalidEnvironmentValueReturnsAnExitCode) {
  ::setenv("MILLIONWS_PORT", "not-a-port", 1);
  expectRejected({});
  ConfigTest::clear();
  ::setenv("MILLIONWS_IDLE_TIMEOUT", "forever", 1);
  expectRejected({});
}

TEST_F(ConfigTest, HelpReturnsZero) {
  Config c;
  const std::optional<int> rc = parse(c, {"--help"});
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0);
  Config d;
  const std::optional<int> rc2 = parse(d, {"-h"});
  ASSERT_TRUE(rc2.has_value());
  EXPECT_EQ(*rc2, 0);
}

TEST_F(ConfigTest, Describe) {
  Config c;
  ASSERT_EQ(parse(c, {"--port", "9001", "--idle-timeout", "1500ms", "--allowed-origins", "a,b",
                      "--admin-port", "0"}),
            std::nullopt);
  const std::string d = c.describe();
  EXPECT_NE(d.find("port=9001"), std::string::npos) << d;
  EXPECT_NE(d.find("idle_timeout=1500ms"), std::string::npos) << d;
  EXPECT_NE(d.find("handshake_timeout=10s"), std::string::npos) << d;
  EXPECT_NE(d.find("ping_interval=off"), std::string::npos) << d;
  EXPECT_NE(d.find("allowed_origins=a,b"), std::string::npos) << d;
  EXPECT_NE(d.find("admin=off"), std::string::npos) << d;
  Config dflt;
  ASSERT_EQ(parse(dflt, {}), std::nullopt);
  EXPECT_NE(dflt.describe().find("allowed_origins=any"), std::string::npos);
  EXPECT_NE(dflt.describe().find("admin=0.0.0.0:9090"), std::string::npos);
}

}  // namespace
}  // namespace mws::server
