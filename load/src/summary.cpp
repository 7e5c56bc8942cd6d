#include "mws/load/summary.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "mws/load/histogram_json.h"

namespace mws::load {

namespace {

using Json = nlohmann::ordered_json;

double round3(double v) noexcept { return std::round(v * 1000.0) / 1000.0; }

double nanosToMillis(uint64_t ns) noexcept { return round3(static_cast<double>(ns) / 1e6); }

Json percentilesMs(const Histogram& h) {
  return {{"p50", nanosToMillis(h.percentile(0.50))},
          {"p90", nanosToMillis(h.percentile(0.90))},
          {"p99", nanosToMillis(h.percentile(0.99))},
          {"p999", nanosToMillis(h.percentile(0.999))},
          {"max", nanosToMillis(h.max())}};
}

}  // namespace

std::string renderSummary(const LoadConfig& config, const WorkerReport& r, const RunInfo& run) {
  Json reasons = Json::object();
  for (size_t i = 0; i < r.failed_by_reason.size(); ++i) {
    if (r.failed_by_reason[i] != 0) {
      reasons[failReasonName(static_cast<FailReason>(i))] = r.failed_by_reason[i];
    }
  }
  const double ramp_rate =
      r.ramp_seconds > 0 ? static_cast<double>(r.connected) / r.ramp_seconds : 0.0;
  const double echo_rate =
      r.echo_seconds > 0 ? static_cast<double>(r.echo_received) / r.echo_seconds : 0.0;
  // A start time not asked for is null; lateness says how far behind it this shard began.
  const Json requested_start =
      config.start_at_unix > 0 ? Json(round3(config.start_at_unix)) : Json(nullptr);
  const double late =
      config.start_at_unix > 0 ? std::max(0.0, run.started_at_unix - config.start_at_unix) : 0.0;
  Json summary = {
      {"target", config.url},
      {"procs", config.procs},
      {"host", run.host},
      {"shard",
       {{"index", config.shard_index},
        {"count", config.shard_count},
        {"connections_total", config.connections_total}}},
      {"start",
       {{"requested_unix", requested_start},
        {"actual_unix", round3(run.started_at_unix)},
        {"late_seconds", round3(late)}}},
      {"connections",
       {{"requested", config.connections},
        {"connected", r.connected},
        {"failed", r.failed},
        {"failed_by_reason", std::move(reasons)},
        {"server_closed", r.server_closed},
        {"open_at_end", r.open_at_end}}},
      {"ramp", {{"seconds", round3(r.ramp_seconds)}, {"rate_per_second", round3(ramp_rate)}}},
      {"handshake_latency_ms", percentilesMs(r.handshake_ns)},
      {"echo",
       {{"mode", echoModeName(config.mode)},
        {"connections", r.echo_connections},
        {"message_bytes", config.message_bytes},
        {"duration_seconds", round3(r.echo_seconds)},
        {"sent", r.echo_sent},
        {"received", r.echo_received},
        {"verify_errors", r.verify_errors},
        {"messages_per_second", round3(echo_rate)},
        {"latency_ms", percentilesMs(r.echo_latency_ns)}}},
      {"verify_sample",
       {{"requested", config.verify_sample}, {"ok", r.verify_ok}, {"failed", r.verify_failed}}},
  };
  if (config.target.parts.tls) {
    summary["tls"] = {{"handshakes_full", r.tls_full},
                      {"handshakes_resumed", r.tls_resumed},
                      {"resume_offered", config.tls_resume},
                      {"handshake_latency_ms", percentilesMs(r.tls_handshake_ns)}};
  }
  if (config.histograms) {
    // Percentiles cannot be averaged across pods; buckets can be added (deploy/load/gather.py).
    summary["histograms"] = {{"unit", "ns"},
                             {"sub_bits", Histogram::kSubBits},
                             {"handshake", Json(histogramToJson(r.handshake_ns))},
                             {"echo_latency", Json(histogramToJson(r.echo_latency_ns))}};
  }
  return summary.dump();
}

int exitStatusFor(const WorkerReport& r) noexcept {
  const bool clean = !r.aborted && r.failed == 0 && r.verify_errors == 0 && r.verify_failed == 0;
  return clean ? 0 : 1;
}

}  // namespace mws::load
