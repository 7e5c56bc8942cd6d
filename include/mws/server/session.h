// The connection lifecycle of one reactor: every state a connection goes through
// (handshaking, open, closing, flushing, lingering, dead) and every event that moves it
// (input, writability, hang-up, timers, shutdown), with the echo, the output queue and
// backpressure. Everything that takes a `Connection&` lives here; the Worker keeps the
// loop (epoll_wait, dispatch, accept, drain, the timer sweep) and calls in.
//
// Runs on its reactor thread only. Never waits for events itself, so tests drive it over a
// socketpair() without an epoll loop; never takes a lock and never allocates per message
// (buffers come from the pool, and only while a connection holds a partial frame header
// or unsent output; messages are echoed piece by piece, never assembled).
//
// One function changes a connection's state: enter() (sets the state's start tick and
// re-arms its timer). A connection's slot index is its place in the contiguous slab.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "mws/buf/buffer_pool.h"
#include "mws/net/reactor.h"
#include "mws/net/timer_wheel.h"
#include "mws/server/config.h"
#include "mws/server/connection_slab.h"
#include "mws/server/logging.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker_stats.h"
#include "mws/tls/context.h"
#include "mws/ws/decoder.h"

namespace mws::server {

class Sessions {
 public:
  static constexpr size_t kScratchBytes = 64 * 1024;  // one recv(2) at most
  static constexpr size_t kSpillRoom = 256;           // room in front for a spilled frame tail
  static constexpr size_t kCorkBytes = 64 * 1024;     // output gathered before one send(2)
  static constexpr size_t kReadBudget = 1024 * 1024;  // per connection per wakeup (fairness)
  static constexpr uint16_t kCloseWaitTicks = 5;      // for the peer's Close / our last bytes
  // The output one read can cause beyond its own size. A read of n bytes produces at most
  // n bytes of echo plus: one header for the frame continued from the last read (10), the
  // frame header kept from the last read re-encoded (kSpillRoom), a Close of ours (4) and,
  // on wss://, the records' overhead (22 per 16 KiB record; a 64 KiB read flushes the cork
  // at most twice: 10 records). Server frame headers are 4 bytes shorter than client ones
  // (no mask), so whole frames never grow.
  static constexpr size_t kReadOutputSlack = 1024;
  static constexpr size_t kMinRead = 512;  // smaller room than this pauses reads instead

  // The bound on unsent output (README "Memory bounds"): a connection's out queue never
  // holds more than `pendingLimit()` = --max-pending-bytes - 24 bytes, so the pooled block
  // that holds it is at most --max-pending-bytes rounded up to a power of two (the block's
  // 24-byte header included). Reads are sized to fit: a read may take only as much as the
  // output it can cause still fits, and reads pause when that is under kMinRead.
  size_t pendingLimit() const noexcept { return pending_limit_; }

  // Throws at start-up only (the slab's reservation).
  Sessions(const Config& config, unsigned reactor, SharedState& shared, WorkerStats& stats,
           net::Reactor& reactor_fds, net::TimerWheel& wheel, WarnThrottle& warn,
           uint32_t capacity);
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  // The loop's clock: milliseconds since an arbitrary start and the timer tick in effect.
  void setTime(uint64_t now_ms, uint16_t tick) noexcept {
    now_ms_ = now_ms;
    now_tick_ = tick;
  }

  // Takes a freshly accepted socket: within the descriptor budget it becomes a handshaking
  // connection registered with the reactor; otherwise it is closed. With `tls` (accepted on
  // the wss:// listener; enableTls() first) its handshake starts with TLS's. Returns its
  // slot or ConnectionSlab::kNone.
  uint32_t admit(int fd, bool tls = false) noexcept;
  // wss://: connections admitted with `tls` use this context (start-up only; may throw).
  void enableTls(tls::ServerContext& context);
  // Answers a socket there is no room for with `503` and closes it, without a slot: the
  // request already received is read and dropped first, so the close sends FIN, not RST,
  // and the answer reaches the client. Counted as a refused handshake (503).
  void refuse(int fd) noexcept;
  // Epoll events for `tag` (slot and generation); a stale tag is ignored.
  void onEvents(uint64_t tag, uint32_t events) noexcept;
  // A timer entry that fired; stale and superseded entries are ignored.
  void onTimer(const net::TimerWheel::Entry& entry) noexcept;
  // Connections that used up their read budget read on; the ones that use it up again wait
  // for the next call.
  void readQueued() noexcept;
  bool hasQueuedReads() const noexcept { return !read_queue_.empty(); }
  // TLS connections admitted since start (not a metric: counted without counters too).
  uint64_t tlsAdmitted() const noexcept { return tls_admitted_; }
  // Shutdown: every open connection gets Close 1001 and waits for the answer.
  void closeAllGoingAway() noexcept;
  // Drain deadline: whoever is left is cut off (counted as shutdown).
  // Returns how many connections were cut.
  size_t cutAll() noexcept;

  uint32_t live() const noexcept { return slab_.live(); }
  uint64_t tagOf(uint32_t index) const noexcept;
  const Connection& connection(uint32_t index) const noexcept { return slab_.at(index); }
  const buf::PoolStats& poolStats() const noexcept { return pool_.stats(); }

 private:
  // Decoder events for the connection being decoded: each forwards in one line.
  class EchoHandler final : public ws::DecoderHandler {
   public:
    explicit EchoHandler(Sessions& s) noexcept : s_(s) {}
    void bind(Connection& c) noexcept { c_ = &c; }
    ws::HandlerAction onMessagePiece(ws::Opcode opcode, std::span<uint8_t> piece, bool first,
                                     bool last) noexcept override {
      return s_.onMessagePiece(*c_, opcode, piece, first, last);
    }
    ws::HandlerAction onControl(ws::Opcode opcode, uint16_t close_code,
                                std::span<const uint8_t> payload) noexcept override {
      return s_.onControl(*c_, opcode, close_code, payload);
    }

   private:
    Sessions& s_;
    Connection* c_ = nullptr;
  };

  // State: the only writer of Connection::state.
  void enter(Connection& c, ConnState next) noexcept;
  void kill(Connection& c, DisconnectReason reason) noexcept;
  void settle(Connection& c) noexcept;
  void release(Connection& c) noexcept;
  // Timers
  void timerFired(Connection& c) noexcept;
  void armForState(Connection& c) noexcept;
  void arm(Connection& c, uint16_t due) noexcept;
  uint16_t elapsed(uint16_t since) const noexcept { return net::ticksBetween(since, now_tick_); }
  // Input
  void onReadable(Connection& c, bool hangup) noexcept;
  void onHangup(Connection& c) noexcept;
  void queueRead(Connection& c) noexcept;
  void input(Connection& c, std::span<uint8_t> data) noexcept;
  // `n` bytes just read to `base` (in the scratch buffer): the spilled frame tail goes in
  // front, then input().
  void inputRead(Connection& c, uint8_t* base, size_t n) noexcept;
  void handshakeInput(Connection& c, std::span<uint8_t> data) noexcept;
  void upgrade(Connection& c, std::string_view key) noexcept;
  void rejectHandshake(Connection& c, uint16_t status, std::string_view reason) noexcept;
  void startLingering(Connection& c) noexcept;
  void frameInput(Connection& c, std::span<uint8_t> data) noexcept;
  ws::HandlerAction onMessagePiece(Connection& c, ws::Opcode opcode, std::span<uint8_t> piece,
                                   bool first, bool last) noexcept;
  ws::HandlerAction onControl(Connection& c, ws::Opcode opcode, uint16_t close_code,
                              std::span<const uint8_t> payload) noexcept;
  void startClose(Connection& c, uint16_t code, DisconnectReason reason) noexcept;
  void countMessage(ws::Opcode opcode, size_t bytes) noexcept;
  // wss:// (session_tls.cpp)
  void tlsHandshake(Connection& c, uint32_t events) noexcept;
  void tlsHandshakeFailed(Connection& c, tls::Failure failure) noexcept;
  void tlsReadable(Connection& c, bool hangup) noexcept;
  void tlsFailed(Connection& c, tls::Failure failure) noexcept;
  void tlsTransmit(Connection& c, std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;
  void tlsCloseNotify(Connection& c) noexcept;
  void tlsRelease(Connection& c) noexcept;
  // Output
  void sendHttp(Connection& c, std::string_view text) noexcept;
  // Bytes for the socket as they are (ciphertext on a TLS connection): sent at once if
  // nothing waits before them, the rest queued.
  void transmitRaw(Connection& c, std::span<const uint8_t> a,
                   std::span<const uint8_t> b = {}) noexcept;
  // Output of the connection's protocol: through TLS first on a wss:// connection.
  void transmit(Connection& c, std::span<const uint8_t> a,
                std::span<const uint8_t> b = {}) noexcept;
  void sendClose(Connection& c, uint16_t code) noexcept;
  // Counts a text/binary opcode as a message sent (a fragmented one with its first frame).
  void sendFrame(Connection& c, ws::Opcode opcode, std::span<const uint8_t> payload,
                 bool fin = true) noexcept;
  void queueOutput(Connection& c, std::span<const uint8_t> a,
                   std::span<const uint8_t> b = {}) noexcept;
  void flush(Connection& c) noexcept;
  void writeQueued(Connection& c) noexcept;
  void afterOutput(Connection& c) noexcept;
  // Bytes the next read of `c` may take (0: pause), so that the pending bound holds.
  size_t readRoom(const Connection& c) const noexcept;
  void pauseReads(Connection& c) noexcept;
  void shedBuffers() noexcept;

  uint32_t indexOf(const Connection& c) const noexcept { return slab_.indexOf(c); }

  const Config& config_;
  const unsigned reactor_index_;
  // Read once: spdlog's per-call level check goes through its registry, which shows in a
  // million-connection ramp even when nothing is printed.
  const bool log_lifecycle_;
  SharedState& shared_;
  WorkerStats& stats_;
  net::Reactor& reactor_;
  net::TimerWheel& wheel_;
  WarnThrottle& warn_;
  ConnectionSlab slab_;
  buf::BufferPool pool_;
  EchoHandler handler_;
  ws::DecoderLimits limits_;
  const uint16_t handshake_ticks_, idle_ticks_, ping_ticks_;
  const size_t pending_limit_;
  const size_t buffer_budget_;  // this reactor's share of --max-buffer-memory; 0: none
  std::vector<std::pair<size_t, uint32_t>> shed_candidates_;  // (bytes held, slot)

  std::unique_ptr<uint8_t[]> scratch_;  // kSpillRoom + kScratchBytes
  std::unique_ptr<uint8_t[]> cork_;
  size_t cork_len_ = 0;
  // wss:// only: this reactor's view of the TLS context, and sealed records on their way out
  std::unique_ptr<tls::Acceptor> tls_acceptor_;
  std::unique_ptr<uint8_t[]> tls_out_;
  uint64_t tls_admitted_ = 0;
  std::vector<uint64_t> read_queue_;  // tags
  std::vector<uint64_t> reading_;

  uint64_t now_ms_ = 0;
  uint16_t now_tick_ = 0;
};

// Seconds rounded up, plus one: a tick is one second and a deadline must never fire
// early, wherever in its tick the connection went quiet. 0 stays 0 (off).
uint16_t toTicks(std::chrono::milliseconds d) noexcept;

}  // namespace mws::server
