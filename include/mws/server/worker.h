// One reactor thread: its own epoll instance and SO_REUSEPORT listener, a slab of
// connection records, a buffer pool, a read scratch buffer and a write cork, a
// timer wheel and a stats shard. Every connection it accepts lives and dies here;
// nothing on its hot path takes a lock or allocates per message.
//
// worker.cpp holds the loop, accepting, timers and shutdown; session.cpp what
// happens to one connection (handshake, frames, echo, output, closing).
#pragma once

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mws/base/unique_fd.h"
#include "mws/buf/buffer_pool.h"
#include "mws/net/reactor.h"
#include "mws/net/timer_wheel.h"
#include "mws/server/config.h"
#include "mws/server/connection_slab.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker_stats.h"
#include "mws/ws/decoder.h"

namespace mws::server {

class Worker {
 public:
  static constexpr size_t kScratchBytes = 64 * 1024;  // one read(2) at most
  static constexpr size_t kSpillRoom = 256;           // room in front for a spilled frame tail
  static constexpr size_t kCorkBytes = 64 * 1024;     // output gathered before one write(2)
  static constexpr size_t kReadBudget = 1024 * 1024;  // per connection per wakeup (fairness)
  static constexpr uint16_t kCloseWaitTicks = 5;      // for the peer's Close / our last bytes
  static constexpr int kMaxEvents = 1024;

  // Throws at start-up if the reactor cannot be created.
  Worker(const Config& config, unsigned index, UniqueFd listener, SharedState& shared,
         uint32_t capacity);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run() noexcept;  // the thread body; returns once drained

  const WorkerStats& stats() const noexcept { return stats_; }
  const buf::PoolStats& poolStats() const noexcept { return pool_.stats(); }

 private:
  // Decoder events for the connection being processed.
  class EchoHandler final : public ws::DecoderHandler {
   public:
    explicit EchoHandler(Worker& worker) noexcept : worker_(worker) {}
    void bind(Connection& c) noexcept { c_ = &c; }
    ws::HandlerAction onMessagePiece(ws::Opcode opcode, std::span<uint8_t> piece, bool first,
                                     bool last) noexcept override;
    ws::HandlerAction onControl(ws::Opcode opcode, uint16_t close_code,
                                std::span<const uint8_t> payload) noexcept override;

   private:
    Worker& worker_;
    Connection* c_ = nullptr;
  };

  // --- worker.cpp: loop, accept, timers, shutdown
  void dispatch(const epoll_event& ev) noexcept;
  void acceptAll() noexcept;
  bool rejectOneForEmfile() noexcept;
  void admit(int fd) noexcept;
  void onWake() noexcept;
  void startDrain() noexcept;
  void drainReadQueue() noexcept;
  void advanceTimers() noexcept;
  void onTimer(uint32_t index) noexcept;
  void arm(uint32_t index, uint16_t due) noexcept;
  void armForState(uint32_t index) noexcept;
  void release(uint32_t index) noexcept;
  void settle(uint32_t index) noexcept;
  uint16_t elapsed(uint16_t since) const noexcept { return net::ticksBetween(since, now_tick_); }
  bool warnAllowed() noexcept;
  // A warning at most every 5 s per reactor, with the count of those it swallowed since.
  template <typename... Args>
  void warnRateLimited(fmt::format_string<Args...> format, Args&&... args) noexcept {
    if (!warnAllowed()) return;
    spdlog::warn("reactor {}: {} ({} similar warnings suppressed)", index_,
                 fmt::format(format, std::forward<Args>(args)...), suppressed_warnings_);
    suppressed_warnings_ = 0;
  }

  // --- session.cpp: one connection
  void onEvents(Connection& c, uint32_t events) noexcept;
  void onReadable(Connection& c, bool hangup) noexcept;
  void onWritable(Connection& c) noexcept;
  void input(Connection& c, std::span<uint8_t> data) noexcept;
  void handshakeInput(Connection& c, std::span<uint8_t> data) noexcept;
  void frameInput(Connection& c, std::span<uint8_t> data) noexcept;
  void rejectHandshake(Connection& c, uint16_t status, std::string_view reason) noexcept;
  void startLingering(Connection& c) noexcept;
  void sendHttp(Connection& c, std::string_view text) noexcept;
  void sendFrame(Connection& c, ws::Opcode opcode, std::span<const uint8_t> payload) noexcept;
  void sendClose(Connection& c, uint16_t code) noexcept;
  void startClose(Connection& c, uint16_t code, DisconnectReason reason) noexcept;
  void queueOutput(Connection& c, std::span<const uint8_t> a,
                   std::span<const uint8_t> b = {}) noexcept;
  void flush(Connection& c) noexcept;
  void writeQueued(Connection& c) noexcept;
  void afterOutput(Connection& c) noexcept;
  void queueRead(Connection& c, uint32_t index) noexcept;
  void kill(Connection& c, DisconnectReason reason) noexcept;
  void dropMessage(Connection& c) noexcept;
  void countMessage(ws::Opcode opcode, size_t bytes) noexcept;

  const Config& config_;
  const unsigned index_;
  // Read once: spdlog's per-call level check goes through its registry, which shows in a
  // million-connection ramp even when nothing is printed.
  const bool log_lifecycle_;
  SharedState& shared_;
  net::Reactor reactor_;
  UniqueFd listener_;
  UniqueFd reserve_fd_;  // given up to accept-and-close when descriptors run out
  ConnectionSlab slab_;
  buf::BufferPool pool_;
  net::TimerWheel wheel_;
  EchoHandler handler_;
  ws::DecoderLimits limits_;

  std::unique_ptr<uint8_t[]> scratch_;  // kSpillRoom + kScratchBytes
  std::unique_ptr<uint8_t[]> cork_;
  size_t cork_len_ = 0;
  std::vector<uint64_t> read_queue_;  // (generation << 32) | index
  std::vector<uint64_t> reading_;
  std::array<epoll_event, kMaxEvents> events_{};

  uint64_t start_ms_ = 0;
  uint64_t now_ms_ = 0;
  uint16_t now_tick_ = 0;
  uint16_t handshake_ticks_, idle_ticks_, ping_ticks_;
  uint32_t current_ = 0;  // slot being processed, for settle()
  uint64_t drain_deadline_ms_ = 0;
  uint64_t last_warn_ms_ = 0;
  uint64_t suppressed_warnings_ = 0;
  bool draining_ = false;
  bool retry_accept_ = false;

  WorkerStats stats_;
};

}  // namespace mws::server
