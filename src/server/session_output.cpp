// Sessions' output half (server/session.h): the reactor's write cork, a connection's
// queue of what the kernel did not take, and backpressure. Reactor thread only; output
// is copied only when the kernel does not take it (into the connection's pooled queue).
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "mws/base/check.h"
#include "mws/http/handshake.h"
#include "mws/server/session.h"
#include "mws/ws/encoder.h"

namespace mws::server {

static_assert(http::kMaxResponseBytes <= Sessions::kCorkBytes);

void Sessions::sendHttp(Connection& c, std::string_view text) noexcept {
  (void)c;
  // Always fits: responses are short (static_assert above), and the cork is empty while a
  // handshake ends, because every connection's output is flushed before the next one runs.
  MWS_ASSERT(cork_len_ == 0 && text.size() <= kCorkBytes);
  std::memcpy(cork_.get() + cork_len_, text.data(), text.size());
  cork_len_ += text.size();
}

void Sessions::sendClose(Connection& c, uint16_t code) noexcept {
  stats_.closes_sent[closeCodeSlot(code)].add();
  uint8_t payload[2];
  const size_t len = code == ws::kCloseNoStatus ? 0 : ws::writeClosePayload(payload, code);
  sendFrame(c, ws::Opcode::kClose, std::span<const uint8_t>(payload, len));
}

void Sessions::sendFrame(Connection& c, ws::Opcode opcode,
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

void Sessions::queueOutput(Connection& c, std::span<const uint8_t> a,
                           std::span<const uint8_t> b) noexcept {
  if (c.out.append(pool_, a, b) != Errc::kOk) return kill(c, DisconnectReason::kInternalError);
  stats_.pending_bytes.add(a.size() + b.size());
  afterOutput(c);
}

void Sessions::flush(Connection& c) noexcept {
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

void Sessions::writeQueued(Connection& c) noexcept {
  if (c.out.empty()) return;
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

void Sessions::afterOutput(Connection& c) noexcept {
  if (c.state == ConnState::kDead) return;
  const size_t pending = c.out.size();
  // Backpressure with hysteresis: stop reading above the cap, resume below half of it.
  if (!(c.flags & Connection::kPaused) && pending >= config_.max_pending_bytes) {
    c.flags |= Connection::kPaused;
    stats_.paused.add();
  } else if ((c.flags & Connection::kPaused) && pending <= config_.max_pending_bytes / 2) {
    c.flags &= ~Connection::kPaused;
    stats_.paused.sub();
    queueRead(c);  // input that arrived meanwhile raised no new edge
  }
  if (pending == 0 && c.state == ConnState::kLingering && !(c.flags & Connection::kShutWr)) {
    ::shutdown(c.fd, SHUT_WR);
    c.flags |= Connection::kShutWr;
  }
}

}  // namespace mws::server
