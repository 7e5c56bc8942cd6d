// Per-reactor counters. Each is written only by its reactor thread (a plain
// load+store, no read-modify-write atomics on the hot path) and read with relaxed
// loads by the admin thread at scrape time. The struct is cache-line aligned so
// two reactors never share a line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace mws::server {

class Counter {
 public:
  void add(uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Why a WebSocket connection ended; the label of millionws_disconnections_total.
// Sockets that never completed the upgrade are counted as rejections instead.
enum class DisconnectReason : uint8_t {
  kClientClose,       // the client sent Close (or answered ours)
  kProtocolError,     // we failed it with 1002
  kInvalidPayload,    // 1007: bad UTF-8
  kMessageTooBig,     // 1009
  kInternalError,     // 1011: memory refused
  kIdleTimeout,
  kCloseTimeout,      // the client never answered our Close
  kReset,             // EOF or RST without a closing handshake
  kShutdown,          // drained or cut at shutdown
  kCount,
};
const char* disconnectReasonName(DisconnectReason reason) noexcept;

// HTTP statuses a handshake can be refused with; label of handshake rejections.
inline constexpr std::array<uint16_t, 7> kRejectStatuses = {400, 403, 404, 405, 426, 431, 503};

struct alignas(64) WorkerStats {
  Counter tcp_accepted;              // sockets accepted
  Counter upgrades;                  // WebSocket handshakes completed
  Counter active;                    // WebSocket connections open now
  Counter tcp_open;                  // sockets held now, any state
  Counter health_requests;
  Counter handshake_timeouts;
  std::array<Counter, kRejectStatuses.size()> rejected;  // by status, same order
  std::array<Counter, static_cast<size_t>(DisconnectReason::kCount)> disconnections;
  Counter messages_in_text, messages_in_binary, bytes_in;    // echoed payload
  Counter messages_out_text, messages_out_binary, bytes_out;
  Counter pings_in, pongs_in, pings_out;
  Counter paused;                    // connections with reads paused by backpressure now
  Counter pending_bytes;             // unsent output held now
  Counter accept_errors;             // EMFILE/ENFILE and friends
  Counter heartbeat_ms;              // monotonic ms of the last loop iteration
};

}  // namespace mws::server
