#include "mws/load/worker_plan.h"

#include <gtest/gtest.h>

#include <set>

namespace mws::load {
namespace {

LoadConfig config(const char* url = "ws://127.0.0.1:8080/echo") {
  LoadConfig c;
  std::string error;
  c.url = url;
  c.target = *resolveTarget(url, &error);
  return c;
}

TEST(WorkerPlanTest, SharesAddUpToTotals) {
  LoadConfig c = config();
  c.connections = 30'001;
  c.procs = 4;
  c.rate = 8000;
  c.echo_connections = 1001;
  c.echo_rate = 5000;
  c.verify_sample = 10;
  c.source_ips = 9;
  uint64_t conns = 0, echo = 0, verify = 0;
  double rate = 0, echo_rate = 0;
  std::set<uint32_t> sources;
  for (uint32_t w = 0; w < c.procs; ++w) {
    const WorkerPlan p = makeWorkerPlan(c, w);
    EXPECT_EQ(p.first_conn_id, conns);
    EXPECT_LE(p.echo_connections, p.connections);
    conns += p.connections;
    echo += p.echo_connections;
    verify += p.verify_sample;
    rate += p.connect_rate;
    echo_rate += p.echo_rate;
    for (uint32_t a : p.sources) EXPECT_TRUE(sources.insert(a).second);
  }
  EXPECT_EQ(conns, 30'001u);
  EXPECT_EQ(echo, 1001u);
  EXPECT_EQ(verify, 10u);
  EXPECT_DOUBLE_EQ(rate, 8000);
  EXPECT_NEAR(echo_rate, 5000, 1e-6);
  EXPECT_EQ(sources.size(), 9u);
}

TEST(WorkerPlanTest, EchoRateFollowsEchoConnections) {
  LoadConfig c = config();
  c.connections = 10;
  c.procs = 3;
  c.echo_connections = 4;  // 2 + 1 + 1
  c.echo_rate = 400;
  EXPECT_DOUBLE_EQ(makeWorkerPlan(c, 0).echo_rate, 200);
  EXPECT_DOUBLE_EQ(makeWorkerPlan(c, 2).echo_rate, 100);
  c.echo_connections = 0;
  EXPECT_DOUBLE_EQ(makeWorkerPlan(c, 0).echo_rate, 0);
}

TEST(WorkerPlanTest, NoSourceBindingTowardsRemoteTargets) {
  LoadConfig c = config("ws://10.0.0.1:80/");
  c.source_ips = 4;
  EXPECT_TRUE(makeWorkerPlan(c, 0).sources.empty());
}

}  // namespace
}  // namespace mws::load
