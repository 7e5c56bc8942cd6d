#include "mws/load/client_set.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "mws/base/check.h"
#include "mws/base/clock.h"
#include "mws/http/accept_key.h"
#include "mws/load/client_socket.h"
#include "mws/load/frame_writer.h"

namespace mws::load {

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr size_t kMaxEvents = 1024;
// Registered once at connect: the first EPOLLOUT edge reports the connect result,
// later ones a drained send buffer; no epoll_ctl churn afterwards.
constexpr uint32_t kInterest = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint32_t kHangup = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
// Frames longer than this from the server are a protocol error.
constexpr uint64_t kMinFrameLimit = 64 * 1024;
// Slots are 32-bit: this epoll tag can never be one.
constexpr uint64_t kWatchedTag = UINT64_MAX;

}  // namespace

// Routes decoded frames of one connection back into the set.
class ClientSet::Sink final : public FrameSink {
 public:
  Sink(ClientSet& set, uint32_t slot, uint64_t now_ns) : set_(set), slot_(slot), now_ns_(now_ns) {}

  void onData(ws::Opcode opcode, std::span<const uint8_t> piece, bool first,
              bool last) noexcept override {
    if (set_.listener_ != nullptr) {
      set_.listener_->onMessagePiece(slot_, opcode, piece, first, last, now_ns_);
    }
  }
  bool onControl(ws::Opcode opcode, std::span<const uint8_t> payload) noexcept override {
    return set_.onControl(slot_, opcode, payload);
  }

 private:
  ClientSet& set_;
  const uint32_t slot_;
  const uint64_t now_ns_;
};

ClientSet::ClientSet(const ClientOptions& options, WorkerReport& report, Rng& rng)
    : options_(options),
      report_(report),
      rng_(rng),
      conns_(options.connections),
      handshakes_(options.max_inflight),
      request_(options.host_header, options.path),
      read_buf_(new uint8_t[kReadBufferBytes]),
      events_(kMaxEvents),
      source_exhausted_(std::max<size_t>(1, options.sources.size())) {
  if (options.tls.enabled) {
    tls_ = std::make_unique<ClientTls>(options.tls);
    ssl_.assign(options.connections, nullptr);
  }
  write_buf_.resize(
      std::max({clientHeaderSize(options.max_message_bytes) + options.max_message_bytes,
                request_.size(), ws::kMaxClientControlFrame}));
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  MWS_CHECK(epfd_ >= 0);
}

ClientSet::~ClientSet() {
  for (SSL* ssl : ssl_) SSL_free(ssl);
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(epfd_);
}

bool ClientSet::canStartMore() const noexcept {
  return next_ < conns_.size() && inflight_ < handshakes_.capacity();
}

void ClientSet::startNext(uint64_t now_ns) noexcept {
  const uint32_t slot = next_++;
  Conn& c = conns_[slot];
  c.hs = handshakes_.acquire();
  MWS_CHECK(c.hs != HandshakePool::kNone);
  ++inflight_;
  c.state = ConnState::kConnecting;
  HandshakeContext& ctx = handshakes_.at(c.hs);
  ctx.start_ns = monotonicNanos();
  ctx.slot = slot;
  uint8_t nonce[16];
  rng_.fill(nonce, sizeof nonce);
  ctx.key = encodeClientKey(nonce);
  ctx.expected = http::computeAcceptKey({ctx.key.data(), ctx.key.size()});

  const std::vector<uint32_t>& sources = options_.sources;
  const size_t source_index = sources.empty() ? 0 : slot % sources.size();
  // Once a source address has no port left towards the target, every further
  // connect() from it fails too, each after the kernel scanned the whole port
  // range: fail those at once instead of spending a minute in the kernel.
  if (source_exhausted_[source_index]) {
    fail(slot, FailReason::kAddressUnavailable, now_ns);
    return;
  }
  const int fd = startConnect(options_.target, sources.empty() ? 0 : sources[source_index]);
  if (fd < 0) {
    if (-fd == EADDRNOTAVAIL) source_exhausted_[source_index] = 1;
    fail(slot, failReasonForErrno(-fd), now_ns);
    return;
  }
  c.fd = fd;
  epoll_event ev{};
  ev.events = kInterest;
  ev.data.u64 = slot;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    fail(slot, failReasonForErrno(errno), now_ns);
    return;
  }
  sendRequestEarly(slot, now_ns);
}

void ClientSet::sendRequestEarly(uint32_t slot, uint64_t now_ns) noexcept {
  // On loopback the three-way handshake completes inside connect(): send the request now,
  // so the server finds it queued when it wakes up to accept and answers in that same
  // wakeup. A socket still connecting says EAGAIN and EPOLLOUT brings finishConnect().
  Conn& c = conns_[slot];
  if (tls_) {
    // The ClientHello goes first, as early; a socket still connecting makes the handshake
    // want to write, and EPOLLOUT continues it (a failed connect fails the handshake's send).
    ssl_[slot] = tls_->open(c.fd);
    if (!ssl_[slot]) {
      fail(slot, FailReason::kNoDescriptors, now_ns);
      return;
    }
    c.state = ConnState::kTlsHandshaking;
    continueTls(slot, now_ns);
    return;
  }
  const HandshakeContext& ctx = handshakes_.at(c.hs);
  const size_t len = request_.render(ctx.key, reinterpret_cast<char*>(write_buf_.data()));
  const ssize_t n = ::send(c.fd, write_buf_.data(), len, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) fail(slot, failReasonForErrno(errno), now_ns);
    return;
  }
  c.state = ConnState::kHandshaking;
  const auto sent = static_cast<size_t>(n);
  if (sent < len && !writeBytes(slot, write_buf_.data() + sent, len - sent)) {
    fail(slot, FailReason::kReset, now_ns);
  }
}

void ClientSet::continueTls(uint32_t slot, uint64_t now_ns) noexcept {
  int err = 0;
  switch (tls_->handshake(ssl_[slot], &err)) {
    case TlsStep::kDone: {
      const HandshakeContext& ctx = handshakes_.at(conns_[slot].hs);
      report_.tls_handshake_ns.record(now_ns > ctx.start_ns ? now_ns - ctx.start_ns : 0);
      ++(SSL_session_reused(ssl_[slot]) ? report_.tls_resumed : report_.tls_full);
      sendRequest(slot, now_ns);
      return;
    }
    case TlsStep::kWantRead:
    case TlsStep::kWantWrite:
      return;
    case TlsStep::kFailed:
      fail(slot, err != 0 ? failReasonForErrno(err) : FailReason::kTlsFailed, now_ns);
      return;
  }
}

void ClientSet::sendRequest(uint32_t slot, uint64_t now_ns) noexcept {
  Conn& c = conns_[slot];
  c.state = ConnState::kHandshaking;
  const HandshakeContext& ctx = handshakes_.at(c.hs);
  const size_t len = request_.render(ctx.key, reinterpret_cast<char*>(write_buf_.data()));
  if (!writeBytes(slot, write_buf_.data(), len)) fail(slot, FailReason::kReset, now_ns);
}

ssize_t ClientSet::receive(uint32_t slot, uint8_t* buf, size_t len) noexcept {
  if (tls_) return tls_->read(ssl_[slot], buf, len);
  return ::read(conns_[slot].fd, buf, len);
}

bool ClientSet::drainedBy(ssize_t n, size_t room, bool hup) const noexcept {
  return !tls_ && static_cast<size_t>(n) < room && !hup;
}

void ClientSet::releaseTls(uint32_t slot) noexcept {
  if (!tls_ || !ssl_[slot]) return;
  tls_->close(ssl_[slot]);
  ssl_[slot] = nullptr;
}

void ClientSet::sweepTimeouts(uint64_t now_ns) noexcept {
  if (inflight_ == 0) return;
  for (uint32_t i = 0; i < handshakes_.capacity(); ++i) {
    const HandshakeContext& ctx = handshakes_.at(i);
    if (ctx.in_use && now_ns > ctx.start_ns &&
        now_ns - ctx.start_ns >= options_.connect_timeout_ns) {
      fail(ctx.slot, FailReason::kTimeout, now_ns);
    }
  }
}

uint64_t ClientSet::poll(uint64_t timeout_ns) noexcept {
  timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                   static_cast<long>(timeout_ns % 1'000'000'000)};
  const int n =
      epoll_pwait2(epfd_, events_.data(), static_cast<int>(events_.size()), &timeout, nullptr);
  MWS_CHECK(n >= 0 || errno == EINTR);
  // One clock reading per batch: every event in it had arrived by now.
  const uint64_t now = monotonicNanos();
  for (int i = 0; i < n; ++i) {
    if (events_[i].data.u64 == kWatchedTag) continue;  // only there to end the wait
    onEvent(static_cast<uint32_t>(events_[i].data.u64), events_[i].events, now);
  }
  reapBroken(now);
  return now;
}

void ClientSet::watch(int fd) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: nobody reads it, every poll returns at once
  ev.data.u64 = kWatchedTag;
  MWS_CHECK(epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0);
}

void ClientSet::unwatch(int fd) noexcept { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void ClientSet::onEvent(uint32_t slot, uint32_t events, uint64_t now_ns) noexcept {
  Conn& c = conns_[slot];
  switch (c.state) {
    case ConnState::kConnecting:
      finishConnect(slot, now_ns);  // a failed connect shows in SO_ERROR
      return;
    case ConnState::kTlsHandshaking:
      continueTls(slot, now_ns);
      return;
    case ConnState::kHandshaking:
    case ConnState::kOpen:
    case ConnState::kClosing:
      if (events & EPOLLOUT) flush(slot);
      if (c.broken || !(events & kReadable)) return;
      if (c.state == ConnState::kHandshaking) {
        readHandshake(slot, now_ns, events & kHangup);
      } else {
        readFrames(slot, now_ns, 0, events & kHangup);
      }
      return;
    case ConnState::kUnused:
    case ConnState::kDone:
      return;  // a socket closed earlier in this batch
  }
}

void ClientSet::finishConnect(uint32_t slot, uint64_t now_ns) noexcept {
  Conn& c = conns_[slot];
  const int err = socketError(c.fd);
  if (err != 0) {
    fail(slot, failReasonForErrno(err), now_ns);
    return;
  }
  sendRequest(slot, now_ns);
}

void ClientSet::readHandshake(uint32_t slot, uint64_t now_ns, bool hup) noexcept {
  Conn& c = conns_[slot];
  HandshakeContext& ctx = handshakes_.at(c.hs);
  for (;;) {
    const size_t room = kMaxResponseBytes - ctx.len;
    if (room == 0) {
      fail(slot, FailReason::kBadResponse, now_ns);
      return;
    }
    const ssize_t n = receive(slot, reinterpret_cast<uint8_t*>(ctx.response + ctx.len), room);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      fail(slot, failReasonForErrno(errno), now_ns);
      return;
    }
    if (n == 0) {
      fail(slot, FailReason::kClosed, now_ns);
      return;
    }
    ctx.len = static_cast<uint16_t>(ctx.len + n);
    const ResponseCheck check =
        checkResponse({ctx.response, ctx.len}, {ctx.expected.data(), ctx.expected.size()});
    switch (check.verdict) {
      case ResponseVerdict::kIncomplete:
        if (drainedBy(n, room, hup)) return;  // drained; wait for the next edge
        continue;
      case ResponseVerdict::kAccepted: {
        // Frames the server sent right behind the 101 go to the frame decoder.
        const size_t extra = ctx.len - check.header_bytes;
        std::memcpy(read_buf_.get(), ctx.response + check.header_bytes, extra);
        becomeOpen(slot, now_ns);
        // A short read drained the socket: frames that come later raise a new edge, so the
        // read that would only say EAGAIN (one per connection in a ramp) is skipped.
        if (extra == 0 && drainedBy(n, room, hup)) return;
        readFrames(slot, now_ns, extra, hup);
        return;
      }
      case ResponseVerdict::kBadStatus:
        fail(slot, FailReason::kBadStatus, now_ns);
        return;
      case ResponseVerdict::kBadAcceptKey:
        fail(slot, FailReason::kBadAcceptKey, now_ns);
        return;
      case ResponseVerdict::kBadResponse:
        fail(slot, FailReason::kBadResponse, now_ns);
        return;
    }
  }
}

void ClientSet::becomeOpen(uint32_t slot, uint64_t now_ns) noexcept {
  Conn& c = conns_[slot];
  const HandshakeContext& ctx = handshakes_.at(c.hs);
  report_.handshake_ns.record(now_ns > ctx.start_ns ? now_ns - ctx.start_ns : 0);
  ++report_.connected;
  handshakes_.release(c.hs);
  c.hs = HandshakePool::kNone;
  --inflight_;
  c.state = ConnState::kOpen;
  c.reader = ReaderState{};
  ++open_;
  last_resolved_ns_ = now_ns;
}

void ClientSet::readFrames(uint32_t slot, uint64_t now_ns, size_t preloaded, bool hup) noexcept {
  Conn& c = conns_[slot];
  uint8_t* buf = read_buf_.get();
  size_t have = preloaded;
  if (c.leftover_len > 0) {  // never together with preloaded bytes (those come with the 101)
    std::memcpy(buf, c.leftover.get(), c.leftover_len);
    have = c.leftover_len;
    c.leftover_len = 0;
  }
  const uint64_t frame_limit = std::max<uint64_t>(options_.max_message_bytes, kMinFrameLimit);
  bool gone = false;
  for (;;) {
    const size_t room = kReadBufferBytes - have;
    ssize_t n = receive(slot, buf + have, room);
    bool drained = false;
    if (n < 0) {
      if (errno == EINTR) continue;
      gone = errno != EAGAIN;
      drained = true;
      n = 0;
    } else if (n == 0) {
      gone = true;
    } else if (drainedBy(n, room, hup)) {
      // A short read means the socket is empty for now; new data raises a new
      // edge. With a hang-up pending, read on to see the EOF.
      drained = true;
    }
    have += static_cast<size_t>(n);
    if (c.close_received) {
      have = 0;  // nothing may follow a Close (rfc6455#section-5.5.1)
    } else if (have > 0) {
      Sink sink(*this, slot, now_ns);
      const ReadResult r = readServerFrames(c.reader, {buf, have}, frame_limit, sink);
      if (r.error != ReadError::kNone) {
        protocolFailure(slot);
        return;
      }
      const size_t keep = r.stopped ? 0 : have - r.consumed;
      MWS_CHECK(keep <= kMaxReaderLeftover);
      std::memmove(buf, buf + r.consumed, keep);
      have = keep;
    }
    if (gone || drained || c.broken) break;
  }
  if (have > 0) {
    if (!c.leftover) c.leftover.reset(new uint8_t[kMaxReaderLeftover]);
    std::memcpy(c.leftover.get(), buf, have);
    c.leftover_len = static_cast<uint8_t>(have);
  } else {
    c.leftover.reset();
  }
  if (gone) peerGone(slot);
}

bool ClientSet::onControl(uint32_t slot, ws::Opcode opcode,
                          std::span<const uint8_t> payload) noexcept {
  Conn& c = conns_[slot];
  switch (opcode) {
    case ws::Opcode::kPing: {
      // A Pong carries the Ping's payload (rfc6455#section-5.5.3).
      if (c.state != ConnState::kOpen || c.broken) return true;
      const size_t len =
          writeClientFrame(write_buf_.data(), ws::Opcode::kPong, payload, rng_.next32());
      if (!writeBytes(slot, write_buf_.data(), len)) markBroken(slot);
      return true;
    }
    case ws::Opcode::kClose: {
      c.close_received = true;
      if (c.state == ConnState::kOpen) {
        // The server started the close: answer with its code and wait for its EOF.
        ++report_.server_closed;
        const uint16_t code = payload.size() >= 2
                                  ? static_cast<uint16_t>((payload[0] << 8) | payload[1])
                                  : uint16_t{ws::kCloseNormal};
        sendClose(slot, code);
      }
      return false;
    }
    default:
      return true;  // unsolicited Pongs are allowed and ignored
  }
}

void ClientSet::fail(uint32_t slot, FailReason reason, uint64_t now_ns) noexcept {
  Conn& c = conns_[slot];
  report_.addFailure(reason);
  if (c.hs != HandshakePool::kNone) {
    handshakes_.release(c.hs);
    c.hs = HandshakePool::kNone;
    --inflight_;
  }
  releaseTls(slot);
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.state = ConnState::kDone;
  c.pending.reset();
  last_resolved_ns_ = now_ns;
}

void ClientSet::peerGone(uint32_t slot) noexcept {
  if (conns_[slot].state == ConnState::kOpen) ++report_.server_closed;
  endConnection(slot);
}

void ClientSet::protocolFailure(uint32_t slot) noexcept {
  ++report_.verify_errors;
  if (conns_[slot].state == ConnState::kOpen) sendClose(slot, ws::kCloseProtocolError);
  endConnection(slot);
}

void ClientSet::endConnection(uint32_t slot) noexcept {
  Conn& c = conns_[slot];
  if (c.state == ConnState::kOpen) --open_;
  if (c.state == ConnState::kClosing) --closing_;
  releaseTls(slot);
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.state = ConnState::kDone;
  c.leftover.reset();
  c.leftover_len = 0;
  c.pending.reset();
  if (listener_ != nullptr) listener_->onConnectionEnded(slot);
}

void ClientSet::markBroken(uint32_t slot) noexcept {
  Conn& c = conns_[slot];
  if (c.broken) return;
  c.broken = true;
  broken_.push_back(slot);
}

void ClientSet::reapBroken(uint64_t now_ns) noexcept {
  // Index loop: ending one connection may break another (the listener sends).
  for (size_t i = 0; i < broken_.size(); ++i) {
    const uint32_t slot = broken_[i];
    switch (conns_[slot].state) {
      case ConnState::kConnecting:
      case ConnState::kTlsHandshaking:
      case ConnState::kHandshaking:
        fail(slot, FailReason::kReset, now_ns);
        break;
      case ConnState::kOpen:
      case ConnState::kClosing:
        peerGone(slot);
        break;
      default:
        break;
    }
  }
  broken_.clear();
}

bool ClientSet::writeBytes(uint32_t slot, const uint8_t* data, size_t len) noexcept {
  Conn& c = conns_[slot];
  if (c.broken) return false;
  return tls_ ? tlsSendOrQueue(ssl_[slot], c.pending, data, len)
              : sendOrQueue(c.fd, c.pending, data, len);
}

void ClientSet::flush(uint32_t slot) noexcept {
  Conn& c = conns_[slot];
  if (c.broken) return;
  const bool ok = tls_ ? tlsFlushPending(ssl_[slot], c.pending) : flushPending(c.fd, c.pending);
  if (!ok) markBroken(slot);
}

bool ClientSet::sendMessage(uint32_t slot, ws::Opcode opcode,
                            std::span<const uint8_t> payload) noexcept {
  Conn& c = conns_[slot];
  if (c.state != ConnState::kOpen || c.broken) return false;
  const size_t len = writeClientFrame(write_buf_.data(), opcode, payload, rng_.next32());
  if (writeBytes(slot, write_buf_.data(), len)) return true;
  markBroken(slot);
  return false;
}

void ClientSet::sendClose(uint32_t slot, uint16_t code) noexcept {
  Conn& c = conns_[slot];
  if (c.state == ConnState::kOpen) {
    c.state = ConnState::kClosing;
    --open_;
    ++closing_;
  }
  const size_t len = writeClientClose(write_buf_.data(), code, rng_.next32());
  if (!writeBytes(slot, write_buf_.data(), len)) markBroken(slot);
}

std::vector<uint32_t> ClientSet::openSlots() const {
  std::vector<uint32_t> out;
  out.reserve(open_);
  for (uint32_t slot = 0; slot < next_; ++slot) {
    if (conns_[slot].state == ConnState::kOpen && !conns_[slot].broken) out.push_back(slot);
  }
  return out;
}

void ClientSet::beginClose(uint64_t now_ns) noexcept {
  if (next_ < conns_.size()) {
    report_.addFailure(FailReason::kAborted, conns_.size() - next_);
    next_ = static_cast<uint32_t>(conns_.size());
  }
  for (uint32_t i = 0; i < handshakes_.capacity(); ++i) {
    if (handshakes_.at(i).in_use) fail(handshakes_.at(i).slot, FailReason::kAborted, now_ns);
  }
  report_.open_at_end = open_;
  for (uint32_t slot = 0; slot < next_; ++slot) {
    if (conns_[slot].state == ConnState::kOpen) sendClose(slot, ws::kCloseNormal);
  }
  reapBroken(now_ns);
}

void ClientSet::closeAll() noexcept {
  for (uint32_t slot = 0; slot < next_; ++slot) {
    const ConnState state = conns_[slot].state;
    if (state == ConnState::kOpen || state == ConnState::kClosing) endConnection(slot);
  }
}

}  // namespace mws::load
