#include "mws/load/summary.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mws/load/histogram_json.h"

namespace mws::load {
namespace {

LoadConfig config() {
  LoadConfig c;
  std::string error;
  c.url = "ws://127.0.0.1:8080/echo";
  c.target = *resolveTarget(c.url, &error);
  c.connections = 100;
  c.procs = 2;
  c.mode = EchoMode::kOpen;
  c.verify_sample = 10;
  return c;
}

WorkerReport report() {
  WorkerReport r;
  r.requested = 100;
  r.connected = 100;
  r.open_at_end = 100;
  r.ramp_seconds = 2.0;
  r.handshake_ns.record(1'500'000);
  r.echo_connections = 10;
  r.echo_sent = 500;
  r.echo_received = 500;
  r.echo_seconds = 5.0;
  r.echo_latency_ns.record(250'000);
  r.verify_requested = 10;
  r.verify_ok = 10;
  return r;
}

RunInfo run() { return RunInfo{"load-7", 1'700'000'000.25}; }

TEST(SummaryTest, TlsCountsAppearForWssOnly) {
  auto j = nlohmann::json::parse(renderSummary(config(), report(), run()));
  EXPECT_FALSE(j.contains("tls"));
  LoadConfig c = config();
  std::string error;
  c.url = "wss://127.0.0.1:8443/echo";
  c.target = *resolveTarget(c.url, &error);
  c.tls_resume = true;
  WorkerReport r = report();
  r.tls_full = 1;
  r.tls_resumed = 99;
  r.tls_handshake_ns.record(800'000);
  j = nlohmann::json::parse(renderSummary(c, r, run()));
  ASSERT_TRUE(j.contains("tls"));
  EXPECT_EQ(j["tls"]["handshakes_full"], 1);
  EXPECT_EQ(j["tls"]["handshakes_resumed"], 99);
  EXPECT_EQ(j["tls"]["resume_offered"], true);
  EXPECT_DOUBLE_EQ(j["tls"]["handshake_latency_ms"]["max"].get<double>(), 0.8);
}

TEST(SummaryTest, HasTheDocumentedShape) {
  const auto j = nlohmann::json::parse(renderSummary(config(), report(), run()));
  EXPECT_EQ(j["target"], "ws://127.0.0.1:8080/echo");
  EXPECT_EQ(j["procs"], 2);
  for (const char* key :
       {"requested", "connected", "failed", "failed_by_reason", "server_closed", "open_at_end"}) {
    EXPECT_TRUE(j["connections"].contains(key)) << key;
  }
  EXPECT_EQ(j["connections"]["connected"], 100);
  EXPECT_DOUBLE_EQ(j["ramp"]["seconds"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["ramp"]["rate_per_second"].get<double>(), 50.0);
  for (const char* key : {"p50", "p90", "p99", "p999", "max"}) {
    EXPECT_TRUE(j["handshake_latency_ms"][key].is_number()) << key;
    EXPECT_TRUE(j["echo"]["latency_ms"][key].is_number()) << key;
  }
  EXPECT_DOUBLE_EQ(j["handshake_latency_ms"]["max"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["echo"]["latency_ms"]["p50"].get<double>(), 0.25);
  EXPECT_EQ(j["echo"]["mode"], "open");
  EXPECT_DOUBLE_EQ(j["echo"]["messages_per_second"].get<double>(), 100.0);
  for (const char* key :
       {"connections", "message_bytes", "duration_seconds", "sent", "received", "verify_errors"}) {
    EXPECT_TRUE(j["echo"][key].is_number()) << key;
  }
  EXPECT_EQ(j["verify_sample"]["requested"], 10);
  EXPECT_EQ(j["verify_sample"]["ok"], 10);
  EXPECT_EQ(j["verify_sample"]["failed"], 0);
}

TEST(SummaryTest, LabelsTheShardHostAndStart) {
  const auto plain = nlohmann::json::parse(renderSummary(config(), report(), run()));
  EXPECT_EQ(plain["host"], "load-7");
  EXPECT_EQ(plain["shard"], nlohmann::json({{"index", 0}, {"count", 1}, {"connections_total", 0}}));
  EXPECT_TRUE(plain["start"]["requested_unix"].is_null());
  EXPECT_DOUBLE_EQ(plain["start"]["actual_unix"].get<double>(), 1'700'000'000.25);
  EXPECT_DOUBLE_EQ(plain["start"]["late_seconds"].get<double>(), 0.0);
  EXPECT_FALSE(plain.contains("histograms"));

  LoadConfig c = config();
  c.shard_index = 3;
  c.shard_count = 8;
  c.connections_total = 800;
  c.start_at_unix = 1'700'000'000.0;
  const auto j = nlohmann::json::parse(renderSummary(c, report(), run()));
  EXPECT_EQ(j["shard"], nlohmann::json({{"index", 3}, {"count", 8}, {"connections_total", 800}}));
  EXPECT_DOUBLE_EQ(j["start"]["requested_unix"].get<double>(), 1'700'000'000.0);
  EXPECT_DOUBLE_EQ(j["start"]["late_seconds"].get<double>(), 0.25);
}

TEST(SummaryTest, HistogramsOnRequestRoundTrip) {
  WorkerReport r = report();
  for (uint64_t v = 1; v <= 5000; ++v) r.echo_latency_ns.record(v * 997);
  LoadConfig c = config();
  c.histograms = true;
  const auto j = nlohmann::json::parse(renderSummary(c, r, run()));
  const auto& h = j["histograms"];
  EXPECT_EQ(h["unit"], "ns");
  EXPECT_EQ(h["sub_bits"], Histogram::kSubBits);
  const Histogram echo = histogramFromJson(h["echo_latency"]);
  const Histogram handshake = histogramFromJson(h["handshake"]);
  EXPECT_EQ(echo.count(), r.echo_latency_ns.count());
  EXPECT_EQ(handshake.count(), 1u);
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    EXPECT_EQ(echo.percentile(q), r.echo_latency_ns.percentile(q)) << q;
  }
}

TEST(SummaryTest, FailureReasonsByName) {
  WorkerReport r = report();
  r.connected = 97;
  r.addFailure(FailReason::kTimeout, 2);
  r.addFailure(FailReason::kBadAcceptKey, 1);
  const auto j = nlohmann::json::parse(renderSummary(config(), r, run()));
  EXPECT_EQ(j["connections"]["failed"], 3);
  EXPECT_EQ(j["connections"]["failed_by_reason"]["timeout"], 2);
  EXPECT_EQ(j["connections"]["failed_by_reason"]["bad_accept_key"], 1);
  EXPECT_EQ(j["connections"]["failed_by_reason"].size(), 2u);
}

TEST(SummaryTest, ExitStatus) {
  EXPECT_EQ(exitStatusFor(report()), 0);
  WorkerReport r = report();
  r.addFailure(FailReason::kReset);
  EXPECT_EQ(exitStatusFor(r), 1);
  r = report();
  r.verify_errors = 1;
  EXPECT_EQ(exitStatusFor(r), 1);
  r = report();
  r.verify_failed = 1;
  EXPECT_EQ(exitStatusFor(r), 1);
  r = report();
  r.aborted = true;
  EXPECT_EQ(exitStatusFor(r), 1);
  r = report();
  r.server_closed = 3;  // reported, but not a failure by itself
  EXPECT_EQ(exitStatusFor(r), 0);
}

}  // namespace
}  // namespace mws::load
