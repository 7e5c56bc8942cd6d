// Sessions (server/session.h): the lifecycle half. Entry points from the loop, states and
// their timers, input (the HTTP upgrade, frames, echo) and closing; the output half is
// session_output.cpp.
#include "mws/server/session.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>

#include "mws/base/check.h"
#include "mws/base/clock.h"
#include "mws/http/handshake.h"
#include "mws/http/upgrade_parser.h"

namespace mws::server {

// release() gives blocks back and reuses slots without running destructors.
static_assert(std::is_trivially_destructible_v<http::UpgradeParser>,
              "the handshake parser's pooled block is given back without a destructor call");
static_assert(std::is_trivially_destructible_v<Connection>,
              "slab slots are reused without a destructor call");
// The parser is placed in a pooled block: it must fit the block class it gets (4 KiB) and
// the block's data must be aligned for it.
static_assert(sizeof(http::UpgradeParser) <= buf::BufferPool::capacityOf(4),
              "the handshake parser grew past its 4 KiB pool block");
static_assert(alignof(http::UpgradeParser) <= alignof(buf::Block),
              "pooled data is only aligned as a Block header is");
// The unfinished frame kept between reads (a header or a whole control frame) is counted
// in Connection::spill and put back in front of the scratch buffer.
static_assert(ws::kMaxClientControlFrame <= UINT8_MAX, "the largest spill fits its uint8_t");
// Reads resume below half of --max-pending-bytes: there must be room for a read there, or a
// connection would resume and pause again on every write event.
static_assert(Config::kMinPendingBytes - sizeof(buf::Block) - Config::kMinPendingBytes / 2 >=
                  Sessions::kReadOutputSlack + Sessions::kMinRead,
              "the smallest --max-pending-bytes leaves no room to read after resuming");
static_assert(Config::kMinTlsPendingBytes - sizeof(buf::Block) - Config::kMinTlsPendingBytes / 2 >=
                  Sessions::kReadOutputSlack + tls::kReadRoom,
              "the smallest --max-pending-bytes with TLS leaves no room for a TLS read");
static_assert(ws::kMaxClientControlFrame <= Sessions::kSpillRoom,
              "the largest spill fits the scratch buffer's front room");

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

uint64_t tagFor(uint32_t index, uint16_t generation) noexcept {
  return (uint64_t{generation} << 32) | index;
}

}  // namespace

uint16_t toTicks(std::chrono::milliseconds d) noexcept {
  if (d.count() <= 0) return 0;
  return static_cast<uint16_t>((d.count() + 999) / 1000 + 1);
}

Sessions::Sessions(const Config& config, unsigned reactor, SharedState& shared, WorkerStats& stats,
                   net::Reactor& reactor_fds, net::TimerWheel& wheel, WarnThrottle& warn,
                   uint32_t capacity)
    : config_(config),
      reactor_index_(reactor),
      log_lifecycle_(spdlog::should_log(spdlog::level::debug)),
      shared_(shared),
      stats_(stats),
      reactor_(reactor_fds),
      wheel_(wheel),
      warn_(warn),
      slab_(capacity),
      handler_(*this),
      handshake_ticks_(toTicks(config.handshake_timeout)),
      idle_ticks_(toTicks(config.idle_timeout)),
      ping_ticks_(toTicks(config.ping_interval)),
      pending_limit_(config.max_pending_bytes - sizeof(buf::Block)),
      buffer_budget_(shared.buffer_budget_per_reactor),
      scratch_(new uint8_t[kSpillRoom + kScratchBytes]),
      cork_(new uint8_t[kCorkBytes]) {
  limits_.max_message_bytes = config.max_message_bytes;
}

uint64_t Sessions::tagOf(uint32_t index) const noexcept {
  return tagFor(index, slab_.at(index).generation);
}

// --- Entry points from the loop

void Sessions::refuse(int fd) noexcept {
  // A fresh socket's send buffer always takes a short static answer. Whatever the client
  // sent already is read first: closing with unread input would reset the connection, and
  // a reset can discard the answer before the client reads it. Input arriving after the
  // close still resets; a client that sends its request at once (as all do) has it here.
  uint8_t* const sink = scratch_.get() + kSpillRoom;
  while (::recv(fd, sink, kScratchBytes, MSG_DONTWAIT) > 0) {
  }
  static constexpr std::string_view kFull =
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
      "Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nserver full\n";
  (void)::send(fd, kFull.data(), kFull.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
  stats_.rejected[rejectSlot(503)].add();
}

uint32_t Sessions::admit(int fd, bool tls) noexcept {
  if (shared_.open_sockets.fetch_add(1, std::memory_order_relaxed) >= shared_.max_sockets) {
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    refuse(fd);
    stats_.accept_errors.add();
    warn_.warn(now_ms_, reactor_index_,
               "descriptor budget of {} sockets reached, refusing connections",
               shared_.max_sockets);
    return ConnectionSlab::kNone;
  }
  const uint32_t index = slab_.allocate();
  if (index == ConnectionSlab::kNone) {
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    refuse(fd);
    stats_.accept_errors.add();
    return ConnectionSlab::kNone;
  }
  Connection& c = slab_.at(index);
  if (tls) {
    c.tls = tls_acceptor_ ? tls_acceptor_->open(fd) : nullptr;
    ++tls_admitted_;
    if (!c.tls) {
      ::close(fd);
      slab_.release(index);
      shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
      stats_.accept_errors.add();
      return ConnectionSlab::kNone;
    }
    tls::setAcceptedMicros(*c.tls, static_cast<uint32_t>(monotonicNanos() / 1000));
  }
  if (reactor_.add(fd, net::Reactor::kConnectionEvents, tagFor(index, c.generation)) != 0) {
    tls::release(c.tls);
    c.tls = nullptr;
    ::close(fd);
    slab_.release(index);
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    stats_.accept_errors.add();
    return ConnectionSlab::kNone;
  }
  c.fd = fd;
  c.active_tick = now_tick_;
  stats_.tcp_accepted.add();
  stats_.tcp_open.add();
  if (log_lifecycle_) spdlog::debug("reactor {} fd {}: accepted", reactor_index_, fd);
  enter(c, ConnState::kHandshaking);
  return index;
}

void Sessions::onEvents(uint64_t tag, uint32_t events) noexcept {
  Connection& c = slab_.at(static_cast<uint32_t>(tag));
  // A connection closed earlier in this batch, perhaps already replaced: not ours.
  if (c.state == ConnState::kFree || c.generation != static_cast<uint16_t>(tag >> 32)) return;
  if (events & EPOLLERR) {
    kill(c, DisconnectReason::kReset);
  } else if (c.tls && !tls::established(*c.tls)) {
    tlsHandshake(c, events);  // reads and writes alike move the TLS handshake on
  } else {
    // Writes before reads: sending what is queued first may take the connection below the
    // backpressure threshold, so the read below runs in this same wakeup instead of waiting
    // for the read queue's next round; and the echoes that read produces find the kernel's
    // send buffer emptier, so they go out directly instead of behind the queue.
    if (events & EPOLLOUT) writeQueued(c);
    if (c.state != ConnState::kDead && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
      onReadable(c, events & (EPOLLRDHUP | EPOLLHUP));
    }
  }
  settle(c);
  if (buffer_budget_ && pool_.inUseBytes() > buffer_budget_) shedBuffers();
}

void Sessions::onTimer(const net::TimerWheel::Entry& e) noexcept {
  Connection& c = slab_.at(e.id);
  if (c.state == ConnState::kFree || c.generation != e.generation ||
      !(c.flags & Connection::kInWheel) || c.wheel_due != e.due) {
    return;  // superseded by an earlier deadline, or the connection is gone
  }
  c.flags &= ~Connection::kInWheel;
  timerFired(c);
  settle(c);
}

void Sessions::readQueued() noexcept {
  // The queue is swapped out so that re-queued connections wait for the next round.
  reading_.swap(read_queue_);
  for (const uint64_t tag : reading_) {
    Connection& c = slab_.at(static_cast<uint32_t>(tag));
    if (c.state == ConnState::kFree || c.generation != static_cast<uint16_t>(tag >> 32)) continue;
    c.flags &= ~Connection::kReadQueued;
    onReadable(c, false);
    settle(c);
    if (buffer_budget_ && pool_.inUseBytes() > buffer_budget_) shedBuffers();
  }
  reading_.clear();
}

void Sessions::shedBuffers() noexcept {
  // Over this reactor's share of --max-buffer-memory: the connections holding the most go
  // first, until the pool is back under 7/8 of the share (so the scan, O(connections), runs
  // once per overflow, not once per event). They are reset, not sent a Close (1013): what a
  // connection holds is output it is not reading, and a Close would wait behind it. Runs
  // between connections' events (never inside one), so releasing here is safe. The vector
  // is allocated on the first overflow only.
  shed_candidates_.clear();
  for (uint32_t i = 0; i < slab_.highWater(); ++i) {
    const Connection& c = slab_.at(i);
    if (c.state == ConnState::kFree) continue;
    const size_t held = c.out.blockBytes() + c.msg.blockBytes();
    if (held) shed_candidates_.emplace_back(held, i);
  }
  std::sort(shed_candidates_.begin(), shed_candidates_.end(), std::greater<>());
  const size_t target = buffer_budget_ / 8 * 7;
  size_t in_use = pool_.inUseBytes();
  size_t shed = 0;
  for (const auto& [held, index] : shed_candidates_) {
    if (in_use <= target) break;
    Connection& c = slab_.at(index);
    const linger reset{1, 0};  // close(2) sends RST and drops the socket's send queue too
    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    kill(c, DisconnectReason::kMemoryLimit);
    release(c);
    in_use = pool_.inUseBytes();
    ++shed;
  }
  warn_.warn(now_ms_, reactor_index_,
             "--max-buffer-memory: reactor share of {} bytes exceeded, reset the {} connections "
             "holding the most",
             buffer_budget_, shed);
}

void Sessions::closeAllGoingAway() noexcept {
  for (uint32_t i = 0; i < slab_.highWater(); ++i) {
    Connection& c = slab_.at(i);
    if (c.state != ConnState::kOpen) continue;
    startClose(c, ws::kCloseGoingAway, DisconnectReason::kShutdown);
    settle(c);
  }
}

size_t Sessions::cutAll() noexcept {
  size_t cut = 0;
  for (uint32_t i = 0; i < slab_.highWater(); ++i) {
    Connection& c = slab_.at(i);
    if (c.state == ConnState::kFree) continue;
    kill(c, DisconnectReason::kShutdown);
    release(c);
    ++cut;
  }
  return cut;
}

// --- State

void Sessions::enter(Connection& c, ConnState next) noexcept {
  c.state = next;
  c.state_tick = now_tick_;
  armForState(c);
}

void Sessions::kill(Connection& c, DisconnectReason reason) noexcept {
  // The first cause of an ending is the one counted. An open (or handshaking) connection
  // has none yet. A closing one has ours (idle timeout, shutdown): a reset while we wait for
  // the answer does not replace it, a harder cause (memory, the drain deadline) does.
  // Flushing and lingering connections already ended for a reason (the client's Close, a
  // protocol error) and keep it.
  if (c.state == ConnState::kOpen || c.state == ConnState::kHandshaking) c.reason = reason;
  if (c.state == ConnState::kClosing && reason != DisconnectReason::kReset) c.reason = reason;
  enter(c, ConnState::kDead);
}

void Sessions::settle(Connection& c) noexcept {
  if (c.state == ConnState::kFree) return;
  flush(c);
  if (c.state == ConnState::kFlushing && c.out.empty()) enter(c, ConnState::kDead);
  if (c.state == ConnState::kDead) release(c);
}

void Sessions::release(Connection& c) noexcept {
  if (c.state == ConnState::kFree) return;
  if (c.tls) tlsRelease(c);      // close_notify first, while the socket is open
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set: the fd is not shared
  // The handshake parser (if any) is trivially destructible: giving its block back is enough.
  c.msg.clear(pool_);
  stats_.pending_bytes.sub(c.out.size());
  c.out.clear(pool_);
  if (c.flags & Connection::kPaused) stats_.paused.sub();
  if (c.flags & Connection::kCounted) {
    if (log_lifecycle_) {
      spdlog::debug("reactor {} fd {}: closed ({})", reactor_index_, c.fd,
                    disconnectReasonName(c.reason));
    }
    stats_.active.sub();
    stats_.disconnections[static_cast<size_t>(c.reason)].add();
    shared_.open_websockets.fetch_sub(1, std::memory_order_relaxed);
  }
  stats_.tcp_open.sub();
  shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
  slab_.release(indexOf(c));
}

// --- Timers

void Sessions::timerFired(Connection& c) noexcept {
  switch (c.state) {
    case ConnState::kHandshaking:
      if (elapsed(c.state_tick) >= handshake_ticks_) {
        stats_.handshake_timeouts.add();
        if (c.tls && !tls::established(*c.tls)) {
          stats_.tls_failures[static_cast<size_t>(tls::Failure::kTimeout)].add();
        }
        return enter(c, ConnState::kDead);
      }
      break;
    case ConnState::kOpen:
      if (idle_ticks_ && elapsed(c.active_tick) >= idle_ticks_) {
        return startClose(c, ws::kCloseGoingAway, DisconnectReason::kIdleTimeout);
      }
      // No ping to a connection with output waiting: it is not reading what it has (the
      // kernel's retransmission timeout finds a dead peer there), and each ping would grow
      // its queue past the pending bound.
      if (ping_ticks_ && elapsed(c.active_tick) >= ping_ticks_ &&
          elapsed(c.state_tick) >= ping_ticks_ && c.out.empty()) {
        sendFrame(c, ws::Opcode::kPing, {});
        stats_.pings_out.add();
        c.state_tick = now_tick_;  // while open, state_tick is when the last ping went out
      }
      break;
    case ConnState::kClosing:
    case ConnState::kFlushing:
    case ConnState::kLingering:
      if (elapsed(c.state_tick) >= kCloseWaitTicks) {
        // The ending keeps its cause (idle timeout, shutdown): an operator counting idle
        // timeouts must not lose the ones whose client was gone. The silence is counted apart.
        if (c.state == ConnState::kClosing) stats_.close_timeouts.add();
        return enter(c, ConnState::kDead);
      }
      break;
    default:
      return;
  }
  armForState(c);
}

void Sessions::armForState(Connection& c) noexcept {
  switch (c.state) {
    case ConnState::kHandshaking:
      if (handshake_ticks_) arm(c, static_cast<uint16_t>(c.state_tick + handshake_ticks_));
      break;
    case ConnState::kOpen: {
      uint16_t due = 0;
      bool any = false;
      auto consider = [&](uint16_t t) {
        if (!any || net::ticksBetween(now_tick_, t) < net::ticksBetween(now_tick_, due)) due = t;
        any = true;
      };
      if (idle_ticks_) consider(static_cast<uint16_t>(c.active_tick + idle_ticks_));
      if (ping_ticks_) {
        // Due once both the input and our last ping are an interval old.
        const uint16_t base =
            net::ticksBetween(c.active_tick, c.state_tick) < 0x8000 ? c.state_tick : c.active_tick;
        consider(static_cast<uint16_t>(base + ping_ticks_));
      }
      if (any) arm(c, due);
      break;
    }
    case ConnState::kClosing:
    case ConnState::kFlushing:
    case ConnState::kLingering:
      arm(c, static_cast<uint16_t>(c.state_tick + kCloseWaitTicks));
      break;
    default:
      break;
  }
}

void Sessions::arm(Connection& c, uint16_t due) noexcept {
  // Keep the live entry if it fires no later than needed; it re-arms when it fires.
  if ((c.flags & Connection::kInWheel) &&
      net::ticksBetween(now_tick_, c.wheel_due) <= net::ticksBetween(now_tick_, due)) {
    return;
  }
  c.wheel_due = wheel_.schedule(indexOf(c), c.generation, due);
  c.flags |= Connection::kInWheel;
}

// --- Input

void Sessions::onReadable(Connection& c, bool hangup) noexcept {
  if (c.tls) return tlsReadable(c, hangup);
  size_t budget = kReadBudget;
  uint8_t* const base = scratch_.get() + kSpillRoom;
  while (!(c.flags & Connection::kPaused)) {
    const size_t room = readRoom(c);
    if (room == 0) return pauseReads(c);
    const ssize_t n = ::recv(c.fd, base, room, 0);
    if (n > 0) {
      inputRead(c, base, static_cast<size_t>(n));
      if (c.state == ConnState::kDead) return;
      // A short read means the socket is empty for now: new data raises a new edge, so
      // the read that would only return EAGAIN is skipped. Not so after a hangup, where
      // no further edge will come: read on to EOF.
      if (static_cast<size_t>(n) < room && !hangup) return;
      if (budget <= static_cast<size_t>(n)) return queueRead(c);
      budget -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return onHangup(c);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) kill(c, DisconnectReason::kReset);
    return;
  }
}

void Sessions::inputRead(Connection& c, uint8_t* base, size_t n) noexcept {
  // The unfinished frame kept from the last read goes right in front of the new bytes
  // (kSpillRoom is there for it).
  const size_t spill = c.spill;
  if (spill) {
    const auto held = c.msg.bytes();
    std::memcpy(base - spill, held.data() + held.size() - spill, spill);
    c.msg.truncate(pool_, spill);
    c.spill = 0;
  }
  c.active_tick = now_tick_;
  input(c, std::span<uint8_t>(base - spill, spill + n));
}

void Sessions::onHangup(Connection& c) noexcept {
  // EOF. A client that closes without a closing handshake is an abnormal closure (1006);
  // one we were closing with is done. Either way, what is already queued for it (echoes,
  // our Close) still goes out: a half-closed client may be reading.
  if (c.state == ConnState::kHandshaking) return kill(c, DisconnectReason::kReset);
  if (c.state == ConnState::kOpen) c.reason = DisconnectReason::kReset;
  if (c.state != ConnState::kFlushing) enter(c, ConnState::kFlushing);
}

void Sessions::queueRead(Connection& c) noexcept {
  if (c.flags & Connection::kReadQueued) return;
  c.flags |= Connection::kReadQueued;
  read_queue_.push_back(tagFor(indexOf(c), c.generation));
}

void Sessions::input(Connection& c, std::span<uint8_t> data) noexcept {
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

void Sessions::handshakeInput(Connection& c, std::span<uint8_t> data) noexcept {
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
  upgrade(c, parser.request().key.view());
  // Frames may have come in the same segment as the request.
  if (consumed < data.size()) frameInput(c, data.subspan(consumed));
}

void Sessions::upgrade(Connection& c, std::string_view key) noexcept {
  char text[http::kMaxResponseBytes];
  const size_t len = http::renderSwitchingProtocols(text, key);
  c.msg.clear(pool_);  // the parser's block, which `key` points into: used up above
  sendHttp(c, std::string_view(text, len));
  c.flags |= Connection::kCounted;
  c.decoder = ws::DecoderState{};
  stats_.upgrades.add();
  stats_.active.add();
  if (log_lifecycle_) spdlog::debug("reactor {} fd {}: upgraded", reactor_index_, c.fd);
  enter(c, ConnState::kOpen);
}

void Sessions::rejectHandshake(Connection& c, uint16_t status, std::string_view reason) noexcept {
  if (const size_t slot = rejectSlot(status); slot < kRejectStatuses.size()) {
    stats_.rejected[slot].add();
  }
  if (log_lifecycle_) {
    spdlog::debug("reactor {} fd {}: handshake refused with {}: {}", reactor_index_, c.fd, status,
                  reason);
  }
  if (status != 503) {
    warn_.warn(now_ms_, reactor_index_, "handshake refused with {} ({})", status, reason);
  }
  char text[http::kMaxResponseBytes];
  sendHttp(c, std::string_view(text, http::renderError(text, status, reason)));
  startLingering(c);
}

void Sessions::startLingering(Connection& c) noexcept {
  // Lingering close: keep reading (and dropping) until the client closes, so that
  // closing with unread input does not reset the connection before it reads the answer.
  c.msg.clear(pool_);  // the handshake parser
  enter(c, ConnState::kLingering);
}

void Sessions::frameInput(Connection& c, std::span<uint8_t> data) noexcept {
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

void Sessions::countMessage(ws::Opcode opcode, size_t bytes) noexcept {
  (opcode == ws::Opcode::kText ? stats_.messages_in_text : stats_.messages_in_binary).add();
  stats_.message_sizes.observe(messageSizeBucket(bytes), bytes);
}

ws::HandlerAction Sessions::onMessagePiece(Connection& c, ws::Opcode opcode,
                                           std::span<uint8_t> piece, bool first,
                                           bool last) noexcept {
  if (c.state != ConnState::kOpen) return ws::HandlerAction::kContinue;
  stats_.bytes_in.add(piece.size());
  if (first && last) {
    countMessage(opcode, piece.size());
    // The whole message arrived in one read: echo it straight from the read buffer.
    sendFrame(c, opcode, piece);
    return ws::HandlerAction::kContinue;
  }
  // A message that spans frames or reads is never assembled: each piece goes back at once
  // as a fragment of the same message (rfc6455#section-5.4 allows any fragmentation; text
  // fragments may split a code point, only the whole message must be UTF-8). So a client
  // that stops mid-message holds no buffer here, and the decoder has already checked the
  // piece (UTF-8 so far, size limit) before it is echoed.
  if (last) countMessage(opcode, c.decoder.message_bytes);
  sendFrame(c, first ? opcode : ws::Opcode::kContinuation, piece, last);
  return ws::HandlerAction::kContinue;
}

ws::HandlerAction Sessions::onControl(Connection& c, ws::Opcode opcode, uint16_t close_code,
                                      std::span<const uint8_t> payload) noexcept {
  switch (opcode) {
    case ws::Opcode::kPing:
      stats_.pings_in.add();
      if (c.state == ConnState::kOpen) sendFrame(c, ws::Opcode::kPong, payload);
      return ws::HandlerAction::kContinue;
    case ws::Opcode::kPong:
      stats_.pongs_in.add();  // unsolicited or an answer to our ping: either way, alive
      return ws::HandlerAction::kContinue;
    case ws::Opcode::kClose:
      stats_.closes_received[closeCodeSlot(close_code)].add();
      // The drain's account of who closed cleanly (not a metric: counted even without
      // counters, and only while draining).
      if (shared_.phase.load(std::memory_order_relaxed) == Phase::kDraining) {
        shared_.drain_clean.fetch_add(1, std::memory_order_relaxed);
      }
      if (c.state == ConnState::kOpen) {
        // Answer with the same status code (none if there was none), then close the TCP
        // connection once the answer is out (rfc6455#section-5.5.1, 7.1.1).
        sendClose(c, close_code);
        c.reason = DisconnectReason::kClientClose;
        enter(c, ConnState::kFlushing);
      } else {
        enter(c, ConnState::kDead);  // the answer to our Close: the handshake is complete
      }
      return ws::HandlerAction::kStop;
    default:
      return ws::HandlerAction::kContinue;
  }
}

void Sessions::startClose(Connection& c, uint16_t code, DisconnectReason reason) noexcept {
  if (c.state != ConnState::kOpen) return;
  sendClose(c, code);
  c.reason = reason;
  if (code == ws::kCloseGoingAway) {
    // A clean close of ours (shutdown, idle): the client answers, then we close TCP. A
    // frame header kept from the last read stays: parsing goes on to find the answer.
    c.decoder.startDiscarding();
    enter(c, ConnState::kClosing);
  } else {
    // Failing the connection (rfc6455#section-7.1.7): after the Close frame the server
    // closes its side at once (FIN once the frame is out) and no longer parses input,
    // but reads and drops it until the client closes, so the frame is not lost to a reset.
    c.msg.clear(pool_);
    c.spill = 0;
    enter(c, ConnState::kLingering);
  }
}

}  // namespace mws::server
