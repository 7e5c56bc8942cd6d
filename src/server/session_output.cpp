// Sessions' output half (server/session.h): the reactor's write cork, a connection's
// queue of what the kernel did not take, and backpressure. Reactor thread only; output
// is copied only when the kernel does not take it (into the connection's pooled queue).
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
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

void Sessions::sendFrame(Connection& c, ws::Opcode opcode, std::span<const uint8_t> payload,
                         bool fin) noexcept {
  if (c.state == ConnState::kDead) return;
  uint8_t header[ws::kMaxServerHeaderBytes];
  const size_t header_len = ws::writeServerHeader(header, opcode, payload.size(), fin);
  const std::span<const uint8_t> head(header, header_len);
  if (opcode == ws::Opcode::kText) {
    stats_.messages_out_text.add();
  } else if (opcode == ws::Opcode::kBinary) {
    stats_.messages_out_binary.add();
  }
  stats_.bytes_out.add(payload.size());
  // Order matters: once bytes wait in the out queue, everything goes behind them. On wss://
  // the cork gathers them anyway: sealing frame by frame would add a record (22 bytes) to
  // every small frame, which the pending bound does not allow for.
  if (!c.out.empty() && !c.tls) return transmit(c, head, payload);
  const size_t total = header_len + payload.size();
  if (cork_len_ + total > kCorkBytes) {
    flush(c);
    if (c.state == ConnState::kDead) return;
    if (!c.out.empty() && !c.tls) return transmit(c, head, payload);
  }
  if (cork_len_ + total <= kCorkBytes) {
    std::memcpy(cork_.get() + cork_len_, header, header_len);
    if (!payload.empty())
      std::memcpy(cork_.get() + cork_len_ + header_len, payload.data(), payload.size());
    cork_len_ += total;
    return;
  }
  // Larger than the cork: hand header and payload to the kernel directly.
  transmit(c, head, payload);
}

void Sessions::transmit(Connection& c, std::span<const uint8_t> a,
                        std::span<const uint8_t> b) noexcept {
  if (c.tls) return tlsTransmit(c, a, b);
  transmitRaw(c, a, b);
}

void Sessions::transmitRaw(Connection& c, std::span<const uint8_t> a,
                           std::span<const uint8_t> b) noexcept {
  if (!c.out.empty()) return queueOutput(c, a, b);
  iovec iov[2] = {{const_cast<uint8_t*>(a.data()), a.size()},
                  {const_cast<uint8_t*>(b.data()), b.size()}};
  ssize_t n = b.empty() ? ::send(c.fd, a.data(), a.size(), MSG_NOSIGNAL) : ::writev(c.fd, iov, 2);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) return kill(c, DisconnectReason::kReset);
    n = 0;
  }
  const auto written = static_cast<size_t>(n);
  if (written >= a.size() + b.size()) return afterOutput(c);
  if (written < a.size()) {
    queueOutput(c, a.subspan(written), b);
  } else {
    queueOutput(c, b.subspan(written - a.size()));
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
  transmit(c, std::span<const uint8_t>(cork_.get(), len));
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

size_t Sessions::readRoom(const Connection& c) const noexcept {
  // The cork holds this connection's output of the reads so far in this wakeup (it is
  // flushed before the reactor turns to another connection): it is pending output too.
  const size_t used = c.out.size() + cork_len_ + kReadOutputSlack;
  const size_t room = pending_limit_ > used ? pending_limit_ - used : 0;
  // A TLS read needs room for two whole records (it decrypts in place).
  const size_t least = c.tls ? tls::kReadRoom : kMinRead;
  return room < least ? 0 : std::min(room, kScratchBytes);
}

void Sessions::pauseReads(Connection& c) noexcept {
  if (c.flags & Connection::kPaused) return;
  c.flags |= Connection::kPaused;
  stats_.paused.add();
}

void Sessions::afterOutput(Connection& c) noexcept {
  if (c.state == ConnState::kDead) return;
  const size_t pending = c.out.size();
  // Backpressure with hysteresis: stop reading when the next read could break the bound,
  // resume below half of --max-pending-bytes (which leaves room: the flag's minimum is 4 KiB).
  if (!(c.flags & Connection::kPaused) && readRoom(c) == 0) {
    pauseReads(c);
  } else if ((c.flags & Connection::kPaused) && pending <= config_.max_pending_bytes / 2) {
    c.flags &= ~Connection::kPaused;
    stats_.paused.sub();
    queueRead(c);  // input that arrived meanwhile raised no new edge
  }
  if (pending == 0 && c.state == ConnState::kLingering && !(c.flags & Connection::kShutWr)) {
    // TLS says its close_notify before TCP's FIN; sending it brings us back here.
    if (c.tls && !(c.flags & Connection::kTlsClosed)) return tlsCloseNotify(c);
    ::shutdown(c.fd, SHUT_WR);
    c.flags |= Connection::kShutWr;
  }
}

}  // namespace mws::server
