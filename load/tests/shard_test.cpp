#include "mws/load/shard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace mws::load {
namespace {

// Parses a command line the way main() does; returns parse()'s verdict.
std::optional<int> parse(LoadConfig& config, std::vector<std::string> args) {
  args.insert(args.begin(), "millionws-load");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return config.parse(static_cast<int>(argv.size()), argv.data());
}

TEST(ShardTest, SharesAddUpToTheTotalsForEveryCount) {
  LoadConfig c;
  c.connections = 1'000'003;
  c.echo_connections = 1'001;
  c.verify_sample = 17;
  c.rate = 10'000;
  c.echo_rate = 5'000;
  for (uint32_t count : {1u, 2u, 3u, 7u, 32u, 2'000u}) {
    uint64_t conns = 0, echo = 0, verify = 0;
    double rate = 0, echo_rate = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const ShardShare s = shardShare(c, i, count);
      EXPECT_LE(s.echo_connections, s.connections) << count << " " << i;
      EXPECT_LE(s.verify_sample, s.connections) << count << " " << i;
      // Even: no shard has more than one connection over another.
      EXPECT_LE(s.connections - c.connections / count, 1u);
      conns += s.connections;
      echo += s.echo_connections;
      verify += s.verify_sample;
      rate += s.rate;
      echo_rate += s.echo_rate;
    }
    EXPECT_EQ(conns, c.connections) << count;
    EXPECT_EQ(echo, c.echo_connections) << count;
    EXPECT_EQ(verify, c.verify_sample) << count;
    EXPECT_NEAR(rate, c.rate, 1e-6) << count;
    EXPECT_NEAR(echo_rate, c.echo_rate, 1e-6) << count;
  }
}

TEST(ShardTest, UnlimitedRateStaysUnlimitedAndNoEchoMeansNoEchoRate) {
  LoadConfig c;
  c.connections = 10;
  c.echo_connections = 0;
  c.rate = 0;
  c.echo_rate = 1000;
  const ShardShare s = shardShare(c, 1, 3);
  EXPECT_EQ(s.connections, 3u);
  EXPECT_EQ(s.rate, 0.0);
  EXPECT_EQ(s.echo_rate, 0.0);
}

TEST(ShardTest, ParseNarrowsTheTotalsToTheShard) {
  LoadConfig c;
  ASSERT_EQ(parse(c, {"--url", "ws://127.0.0.1:9/echo", "--connections", "1001", "--rate", "1001",
                      "--mode", "open", "--echo-connections", "10", "--echo-rate", "100",
                      "--verify-sample", "5", "--shard-count", "4", "--shard-index", "3"}),
            std::nullopt);
  EXPECT_EQ(c.connections_total, 1001u);
  EXPECT_EQ(c.connections, 250u);     // 251, 250, 250, 250
  EXPECT_EQ(c.echo_connections, 2u);  // 3, 3, 2, 2
  EXPECT_EQ(c.verify_sample, 1u);     // 2, 1, 1, 1
  EXPECT_DOUBLE_EQ(c.rate, 250.0);
  EXPECT_DOUBLE_EQ(c.echo_rate, 20.0);
  EXPECT_EQ(c.shard_index, 3u);
  EXPECT_EQ(c.shard_count, 4u);
}

TEST(ShardTest, WithoutShardFlagsTheProcessIsTheWholeRun) {
  LoadConfig c;
  ASSERT_EQ(parse(c, {"--url", "ws://127.0.0.1:9/echo", "--connections", "77"}), std::nullopt);
  EXPECT_EQ(c.connections, 77u);
  EXPECT_EQ(c.connections_total, 77u);
  EXPECT_EQ(c.shard_index, 0u);
  EXPECT_EQ(c.shard_count, 1u);
  EXPECT_EQ(c.start_at_unix, 0.0);
  EXPECT_FALSE(c.histograms);
}

TEST(ShardTest, ParseRefusesAnIndexOutsideTheCount) {
  LoadConfig c;
  EXPECT_EQ(
      parse(c, {"--url", "ws://127.0.0.1:9/echo", "--shard-count", "2", "--shard-index", "2"}), 2);
}

TEST(ShardTest, ParseRefusesAStartTimeMoreThanADayAhead) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  LoadConfig late;
  EXPECT_EQ(parse(late, {"--url", "ws://127.0.0.1:9/echo", "--start-at",
                         std::to_string(now + 2 * 86400)}),
            2);
  LoadConfig soon;
  ASSERT_EQ(parse(soon, {"--url", "ws://127.0.0.1:9/echo", "--start-at", std::to_string(now + 60),
                         "--histograms"}),
            std::nullopt);
  EXPECT_NEAR(soon.start_at_unix, now + 60, 1.0);
  EXPECT_TRUE(soon.histograms);
}

TEST(ShardTest, RemoteTargetsStillNeedAllowRemote) {
  LoadConfig refused;
  EXPECT_EQ(parse(refused, {"--url", "ws://192.0.2.1:80/echo", "--shard-count", "2"}), 2);
  LoadConfig allowed;
  EXPECT_EQ(
      parse(allowed, {"--url", "ws://192.0.2.1:80/echo", "--shard-count", "2", "--allow-remote"}),
      std::nullopt);
}

}  // namespace
}  // namespace mws::load
