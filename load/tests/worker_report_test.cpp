#include "mws/load/worker_report.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mws::load {
namespace {

WorkerReport sample(uint64_t scale) {
  WorkerReport r;
  r.requested = 100 * scale;
  r.connected = 97 * scale;
  r.addFailure(FailReason::kTimeout, 2 * scale);
  r.addFailure(FailReason::kConnectRefused, scale);
  r.server_closed = scale;
  r.open_at_end = 96 * scale;
  r.ramp_seconds = 1.5 * static_cast<double>(scale);
  for (uint64_t i = 1; i <= 100; ++i) r.handshake_ns.record(i * 1000 * scale);
  r.tls_handshake_ns.record(700'000 * scale);
  r.tls_full = 3 * scale;
  r.tls_resumed = 94 * scale;
  r.echo_connections = 10;
  r.echo_sent = 1000;
  r.echo_received = 999;
  r.verify_errors = 1;
  r.echo_seconds = 2.0;
  r.echo_latency_ns.record(250'000);
  r.verify_requested = 5;
  r.verify_ok = 5;
  return r;
}

TEST(WorkerReportTest, JsonRoundTrip) {
  const WorkerReport r = sample(3);
  const auto back = WorkerReport::fromJson(r.toJson());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->requested, r.requested);
  EXPECT_EQ(back->failed, r.failed);
  EXPECT_EQ(back->failed_by_reason, r.failed_by_reason);
  EXPECT_EQ(back->handshake_ns.count(), r.handshake_ns.count());
  EXPECT_EQ(back->handshake_ns.max(), r.handshake_ns.max());
  EXPECT_EQ(back->handshake_ns.min(), r.handshake_ns.min());
  EXPECT_EQ(back->handshake_ns.percentile(0.9), r.handshake_ns.percentile(0.9));
  EXPECT_EQ(back->echo_latency_ns.max(), 250'000u);
  EXPECT_EQ(back->tls_handshake_ns.max(), 2'100'000u);
  EXPECT_EQ(back->tls_full, 9u);
  EXPECT_EQ(back->tls_resumed, 282u);
  EXPECT_DOUBLE_EQ(back->ramp_seconds, r.ramp_seconds);
  EXPECT_FALSE(back->aborted);
}

TEST(WorkerReportTest, RejectsGarbage) {
  EXPECT_FALSE(WorkerReport::fromJson(""));
  EXPECT_FALSE(WorkerReport::fromJson("{\"requested\":1}"));
  EXPECT_FALSE(WorkerReport::fromJson("[1,2]"));
}

TEST(WorkerReportTest, MergeAddsCountsAndKeepsLongestPhases) {
  WorkerReport a = sample(1);
  const WorkerReport b = sample(2);
  a.merge(b);
  EXPECT_EQ(a.requested, 300u);
  EXPECT_EQ(a.failed, 9u);
  EXPECT_EQ(a.failed_by_reason[static_cast<size_t>(FailReason::kTimeout)], 6u);
  EXPECT_DOUBLE_EQ(a.ramp_seconds, 3.0);
  EXPECT_EQ(a.handshake_ns.count(), 200u);
  EXPECT_EQ(a.handshake_ns.max(), 200'000u);
  EXPECT_EQ(a.echo_sent, 2000u);
  EXPECT_EQ(a.tls_handshake_ns.count(), 2u);
  EXPECT_EQ(a.tls_resumed, 282u);
  EXPECT_EQ(a.tls_full, 9u);
}

TEST(WorkerReportTest, ReasonNamesAreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(FailReason::kCount); ++i) {
    EXPECT_TRUE(names.insert(failReasonName(static_cast<FailReason>(i))).second);
  }
}

}  // namespace
}  // namespace mws::load
