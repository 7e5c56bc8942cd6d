#include "mws/load/echo_driver.h"

#include <cmath>

#include "mws/load/payload.h"

namespace mws::load {

namespace {

// Tag of a connection that took part in an earlier phase: late echoes on it were
// already counted as missing and are ignored.
constexpr uint32_t kRetiredTag = ClientSet::kNoTag - 1;

}  // namespace

EchoDriver::EchoDriver(ClientSet& clients, WorkerReport& report, uint32_t first_conn_id,
                       uint32_t message_bytes, ws::Opcode opcode)
    : clients_(clients),
      report_(report),
      first_conn_id_(first_conn_id),
      message_bytes_(message_bytes),
      opcode_(opcode),
      scratch_(message_bytes) {}

void EchoDriver::attach(std::span<const uint32_t> slots, uint32_t first_seq) {
  for (const Peer& peer : peers_) clients_.setTag(peer.slot, kRetiredTag);
  peers_.clear();
  peers_.reserve(slots.size());
  for (uint32_t slot : slots) {
    clients_.setTag(slot, static_cast<uint32_t>(peers_.size()));
    peers_.push_back(Peer{slot, first_seq, first_seq, 0, 0});
  }
  outstanding_ = 0;
}

void EchoDriver::startOpenLoop(std::span<const uint32_t> slots, double rate, uint64_t t0_ns,
                               uint64_t end_ns) noexcept {
  attach(slots, 0);
  mode_ = Mode::kOpen;
  t0_ns_ = t0_ns;
  end_ns_ = end_ns;
  next_k_ = 0;
  total_k_ = 0;
  report_.echo_connections += peers_.size();
  if (peers_.empty() || rate <= 0 || end_ns <= t0_ns) return;
  period_ns_ = 1e9 / rate;
  // Messages due strictly before the end.
  total_k_ = static_cast<uint64_t>(std::ceil(static_cast<double>(end_ns - t0_ns) / period_ns_));
  report_.echo_scheduled += total_k_;
}

void EchoDriver::startClosedLoop(std::span<const uint32_t> slots, uint64_t t0_ns,
                                 uint64_t end_ns) noexcept {
  attach(slots, 0);
  mode_ = Mode::kClosed;
  t0_ns_ = t0_ns;
  end_ns_ = end_ns;
  report_.echo_connections += peers_.size();
  if (end_ns <= t0_ns) return;
  for (Peer& peer : peers_) {
    if (sendNext(peer, t0_ns)) ++report_.echo_sent;
  }
}

uint64_t EchoDriver::dueNs(uint64_t k) const noexcept {
  return t0_ns_ + static_cast<uint64_t>(static_cast<double>(k) * period_ns_);
}

uint64_t EchoDriver::pump(uint64_t now_ns) noexcept {
  if (mode_ != Mode::kOpen) return kNever;
  const size_t m = peers_.size();
  // A bounded batch, so a generator running behind still reads its sockets.
  for (int budget = 1024; budget > 0; --budget) {
    if (next_k_ >= total_k_) return kNever;
    const uint64_t due = dueNs(next_k_);
    if (due > now_ns) return due;
    // Sent even if the previous echo is still out: the schedule never waits for
    // the server, so a stall shows up as latency instead of fewer samples.
    Peer& peer = peers_[next_k_ % m];
    if (clients_.isOpen(peer.slot) && sendNext(peer, now_ns)) ++report_.echo_sent;
    ++next_k_;
  }
  return now_ns;
}

bool EchoDriver::sendNext(Peer& peer, uint64_t now_ns) noexcept {
  fillPayload(scratch_, first_conn_id_ + peer.slot, peer.tx_seq);
  if (!clients_.sendMessage(peer.slot, opcode_, scratch_)) return false;
  ++peer.tx_seq;
  peer.sent_ns = now_ns;
  ++outstanding_;
  return true;
}

void EchoDriver::endEcho() noexcept {
  report_.verify_errors += outstanding_;  // echoes that never came back
  attach({}, 0);
  mode_ = Mode::kIdle;
}

void EchoDriver::startVerify(std::span<const uint32_t> slots, uint64_t requested,
                             uint64_t now_ns) noexcept {
  attach(slots, kVerifySeq);
  mode_ = Mode::kVerify;
  report_.verify_requested += requested;
  if (requested > peers_.size()) report_.verify_failed += requested - peers_.size();
  for (Peer& peer : peers_) {
    if (!sendNext(peer, now_ns)) ++report_.verify_failed;
  }
}

void EchoDriver::endVerify() noexcept {
  report_.verify_failed += outstanding_;
  attach({}, 0);
  mode_ = Mode::kIdle;
}

void EchoDriver::onMessagePiece(uint32_t slot, ws::Opcode opcode, std::span<const uint8_t> piece,
                                bool first, bool last, uint64_t now_ns) noexcept {
  const uint32_t tag = clients_.tag(slot);
  if (tag == kRetiredTag) return;
  if (tag >= peers_.size()) {
    if (last) ++report_.verify_errors;  // a message nobody asked for
    return;
  }
  Peer& peer = peers_[tag];
  if (first) peer.rx_offset = opcode == opcode_ ? 0 : kBadBit;
  if (!(peer.rx_offset & kBadBit)) {
    const uint64_t end = uint64_t{peer.rx_offset} + piece.size();
    const uint32_t conn = first_conn_id_ + peer.slot;
    if (end > message_bytes_ || !matchesPayload(piece, peer.rx_offset, conn, peer.rx_seq)) {
      peer.rx_offset |= kBadBit;
    } else {
      peer.rx_offset = static_cast<uint32_t>(end);
    }
  }
  if (last) complete(tag, peer.rx_offset == message_bytes_, now_ns);
}

void EchoDriver::complete(uint32_t index, bool good, uint64_t now_ns) noexcept {
  Peer& peer = peers_[index];
  if (peer.rx_seq == peer.tx_seq) {  // nothing outstanding: not an echo of ours
    ++report_.verify_errors;
    return;
  }
  --outstanding_;
  const uint32_t seq = peer.rx_seq++;
  switch (mode_) {
    case Mode::kOpen: {
      ++report_.echo_received;
      if (!good) ++report_.verify_errors;
      // Latency from when the message should have left, not when it did: a send
      // delayed by a backed-up generator or server still counts the delay.
      const uint64_t intended = dueNs(uint64_t{seq} * peers_.size() + index);
      report_.echo_latency_ns.record(now_ns > intended ? now_ns - intended : 0);
      break;
    }
    case Mode::kClosed:
      ++report_.echo_received;
      if (!good) ++report_.verify_errors;
      report_.echo_latency_ns.record(now_ns > peer.sent_ns ? now_ns - peer.sent_ns : 0);
      if (now_ns < end_ns_ && sendNext(peer, now_ns)) ++report_.echo_sent;
      break;
    case Mode::kVerify:
      if (good)
        ++report_.verify_ok;
      else
        ++report_.verify_failed;
      break;
    case Mode::kIdle:
      break;
  }
}

void EchoDriver::onConnectionEnded(uint32_t slot) noexcept {
  const uint32_t tag = clients_.tag(slot);
  if (tag >= peers_.size()) return;
  Peer& peer = peers_[tag];
  const uint32_t lost = peer.tx_seq - peer.rx_seq;
  outstanding_ -= lost;
  peer.rx_seq = peer.tx_seq;
  if (mode_ == Mode::kVerify)
    report_.verify_failed += lost;
  else
    report_.verify_errors += lost;
  clients_.setTag(slot, kRetiredTag);
}

}  // namespace mws::load
