#include "mws/load/worker_report.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mws/load/histogram_json.h"

namespace mws::load {

using nlohmann::json;

const char* failReasonName(FailReason reason) noexcept {
  switch (reason) {
    case FailReason::kConnectRefused:
      return "connect_refused";
    case FailReason::kConnectError:
      return "connect_error";
    case FailReason::kAddressUnavailable:
      return "address_unavailable";
    case FailReason::kNoDescriptors:
      return "no_descriptors";
    case FailReason::kTimeout:
      return "timeout";
    case FailReason::kBadStatus:
      return "bad_status";
    case FailReason::kBadAcceptKey:
      return "bad_accept_key";
    case FailReason::kBadResponse:
      return "bad_response";
    case FailReason::kReset:
      return "reset";
    case FailReason::kClosed:
      return "closed";
    case FailReason::kTlsFailed:
      return "tls_failed";
    case FailReason::kAborted:
      return "aborted";
    case FailReason::kWorkerLost:
      return "worker_lost";
    case FailReason::kCount:
      break;
  }
  return "unknown";
}

void WorkerReport::addFailure(FailReason reason, uint64_t n) noexcept {
  failed += n;
  failed_by_reason[static_cast<size_t>(reason)] += n;
}

void WorkerReport::merge(const WorkerReport& other) noexcept {
  requested += other.requested;
  connected += other.connected;
  failed += other.failed;
  for (size_t i = 0; i < failed_by_reason.size(); ++i) {
    failed_by_reason[i] += other.failed_by_reason[i];
  }
  server_closed += other.server_closed;
  open_at_end += other.open_at_end;
  ramp_seconds = std::max(ramp_seconds, other.ramp_seconds);
  handshake_ns.merge(other.handshake_ns);
  tls_handshake_ns.merge(other.tls_handshake_ns);
  tls_full += other.tls_full;
  tls_resumed += other.tls_resumed;
  echo_connections += other.echo_connections;
  echo_scheduled += other.echo_scheduled;
  echo_sent += other.echo_sent;
  echo_received += other.echo_received;
  verify_errors += other.verify_errors;
  echo_seconds = std::max(echo_seconds, other.echo_seconds);
  echo_latency_ns.merge(other.echo_latency_ns);
  verify_requested += other.verify_requested;
  verify_ok += other.verify_ok;
  verify_failed += other.verify_failed;
  aborted = aborted || other.aborted;
}

std::string WorkerReport::toJson() const {
  json reasons = json::array();
  for (uint64_t n : failed_by_reason) reasons.push_back(n);
  const json j = {
      {"requested", requested},
      {"connected", connected},
      {"failed", failed},
      {"failed_by_reason", std::move(reasons)},
      {"server_closed", server_closed},
      {"open_at_end", open_at_end},
      {"ramp_seconds", ramp_seconds},
      {"handshake_ns", histogramToJson(handshake_ns)},
      {"tls_handshake_ns", histogramToJson(tls_handshake_ns)},
      {"tls_full", tls_full},
      {"tls_resumed", tls_resumed},
      {"echo_connections", echo_connections},
      {"echo_scheduled", echo_scheduled},
      {"echo_sent", echo_sent},
      {"echo_received", echo_received},
      {"verify_errors", verify_errors},
      {"echo_seconds", echo_seconds},
      {"echo_latency_ns", histogramToJson(echo_latency_ns)},
      {"verify_requested", verify_requested},
      {"verify_ok", verify_ok},
      {"verify_failed", verify_failed},
      {"aborted", aborted},
  };
  return j.dump();
}

std::optional<WorkerReport> WorkerReport::fromJson(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    WorkerReport r;
    r.requested = j.at("requested").get<uint64_t>();
    r.connected = j.at("connected").get<uint64_t>();
    r.failed = j.at("failed").get<uint64_t>();
    const json& reasons = j.at("failed_by_reason");
    for (size_t i = 0; i < r.failed_by_reason.size() && i < reasons.size(); ++i) {
      r.failed_by_reason[i] = reasons.at(i).get<uint64_t>();
    }
    r.server_closed = j.at("server_closed").get<uint64_t>();
    r.open_at_end = j.at("open_at_end").get<uint64_t>();
    r.ramp_seconds = j.at("ramp_seconds").get<double>();
    r.handshake_ns = histogramFromJson(j.at("handshake_ns"));
    r.tls_handshake_ns = histogramFromJson(j.at("tls_handshake_ns"));
    r.tls_full = j.at("tls_full").get<uint64_t>();
    r.tls_resumed = j.at("tls_resumed").get<uint64_t>();
    r.echo_connections = j.at("echo_connections").get<uint64_t>();
    r.echo_scheduled = j.at("echo_scheduled").get<uint64_t>();
    r.echo_sent = j.at("echo_sent").get<uint64_t>();
    r.echo_received = j.at("echo_received").get<uint64_t>();
    r.verify_errors = j.at("verify_errors").get<uint64_t>();
    r.echo_seconds = j.at("echo_seconds").get<double>();
    r.echo_latency_ns = histogramFromJson(j.at("echo_latency_ns"));
    r.verify_requested = j.at("verify_requested").get<uint64_t>();
    r.verify_ok = j.at("verify_ok").get<uint64_t>();
    r.verify_failed = j.at("verify_failed").get<uint64_t>();
    r.aborted = j.at("aborted").get<bool>();
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace mws::load
