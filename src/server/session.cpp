// What happens to one connection: reading, the HTTP upgrade, frames and echo,
// output with backpressure, and the closing handshake. Runs on the connection's
// reactor thread; allocates nothing per message (buffers come from the pool and
// only while a connection has a partial frame or unsent output).
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "mws/http/handshake.h"
#include "mws/http/upgrade_parser.h"
#include "mws/server/worker.h"
#include "mws/ws/encoder.h"

namespace mws::server {

namespace {

DisconnectReason reasonForCode(uint16_t code) noexcept {
  switch (code) {
    case ws::kCloseInvalidPayload:
      return DisconnectReason::kInvalidPayload;
    case ws::kCloseMessageTooBig:
      return DisconnectReason::kMessageTooBig;
    case ws::kCloseInternalError:
      return DisconnectReason::kInternalError;
    default:
      return DisconnectReason::kProtocolError;
  }
}

}  // namespace

void Worker::onEvents(Connection& c, uint32_t events) noexcept {
  if (events & EPOLLERR) return kill(c, DisconnectReason::kReset);
  if (events & EPOLLOUT) onWritable(c);
  if (c.state != ConnState::kDead && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
    onReadable(c, events & (EPOLLRDHUP | EPOLLHUP));
  }
}

void Worker::kill(Connection& c, DisconnectReason reason) noexcept {
  if (c.state == ConnState::kOpen || c.state == ConnState::kHandshaking) c.reason = reason;
  if (c.state == ConnState::kClosing && reason != DisconnectReason::kReset) c.reason = reason;
  c.state = ConnState::kDead;
}

void Worker::onReadable(Connection& c, bool hangup) noexcept {
  size_t budget = kReadBudget;
  uint8_t* const base = scratch_.get() + kSpillRoom;
  while (!(c.flags & Connection::kPaused)) {
    const ssize_t n = ::recv(c.fd, base, kScratchBytes, 0);
    if (n > 0) {
      // The unfinished frame kept from the last read goes right in front of the new bytes.
      const size_t spill = c.spill;
      if (spill) {
        const auto held = c.msg.bytes();
        std::memcpy(base - spill, held.data() + held.size() - spill, spill);
        c.msg.truncate(pool_, spill);
        c.spill = 0;
      }
      c.active_tick = now_tick_;
      input(c, std::span<uint8_t>(base - spill, spill + static_cast<size_t>(n)));
      if (c.state == ConnState::kDead) return;
      // A short read means the socket is empty for now: new data raises a new edge, so
      // the read that would only return EAGAIN is skipped. Not so after a hangup, where
      // no further edge will come: read on to EOF.
      if (static_cast<size_t>(n) < kScratchBytes && !hangup) return;
      if (budget <= static_cast<size_t>(n)) return queueRead(c, current_);
      budget -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      // EOF. A client that closes without a closing handshake is an abnormal closure
      // (1006); one we were closing with is done. Either way, what is already queued for it
      // (echoes, our Close) still goes out: a half-closed client may be reading.
      if (c.state == ConnState::kHandshaking) return kill(c, DisconnectReason::kReset);
      if (c.state == ConnState::kOpen) c.reason = DisconnectReason::kReset;
      if (c.state != ConnState::kFlushing) {
        c.state = ConnState::kFlushing;
        c.state_tick = now_tick_;
        armForState(current_);
      }
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) kill(c, DisconnectReason::kReset);
    return;
  }
}

void Worker::queueRead(Connection& c, uint32_t index) noexcept {
  if (c.flags & Connection::kReadQueued) return;
  c.flags |= Connection::kReadQueued;
  read_queue_.push_back((uint64_t{c.generation} << 32) | index);
}

void Worker::input(Connection& c, std::span<uint8_t> data) noexcept {
  switch (c.state) {
    case ConnState::kHandshaking:
      return handshakeInput(c, data);
    case ConnState::kOpen:
    case ConnState::kClosing:
      return frameInput(c, data);
    default:
      return;  // flushing, lingering: input is dropped
  }
}

void Worker::handshakeInput(Connection& c, std::span<uint8_t> data) noexcept {
  // The parser lives in a pooled block only while the handshake lasts.
  if (!c.msg.holdsBlock()) {
    if (c.msg.assign(pool_, sizeof(http::UpgradeParser)) != Errc::kOk) {
      return kill(c, DisconnectReason::kReset);
    }
    new (c.msg.bytes().data()) http::UpgradeParser(config_.max_header_bytes);
  }
  auto& parser = *reinterpret_cast<http::UpgradeParser*>(c.msg.bytes().data());
  size_t consumed = 0;
  switch (parser.feed(data, consumed)) {
    case http::UpgradeParser::Status::kNeedMore:
      return;
    case http::UpgradeParser::Status::kInvalid:
      return rejectHandshake(c, 400, "malformed request");
    case http::UpgradeParser::Status::kTooLarge:
      return rejectHandshake(c, 431, "request headers too large");
    case http::UpgradeParser::Status::kComplete:
      break;
  }
  const http::Verdict verdict = http::validate(parser.request(), config_.allowed_origins);
  const bool serving = shared_.phase.load(std::memory_order_relaxed) == Phase::kRunning;
  if (verdict.route == http::Route::kHealth) {
    stats_.health_requests.add();
    char text[http::kMaxResponseBytes];
    sendHttp(c, std::string_view(text, http::renderHealth(text, serving)));
    return startLingering(c);
  }
  if (verdict.route == http::Route::kError)
    return rejectHandshake(c, verdict.status, verdict.reason);
  if (!serving) return rejectHandshake(c, 503, "draining");
  if (shared_.open_websockets.fetch_add(1, std::memory_order_relaxed) >= shared_.max_websockets) {
    shared_.open_websockets.fetch_sub(1, std::memory_order_relaxed);
    return rejectHandshake(c, 503, "connection limit reached");
  }
  char text[http::kMaxResponseBytes];
  const size_t len = http::renderSwitchingProtocols(text, parser.request().key.view());
  c.msg.clear(pool_);  // the parser's block: request() is not used past this point
  sendHttp(c, std::string_view(text, len));
  c.state = ConnState::kOpen;
  c.state_tick = now_tick_;
  c.flags |= Connection::kCounted;
  c.decoder = ws::DecoderState{};
  stats_.upgrades.add();
  stats_.active.add();
  if (log_lifecycle_) spdlog::debug("reactor {} fd {}: upgraded", index_, c.fd);
  armForState(current_);
  // Frames may have come in the same segment as the request.
  if (consumed < data.size()) frameInput(c, data.subspan(consumed));
}

void Worker::rejectHandshake(Connection& c, uint16_t status, std::string_view reason) noexcept {
  for (size_t i = 0; i < kRejectStatuses.size(); ++i) {
    if (kRejectStatuses[i] == status) stats_.rejected[i].add();
  }
  if (log_lifecycle_) {
    spdlog::debug("reactor {} fd {}: handshake refused with {}: {}", index_, c.fd, status, reason);
  }
  if (status != 503) warnRateLimited("handshake refused with {} ({})", status, reason);
  char text[http::kMaxResponseBytes];
  sendHttp(c, std::string_view(text, http::renderError(text, status, reason)));
  startLingering(c);
}

void Worker::startLingering(Connection& c) noexcept {
  // Lingering close: keep reading (and dropping) until the client closes, so that
  // closing with unread input does not reset the connection before it reads the answer.
  c.msg.clear(pool_);  // the handshake parser
  c.state = ConnState::kLingering;
  c.state_tick = now_tick_;
  armForState(current_);
}

void Worker::frameInput(Connection& c, std::span<uint8_t> data) noexcept {
  while (!data.empty() && (c.state == ConnState::kOpen || c.state == ConnState::kClosing)) {
    handler_.bind(c);
    const ws::DecodeResult r = ws::decode(c.decoder, data, limits_, handler_);
    data = data.subspan(r.consumed);
    if (r.close_code) return startClose(c, r.close_code, reasonForCode(r.close_code));
    if (r.stopped) return;
    if (!data.empty()) {
      // An unfinished header or control frame (at most 131 bytes): keep it for the next read.
      if (c.msg.append(pool_, data) != Errc::kOk)
        return startClose(c, ws::kCloseInternalError, DisconnectReason::kInternalError);
      c.spill = static_cast<uint8_t>(data.size());
    }
    return;
  }
}

void Worker::dropMessage(Connection& c) noexcept { c.msg.clear(pool_); }

void Worker::countMessage(ws::Opcode opcode, size_t bytes) noexcept {
  (opcode == ws::Opcode::kText ? stats_.messages_in_text : stats_.messages_in_binary).add();
  stats_.message_sizes.observe(messageSizeBucket(bytes), bytes);
}

ws::HandlerAction Worker::EchoHandler::onMessagePiece(ws::Opcode opcode, std::span<uint8_t> piece,
                                                      bool first, bool last) noexcept {
  Connection& c = *c_;
  Worker& w = worker_;
  if (c.state != ConnState::kOpen) return ws::HandlerAction::kContinue;
  w.stats_.bytes_in.add(piece.size());
  if (first && last) {
    w.countMessage(opcode, piece.size());
    // The whole message arrived in one read: echo it straight from the read buffer.
    w.sendFrame(c, opcode, piece);
  } else {
    if (c.msg.append(w.pool_, piece) != Errc::kOk) {
      w.startClose(c, ws::kCloseInternalError, DisconnectReason::kInternalError);
      return ws::HandlerAction::kStop;
    }
    if (!last) return ws::HandlerAction::kContinue;
    w.countMessage(opcode, c.msg.size());
    w.sendFrame(c, opcode, c.msg.bytes());
    w.dropMessage(c);
  }
  return ws::HandlerAction::kContinue;
}

ws::HandlerAction Worker::EchoHandler::onControl(ws::Opcode opcode, uint16_t close_code,
                                                 std::span<const uint8_t> payload) noexcept {
  Connection& c = *c_;
  Worker& w = worker_;
  switch (opcode) {
    case ws::Opcode::kPing:
      w.stats_.pings_in.add();
      if (c.state == ConnState::kOpen) w.sendFrame(c, ws::Opcode::kPong, payload);
      return ws::HandlerAction::kContinue;
    case ws::Opcode::kPong:
      w.stats_.pongs_in.add();  // unsolicited or an answer to our ping: either way, alive
      return ws::HandlerAction::kContinue;
    case ws::Opcode::kClose:
      w.stats_.closes_received[closeCodeSlot(close_code)].add();
      if (c.state == ConnState::kOpen) {
        // Answer with the same status code (none if there was none), then close the TCP
        // connection once the answer is out (rfc6455#section-5.5.1, 7.1.1).
        w.sendClose(c, close_code);
        c.reason = DisconnectReason::kClientClose;
        c.state = ConnState::kFlushing;
        c.state_tick = w.now_tick_;
        w.dropMessage(c);
        w.armForState(w.current_);
      } else {
        c.state = ConnState::kDead;  // the answer to our Close: the handshake is complete
      }
      return ws::HandlerAction::kStop;
    default:
      return ws::HandlerAction::kContinue;
  }
}

void Worker::startClose(Connection& c, uint16_t code, DisconnectReason reason) noexcept {
  if (c.state != ConnState::kOpen) return;
  sendClose(c, code);
  c.reason = reason;
  c.state_tick = now_tick_;
  if (code == ws::kCloseGoingAway) {
    // A clean close of ours (shutdown, idle): the client answers, then we close TCP.
    c.state = ConnState::kClosing;
    c.decoder.startDiscarding();
  } else {
    // Failing the connection (rfc6455#section-7.1.7): after the Close frame the server
    // closes its side at once (FIN once the frame is out) and no longer parses input,
    // but reads and drops it until the client closes, so the frame is not lost to a reset.
    c.state = ConnState::kLingering;
  }
  c.msg.clear(pool_);
  c.spill = 0;
  armForState(current_);
}

void Worker::sendClose(Connection& c, uint16_t code) noexcept {
  stats_.closes_sent[closeCodeSlot(code)].add();
  uint8_t payload[2];
  const size_t len = code == ws::kCloseNoStatus ? 0 : ws::writeClosePayload(payload, code);
  sendFrame(c, ws::Opcode::kClose, std::span<const uint8_t>(payload, len));
}

void Worker::sendHttp(Connection& c, std::string_view text) noexcept {
  // Always fits: responses are short and the cork is empty while a handshake ends.
  if (cork_len_ + text.size() > kCorkBytes) flush(c);
  std::memcpy(cork_.get() + cork_len_, text.data(), text.size());
  cork_len_ += text.size();
}

void Worker::sendFrame(Connection& c, ws::Opcode opcode,
                       std::span<const uint8_t> payload) noexcept {
  if (c.state == ConnState::kDead) return;
  uint8_t header[ws::kMaxServerHeaderBytes];
  const size_t header_len = ws::writeServerHeader(header, opcode, payload.size());
  const std::span<const uint8_t> head(header, header_len);
  if (opcode == ws::Opcode::kText) {
    stats_.messages_out_text.add();
  } else if (opcode == ws::Opcode::kBinary) {
    stats_.messages_out_binary.add();
  }
  stats_.bytes_out.add(payload.size());
  // Order matters: once bytes wait in the out queue, everything goes behind them.
  if (!c.out.empty()) return queueOutput(c, head, payload);
  const size_t total = header_len + payload.size();
  if (cork_len_ + total > kCorkBytes) {
    flush(c);
    if (c.state == ConnState::kDead) return;
    if (!c.out.empty()) return queueOutput(c, head, payload);
  }
  if (cork_len_ + total <= kCorkBytes) {
    std::memcpy(cork_.get() + cork_len_, header, header_len);
    if (!payload.empty())
      std::memcpy(cork_.get() + cork_len_ + header_len, payload.data(), payload.size());
    cork_len_ += total;
    return;
  }
  // Larger than the cork: hand header and payload to the kernel directly.
  iovec iov[2] = {{header, header_len}, {const_cast<uint8_t*>(payload.data()), payload.size()}};
  ssize_t n = ::writev(c.fd, iov, 2);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) return kill(c, DisconnectReason::kReset);
    n = 0;
  }
  const auto written = static_cast<size_t>(n);
  if (written >= total) return;
  if (written < header_len) {
    queueOutput(c, head.subspan(written), payload);
  } else {
    queueOutput(c, payload.subspan(written - header_len));
  }
}

void Worker::queueOutput(Connection& c, std::span<const uint8_t> a,
                         std::span<const uint8_t> b) noexcept {
  if (c.out.append(pool_, a, b) != Errc::kOk) return kill(c, DisconnectReason::kInternalError);
  stats_.pending_bytes.add(a.size() + b.size());
  afterOutput(c);
}

void Worker::flush(Connection& c) noexcept {
  if (cork_len_ == 0) return;
  const size_t len = cork_len_;
  cork_len_ = 0;
  if (c.state == ConnState::kDead) return;
  const std::span<const uint8_t> cork(cork_.get(), len);
  if (!c.out.empty()) return queueOutput(c, cork);
  ssize_t n = ::send(c.fd, cork.data(), len, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) return kill(c, DisconnectReason::kReset);
    n = 0;
  }
  if (static_cast<size_t>(n) < len) {
    queueOutput(c, cork.subspan(static_cast<size_t>(n)));
  } else {
    afterOutput(c);
  }
}

void Worker::onWritable(Connection& c) noexcept {
  if (!c.out.empty()) writeQueued(c);
}

void Worker::writeQueued(Connection& c) noexcept {
  while (!c.out.empty()) {
    const auto bytes = c.out.bytes();
    const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) kill(c, DisconnectReason::kReset);
      break;
    }
    c.out.consume(pool_, static_cast<size_t>(n));
    stats_.pending_bytes.sub(static_cast<size_t>(n));
    if (static_cast<size_t>(n) < bytes.size()) break;  // the kernel is full: wait for EPOLLOUT
  }
  afterOutput(c);
}

void Worker::afterOutput(Connection& c) noexcept {
  if (c.state == ConnState::kDead) return;
  const size_t pending = c.out.size();
  // Backpressure with hysteresis: stop reading above the cap, resume below half of it.
  if (!(c.flags & Connection::kPaused) && pending >= config_.max_pending_bytes) {
    c.flags |= Connection::kPaused;
    stats_.paused.add();
  } else if ((c.flags & Connection::kPaused) && pending <= config_.max_pending_bytes / 2) {
    c.flags &= ~Connection::kPaused;
    stats_.paused.sub();
    queueRead(c, current_);  // input that arrived meanwhile raised no new edge
  }
  if (pending == 0 && c.state == ConnState::kLingering && !(c.flags & Connection::kShutWr)) {
    ::shutdown(c.fd, SHUT_WR);
    c.flags |= Connection::kShutWr;
  }
}

}  // namespace mws::server
