// Per-reactor counters. Each is written only by its reactor thread (a plain
// load+store, no read-modify-write atomics on the hot path) and read with relaxed
// loads by the admin thread at scrape time. The struct is cache-line aligned so
// two reactors never share a line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "mws/base/counter.h"
#include "mws/tls/session.h"

namespace mws::server {

// Why a WebSocket connection ended; the label of millionws_disconnections_total.
// Sockets that never completed the upgrade are counted as rejections instead.
enum class DisconnectReason : uint8_t {
  kClientClose,     // the client sent Close (or answered ours)
  kProtocolError,   // we failed it with 1002
  kInvalidPayload,  // 1007: bad UTF-8
  kMessageTooBig,   // 1009
  kInternalError,   // 1011: memory refused
  kIdleTimeout,
  kReset,        // EOF or RST without a closing handshake
  kShutdown,     // drained or cut at shutdown
  kTlsError,     // wss://: a record that did not decrypt, or the client's fatal alert
  kMemoryLimit,  // reset to bring pooled memory under --max-buffer-memory
  kCount,
};
const char* disconnectReasonName(DisconnectReason reason) noexcept;

// Close codes counted by value; anything else falls into the last slot ("other").
inline constexpr std::array<uint16_t, 11> kCountedCloseCodes = {1000, 1001, 1002, 1003, 1005, 1007,
                                                                1008, 1009, 1010, 1011, 0};
size_t closeCodeSlot(uint16_t code) noexcept;

// Bucket counts kept by the owner thread; made cumulative at scrape time.
template <size_t kBounds>
struct BucketCounts {
  std::array<Counter, kBounds + 1> buckets;  // the last one is +Inf
  Counter sum;
  void observe(size_t bucket, uint64_t value) noexcept {
    buckets[bucket].add();
    sum.add(value);
  }
};

// Message sizes in bytes: 16, 64, 256, ... 16 MiB (powers of four).
inline constexpr std::array<double, 11> kMessageSizeBounds = {
    16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216};
size_t messageSizeBucket(uint64_t bytes) noexcept;

// Reactor loop iteration (work between two epoll_wait calls) in microseconds.
inline constexpr std::array<double, 13> kLoopMicrosBounds = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};
size_t loopMicrosBucket(uint64_t micros) noexcept;

// TLS handshakes, accept to finished, in microseconds.
inline constexpr std::array<double, 12> kTlsHandshakeMicrosBounds = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
size_t tlsHandshakeMicrosBucket(uint64_t micros) noexcept;

// HTTP statuses a handshake can be refused with; label of handshake rejections.
inline constexpr std::array<uint16_t, 9> kRejectStatuses = {400, 403, 404, 405, 414,
                                                            426, 431, 503, 505};
// Index of `status` in kRejectStatuses (a status not listed is a compile error where constant).
constexpr size_t rejectSlot(uint16_t status) noexcept {
  size_t i = 0;
  while (i < kRejectStatuses.size() && kRejectStatuses[i] != status) ++i;
  return i;
}

struct alignas(64) WorkerStats {
  Counter tcp_accepted;  // sockets accepted
  Counter upgrades;      // WebSocket handshakes completed
  Counter active;        // WebSocket connections open now
  Counter tcp_open;      // sockets held now, any state
  Counter health_requests;
  Counter handshake_timeouts;
  Counter close_timeouts;  // our Close never answered; the ending keeps its cause
  std::array<Counter, kRejectStatuses.size()> rejected;  // by status, same order
  std::array<Counter, static_cast<size_t>(DisconnectReason::kCount)> disconnections;
  Counter messages_in_text, messages_in_binary, bytes_in;  // echoed payload
  Counter messages_out_text, messages_out_binary, bytes_out;
  Counter pings_in, pongs_in, pings_out;
  Counter paused;         // connections with reads paused by backpressure now
  Counter pending_bytes;  // unsent output held now
  Counter accept_errors;  // EMFILE/ENFILE and friends
  Counter heartbeat_ms;   // monotonic ms of the last loop iteration
  std::array<Counter, kCountedCloseCodes.size()> closes_sent, closes_received;
  BucketCounts<kMessageSizeBounds.size()> message_sizes;  // received messages
  BucketCounts<kLoopMicrosBounds.size()> loop_micros;
  // wss:// (issue 15)
  std::array<Counter, 4> tls_handshakes;  // completed: [version * 2 + resumed], 0 TLS 1.2, 1 1.3
  std::array<Counter, tls::kFailureCount> tls_failures;  // by tls::Failure
  std::array<Counter, 2> tls_active;  // established TLS connections open now, by version
  BucketCounts<kTlsHandshakeMicrosBounds.size()> tls_handshake_micros;
};

}  // namespace mws::server
