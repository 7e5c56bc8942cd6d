// Sessions (server/session.h), the wss:// part: the TLS handshake of a socket accepted on
// the TLS listener, the record layer on every read and write of an established one, the
// close_notify at its end, and the TLS counters. Reactor thread only. What a TLS
// connection holds beyond the plain one: the record's tls pointer and its tls::Session (256
// heap bytes while idle; OpenSSL's SSL object only during the handshake).
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "mws/base/check.h"
#include "mws/base/clock.h"
#include "mws/server/session.h"

namespace mws::server {

namespace {

// Room for a whole cork sealed (kCorkBytes of plaintext in 16 KiB records), a KeyUpdate
// ahead of it and a close_notify behind it.
constexpr size_t kTlsOutBytes = Sessions::kCorkBytes + 1024;

size_t versionSlot(tls::Version v) noexcept { return v == tls::Version::kTls13 ? 1 : 0; }

}  // namespace

void Sessions::enableTls(tls::ServerContext& context) {
  tls_acceptor_ = std::make_unique<tls::Acceptor>(context);
  tls_out_.reset(new uint8_t[kTlsOutBytes]);
}

void Sessions::tlsHandshake(Connection& c, uint32_t events) noexcept {
  const tls::IoResult r = tls::handshake(*c.tls);
  switch (r.status) {
    case tls::Io::kWantRead:
    case tls::Io::kWantWrite:
      return;  // the next edge continues it (the handshake timer is running)
    case tls::Io::kFailed:
    case tls::Io::kClosed:
      return tlsHandshakeFailed(c, r.failure);
    case tls::Io::kDone:
      break;
  }
  const tls::HandshakeInfo info = tls::info(*c.tls);
  const uint32_t micros =
      static_cast<uint32_t>(monotonicNanos() / 1000) - tls::acceptedMicros(*c.tls);
  stats_.tls_handshakes[versionSlot(info.version) * 2 + (info.resumed ? 1 : 0)].add();
  stats_.tls_handshake_micros.observe(tlsHandshakeMicrosBucket(micros), micros);
  stats_.tls_active[versionSlot(info.version)].add();
  c.flags |= Connection::kTlsCounted;
  // The client's first records (the upgrade request) may have come with its Finished, and
  // their edge is spent: read at once.
  tlsReadable(c, (events & (EPOLLRDHUP | EPOLLHUP)) != 0);
}

void Sessions::tlsHandshakeFailed(Connection& c, tls::Failure failure) noexcept {
  stats_.tls_failures[static_cast<size_t>(failure)].add();
  if (log_lifecycle_) {
    spdlog::debug("reactor {} fd {}: TLS handshake failed: {}", reactor_index_, c.fd,
                  tls::failureName(failure));
  }
  // What follows is plain TCP: OpenSSL's alert (if it had one to send) is already out.
  tls::release(c.tls);
  c.tls = nullptr;
  if (failure == tls::Failure::kPlainHttp) {
    // Someone typed http:// (or ws://) for the TLS port: say so, in the only language the
    // client speaks, and close as for any refused request.
    return rejectHandshake(c, 400, "this port speaks TLS: use https:// or wss://");
  }
  if (failure == tls::Failure::kEof || failure == tls::Failure::kReset) {
    return kill(c, DisconnectReason::kReset);
  }
  // Lingering close, so that unread input does not turn our FIN (and the alert before it)
  // into a reset; nothing of ours is queued, so the write side shuts at once.
  startLingering(c);
  afterOutput(c);
}

void Sessions::tlsReadable(Connection& c, bool hangup) noexcept {
  size_t budget = kReadBudget;
  uint8_t* const base = scratch_.get() + kSpillRoom;
  while (!(c.flags & Connection::kPaused)) {
    const size_t room = readRoom(c);
    if (room == 0) return pauseReads(c);
    const tls::IoResult r = tls::read(*c.tls, std::span<uint8_t>(base, room), hangup);
    if (r.bytes > 0) {
      inputRead(c, base, r.bytes);
      if (c.state == ConnState::kDead || !c.tls) return;
    }
    switch (r.status) {
      case tls::Io::kWantRead:
      case tls::Io::kWantWrite:
        return;
      case tls::Io::kDone: {
        // The scratch buffer filled up: more may be waiting, in the socket or the session.
        const size_t used = r.bytes ? r.bytes : 1;
        if (budget <= used) return queueRead(c);
        budget -= used;
        continue;
      }
      case tls::Io::kClosed:
        return onHangup(c);
      case tls::Io::kFailed:
        return tlsFailed(c, r.failure);
    }
  }
}

void Sessions::tlsFailed(Connection& c, tls::Failure failure) noexcept {
  if (failure == tls::Failure::kReset) return kill(c, DisconnectReason::kReset);
  // A record that does not decrypt, the client's fatal alert, an unexpected message: ours
  // goes out under the connection's key (none for the client's alert), and the connection
  // ends as a failed one, without a Close frame (the WebSocket layer never saw the bytes).
  // From here it is plain TCP: a lingering close drops whatever else comes.
  uint8_t alert[tls::kCloseRecordBytes];
  const size_t n = failure == tls::Failure::kPeerAlert ? 0 : tls::sealClose(*c.tls, alert);
  c.flags |= Connection::kTlsClosed;
  tlsRelease(c);
  if (c.state == ConnState::kOpen || c.state == ConnState::kHandshaking) {
    c.reason = DisconnectReason::kTlsError;
  }
  c.msg.clear(pool_);
  c.spill = 0;
  enter(c, ConnState::kLingering);
  if (n) transmitRaw(c, std::span<const uint8_t>(alert, n));
}

void Sessions::tlsTransmit(Connection& c, std::span<const uint8_t> a,
                           std::span<const uint8_t> b) noexcept {
  // Sealed in cork-sized pieces; each piece goes where plain output would (the socket, or
  // behind what the connection already queues), so the out queue holds ciphertext only.
  for (std::span<const uint8_t> part : {a, b}) {
    while (!part.empty()) {
      const tls::Sealed s = tls::seal(*c.tls, part.first(std::min(part.size(), kCorkBytes)),
                                      std::span<uint8_t>(tls_out_.get(), kTlsOutBytes));
      if (!s.ok) return kill(c, DisconnectReason::kInternalError);
      part = part.subspan(s.consumed);
      transmitRaw(c, std::span<const uint8_t>(tls_out_.get(), s.produced));
      if (c.state == ConnState::kDead) return;
    }
  }
}

void Sessions::tlsCloseNotify(Connection& c) noexcept {
  c.flags |= Connection::kTlsClosed;
  uint8_t alert[tls::kCloseRecordBytes];
  const size_t n = tls::established(*c.tls) ? tls::sealClose(*c.tls, alert) : 0;
  // Sent or queued, it comes back to afterOutput, which now shuts the write side.
  if (n) return transmitRaw(c, std::span<const uint8_t>(alert, n));
  afterOutput(c);
}

void Sessions::tlsRelease(Connection& c) noexcept {
  if (c.flags & Connection::kTlsCounted) {
    stats_.tls_active[versionSlot(tls::info(*c.tls).version)].sub();
    c.flags &= static_cast<uint8_t>(~Connection::kTlsCounted);
  }
  // A clean end says close_notify (rfc8446#section-6.1) if the socket takes it now; a
  // connection with output still queued is being cut off and gets nothing more.
  if (c.out.empty() && !(c.flags & Connection::kTlsClosed) && tls::established(*c.tls)) {
    uint8_t alert[tls::kCloseRecordBytes];
    const size_t n = tls::sealClose(*c.tls, alert);
    if (n) (void)::send(c.fd, alert, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  tls::release(c.tls);
  c.tls = nullptr;
}

}  // namespace mws::server
