// The echo and verify phases on top of a ClientSet: open loop (a fixed schedule,
// latency from each message's intended send time, so a slow server cannot hide
// queueing), closed loop (one message in flight per connection) and the final
// verify sample. Checks every echoed byte against the payload it regenerates from
// (connection id, sequence). Per-connection state is 24 bytes, only for connections
// taking part. Single-threaded; no allocation per message.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "mws/load/client_set.h"
#include "mws/load/worker_report.h"

namespace mws::load {

class EchoDriver final : public MessageListener {
 public:
  static constexpr uint64_t kNever = UINT64_MAX;

  EchoDriver(ClientSet& clients, WorkerReport& report, uint32_t first_conn_id,
             uint32_t message_bytes, ws::Opcode opcode);

  // Message k of the worker (k = seq * connections + index) is due at
  // t0 + k / rate: connections are staggered evenly and each sends at rate / M.
  void startOpenLoop(std::span<const uint32_t> slots, double rate, uint64_t t0_ns,
                     uint64_t end_ns) noexcept;
  void startClosedLoop(std::span<const uint32_t> slots, uint64_t t0_ns, uint64_t end_ns) noexcept;
  // Open loop: sends what is due (a bounded batch). Returns when the next message
  // is due, `now_ns` if more are overdue, or kNever.
  uint64_t pump(uint64_t now_ns) noexcept;
  uint64_t outstanding() const noexcept { return outstanding_; }
  // Echoes still missing count as verify errors; later arrivals are ignored.
  void endEcho() noexcept;

  // Each slot echoes one message; `requested` beyond slots.size() count as failed.
  void startVerify(std::span<const uint32_t> slots, uint64_t requested, uint64_t now_ns) noexcept;
  bool verifyPending() const noexcept { return outstanding_ > 0; }
  void endVerify() noexcept;

  void onMessagePiece(uint32_t slot, ws::Opcode opcode, std::span<const uint8_t> piece, bool first,
                      bool last, uint64_t now_ns) noexcept override;
  void onConnectionEnded(uint32_t slot) noexcept override;

 private:
  enum class Mode : uint8_t { kIdle, kOpen, kClosed, kVerify };

  struct Peer {
    uint32_t slot;
    uint32_t tx_seq;     // next sequence number to send
    uint32_t rx_seq;     // next sequence number expected back
    uint32_t rx_offset;  // bytes of the current echo checked so far
    uint64_t sent_ns;    // closed loop and verify: when the outstanding message left
  };
  static_assert(sizeof(Peer) == 24, "echo peer budget: 24 bytes");
  static constexpr uint32_t kBadBit = 1u << 31;  // in rx_offset: the current echo mismatched
  static constexpr uint32_t kVerifySeq = 0x7F000000;

  void attach(std::span<const uint32_t> slots, uint32_t first_seq);
  bool sendNext(Peer& peer, uint64_t now_ns) noexcept;
  void complete(uint32_t index, bool good, uint64_t now_ns) noexcept;
  uint64_t dueNs(uint64_t k) const noexcept;

  ClientSet& clients_;
  WorkerReport& report_;
  const uint32_t first_conn_id_;
  const uint32_t message_bytes_;
  const ws::Opcode opcode_;
  std::vector<uint8_t> scratch_;
  std::vector<Peer> peers_;
  Mode mode_ = Mode::kIdle;
  uint64_t t0_ns_ = 0;
  uint64_t end_ns_ = 0;
  double period_ns_ = 0;
  uint64_t next_k_ = 0;
  uint64_t total_k_ = 0;
  uint64_t outstanding_ = 0;
};

}  // namespace mws::load
