// What a worker measured: connection outcomes by reason, handshake and echo
// latency histograms, echo and verify counts. Sent to the parent as JSON over a
// pipe (raw histogram buckets, so merging loses nothing) and merged there.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mws/load/histogram.h"

namespace mws::load {

enum class FailReason : uint8_t {
  kConnectRefused,      // ECONNREFUSED
  kConnectError,        // another connect() errno
  kAddressUnavailable,  // EADDRNOTAVAIL/EADDRINUSE: ephemeral ports exhausted
  kNoDescriptors,       // EMFILE/ENFILE/ENOBUFS/ENOMEM
  kTimeout,             // no 101 within --connect-timeout
  kBadStatus,           // the server answered with another status
  kBadAcceptKey,        // Sec-WebSocket-Accept missing or wrong
  kBadResponse,         // malformed response or wrong Upgrade/Connection
  kReset,               // reset or socket error during the handshake
  kClosed,              // EOF before the response was complete
  kTlsFailed,           // the TLS handshake failed (an alert, a certificate not trusted)
  kAborted,             // the run was stopped (deadline, signal) before it finished
  kWorkerLost,          // the worker process died without reporting (parent only)
  kCount,
};

const char* failReasonName(FailReason reason) noexcept;

struct WorkerReport {
  uint64_t requested = 0;
  uint64_t connected = 0;
  uint64_t failed = 0;
  std::array<uint64_t, static_cast<size_t>(FailReason::kCount)> failed_by_reason{};
  uint64_t server_closed = 0;
  uint64_t open_at_end = 0;
  double ramp_seconds = 0;  // run start to the last connection resolved
  Histogram handshake_ns;
  // wss:// only: connect + TLS handshake, and full against resumed (a session ticket taken).
  Histogram tls_handshake_ns;
  uint64_t tls_full = 0;
  uint64_t tls_resumed = 0;

  uint64_t echo_connections = 0;
  uint64_t echo_scheduled = 0;  // open loop: messages the schedule called for
  uint64_t echo_sent = 0;
  uint64_t echo_received = 0;
  uint64_t verify_errors = 0;  // bad or missing echoes, protocol errors, stray messages
  double echo_seconds = 0;
  Histogram echo_latency_ns;

  uint64_t verify_requested = 0;
  uint64_t verify_ok = 0;
  uint64_t verify_failed = 0;

  bool aborted = false;  // the deadline or a stop request cut the run short

  void addFailure(FailReason reason, uint64_t n = 1) noexcept;
  void merge(const WorkerReport& other) noexcept;

  std::string toJson() const;
  static std::optional<WorkerReport> fromJson(std::string_view text);
};

}  // namespace mws::load
