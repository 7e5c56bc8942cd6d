#include "mws/server/worker.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "mws/base/clock.h"
#include "mws/http/upgrade_parser.h"
#include "mws/net/socket.h"

namespace mws::server {

namespace {

constexpr uint64_t kListenerTag = ~uint64_t{0};
constexpr uint64_t kWakeTag = ~uint64_t{0} - 1;

uint64_t tagOf(uint32_t index, uint16_t generation) noexcept {
  return (uint64_t{generation} << 32) | index;
}

// Seconds rounded up, plus one: a tick is one second and a deadline must never fire
// early, wherever in its tick the connection went quiet.
uint16_t toTicks(std::chrono::milliseconds d) noexcept {
  if (d.count() <= 0) return 0;
  return static_cast<uint16_t>((d.count() + 999) / 1000 + 1);
}

int openReserveFd() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

Worker::Worker(const Config& config, unsigned index, UniqueFd listener, SharedState& shared,
               uint32_t capacity)
    : config_(config),
      index_(index),
      log_lifecycle_(spdlog::should_log(spdlog::level::debug)),
      shared_(shared),
      listener_(std::move(listener)),
      reserve_fd_(openReserveFd()),
      slab_(capacity),
      wheel_(0),
      handler_(*this),
      scratch_(new uint8_t[kSpillRoom + kScratchBytes]),
      cork_(new uint8_t[kCorkBytes]),
      handshake_ticks_(toTicks(config.handshake_timeout)),
      idle_ticks_(toTicks(config.idle_timeout)),
      ping_ticks_(toTicks(config.ping_interval)) {
  limits_.max_message_bytes = config.max_message_bytes;
  start_ms_ = now_ms_ = monotonicMillis();
  stats_.heartbeat_ms.set(now_ms_);
  if (reactor_.add(listener_.get(), EPOLLIN | EPOLLET, kListenerTag) != 0 ||
      reactor_.add(shared_.wake_fd, EPOLLIN | EPOLLET, kWakeTag) != 0) {
    throw std::runtime_error("epoll_ctl on listener or wake fd failed");
  }
}

void Worker::run() noexcept {
  for (;;) {
    const uint64_t next_tick_ms = start_ms_ + (uint64_t{now_tick_} + 1) * 1000;
    int timeout = read_queue_.empty()
                      ? static_cast<int>(next_tick_ms > now_ms_ ? next_tick_ms - now_ms_ : 0)
                      : 0;
    if (draining_ && timeout > 100) timeout = 100;
    const int n = reactor_.wait(events_, timeout);
    const uint64_t work_started_ns = kCountersEnabled ? monotonicNanos() : 0;
    now_ms_ = monotonicMillis();
    if (n < 0 && n != -EINTR) {
      spdlog::critical("reactor {}: epoll_wait failed: {}", index_, std::strerror(-n));
      std::abort();  // cannot happen with a valid epoll fd: a bug, not a condition
    }
    for (int i = 0; i < n; ++i) dispatch(events_[static_cast<size_t>(i)]);
    drainReadQueue();
    advanceTimers();
    if (retry_accept_) {
      retry_accept_ = false;
      acceptAll();
    }
    if constexpr (kCountersEnabled) {
      const uint64_t work_micros = (monotonicNanos() - work_started_ns) / 1000;
      stats_.loop_micros.observe(loopMicrosBucket(work_micros), work_micros);
    }
    stats_.heartbeat_ms.set(now_ms_);
    if (draining_ && (slab_.live() == 0 || now_ms_ >= drain_deadline_ms_)) break;
  }
  // Drain deadline passed: whoever is left is cut off.
  for (uint32_t i = 0; i < slab_.highWater(); ++i) {
    Connection& c = slab_.at(i);
    if (c.state == ConnState::kFree) continue;
    kill(c, DisconnectReason::kShutdown);
    release(i);
  }
  listener_.reset();
  shared_.workers_done.fetch_add(1);
}

void Worker::dispatch(const epoll_event& ev) noexcept {
  if (ev.data.u64 == kListenerTag) return acceptAll();
  if (ev.data.u64 == kWakeTag) return onWake();
  const auto index = static_cast<uint32_t>(ev.data.u64);
  const auto generation = static_cast<uint16_t>(ev.data.u64 >> 32);
  Connection& c = slab_.at(index);
  // A connection closed earlier in this batch, perhaps already replaced: not ours.
  if (c.state == ConnState::kFree || c.generation != generation) return;
  current_ = index;
  onEvents(c, ev.events);
  settle(index);
}

void Worker::acceptAll() noexcept {
  // Edge-triggered: take every pending connection until EAGAIN.
  for (;;) {
    const int fd = net::acceptNonBlocking(listener_.get());
    if (fd >= 0) {
      admit(fd);
      continue;
    }
    if (fd == -EAGAIN) return;
    if (fd == -EINTR || fd == -ECONNABORTED) continue;
    stats_.accept_errors.add();
    if ((fd == -EMFILE || fd == -ENFILE) && rejectOneForEmfile()) continue;
    warnRateLimited("accept failed: {}", std::strerror(-fd));
    // Leave the rest in the backlog and try again on the next tick, not in a busy loop.
    retry_accept_ = true;
    return;
  }
}

bool Worker::rejectOneForEmfile() noexcept {
  // Out of descriptors: spend the reserve one to accept and close a pending client, so
  // it is refused promptly instead of waiting in the backlog (libuv's EMFILE trick).
  // Reactors share the descriptor table, so another one may have taken the slot our reserve
  // left: get a reserve back first whenever one is free.
  if (!reserve_fd_.valid()) reserve_fd_.reset(openReserveFd());
  if (!reserve_fd_.valid()) return false;
  reserve_fd_.reset();
  const int fd = net::acceptNonBlocking(listener_.get());
  if (fd >= 0) ::close(fd);
  reserve_fd_.reset(openReserveFd());
  warnRateLimited("out of file descriptors, refusing connections");
  return fd >= 0;
}

bool Worker::warnAllowed() noexcept {
  if (now_ms_ - last_warn_ms_ >= 5000 || last_warn_ms_ == 0) {
    last_warn_ms_ = now_ms_;
    return true;
  }
  ++suppressed_warnings_;
  return false;
}

void Worker::admit(int fd) noexcept {
  if (shared_.open_sockets.fetch_add(1, std::memory_order_relaxed) >= shared_.max_sockets) {
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    ::close(fd);
    stats_.accept_errors.add();
    warnRateLimited("descriptor budget of {} sockets reached, refusing connections",
                    shared_.max_sockets);
    return;
  }
  const uint32_t index = slab_.allocate();
  if (index == ConnectionSlab::kNone) {
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    ::close(fd);
    stats_.accept_errors.add();
    return;
  }
  Connection& c = slab_.at(index);
  c.fd = fd;
  c.state = ConnState::kHandshaking;
  c.active_tick = c.state_tick = now_tick_;
  if (reactor_.add(fd, net::Reactor::kConnectionEvents, tagOf(index, c.generation)) != 0) {
    ::close(fd);
    slab_.release(index);
    shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
    stats_.accept_errors.add();
    return;
  }
  stats_.tcp_accepted.add();
  stats_.tcp_open.add();
  if (log_lifecycle_) spdlog::debug("reactor {} fd {}: accepted", index_, fd);
  armForState(index);
}

void Worker::onWake() noexcept {
  if (!draining_ && shared_.phase.load() == Phase::kDraining) startDrain();
}

void Worker::startDrain() noexcept {
  draining_ = true;
  drain_deadline_ms_ = now_ms_ + static_cast<uint64_t>(config_.drain_timeout.count());
  for (uint32_t i = 0; i < slab_.highWater(); ++i) {
    Connection& c = slab_.at(i);
    if (c.state != ConnState::kOpen) continue;
    current_ = i;
    startClose(c, ws::kCloseGoingAway, DisconnectReason::kShutdown);
    settle(i);
  }
}

void Worker::drainReadQueue() noexcept {
  // Connections that used up their read budget: continue where they stopped. The
  // queue is swapped out so that re-queued connections wait for the next round.
  reading_.swap(read_queue_);
  for (const uint64_t tag : reading_) {
    const auto index = static_cast<uint32_t>(tag);
    Connection& c = slab_.at(index);
    if (c.state == ConnState::kFree || c.generation != static_cast<uint16_t>(tag >> 32)) continue;
    c.flags &= ~Connection::kReadQueued;
    current_ = index;
    onReadable(c, false);
    settle(index);
  }
  reading_.clear();
}

void Worker::advanceTimers() noexcept {
  const auto tick = static_cast<uint16_t>((now_ms_ - start_ms_) / 1000);
  if (tick == now_tick_) return;
  now_tick_ = tick;
  wheel_.advance(tick, [this](const net::TimerWheel::Entry& e) {
    Connection& c = slab_.at(e.id);
    if (c.state == ConnState::kFree || c.generation != e.generation ||
        !(c.flags & Connection::kInWheel) || c.wheel_due != e.due) {
      return;  // superseded by an earlier deadline, or the connection is gone
    }
    c.flags &= ~Connection::kInWheel;
    current_ = e.id;
    onTimer(e.id);
    settle(e.id);
  });
}

void Worker::onTimer(uint32_t index) noexcept {
  Connection& c = slab_.at(index);
  switch (c.state) {
    case ConnState::kHandshaking:
      if (elapsed(c.state_tick) >= handshake_ticks_) {
        stats_.handshake_timeouts.add();
        c.state = ConnState::kDead;
        return;
      }
      break;
    case ConnState::kOpen:
      if (idle_ticks_ && elapsed(c.active_tick) >= idle_ticks_) {
        startClose(c, ws::kCloseGoingAway, DisconnectReason::kIdleTimeout);
        break;
      }
      if (ping_ticks_ && elapsed(c.active_tick) >= ping_ticks_ &&
          elapsed(c.state_tick) >= ping_ticks_) {
        sendFrame(c, ws::Opcode::kPing, {});
        stats_.pings_out.add();
        c.state_tick = now_tick_;
      }
      break;
    case ConnState::kClosing:
    case ConnState::kFlushing:
    case ConnState::kLingering:
      if (elapsed(c.state_tick) >= kCloseWaitTicks) {
        if (c.state == ConnState::kClosing) c.reason = DisconnectReason::kCloseTimeout;
        c.state = ConnState::kDead;
        return;
      }
      break;
    default:
      return;
  }
  armForState(index);
}

void Worker::armForState(uint32_t index) noexcept {
  Connection& c = slab_.at(index);
  switch (c.state) {
    case ConnState::kHandshaking:
      if (handshake_ticks_) arm(index, static_cast<uint16_t>(c.state_tick + handshake_ticks_));
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
      if (any) arm(index, due);
      break;
    }
    case ConnState::kClosing:
    case ConnState::kFlushing:
    case ConnState::kLingering:
      arm(index, static_cast<uint16_t>(c.state_tick + kCloseWaitTicks));
      break;
    default:
      break;
  }
}

void Worker::arm(uint32_t index, uint16_t due) noexcept {
  Connection& c = slab_.at(index);
  // Keep the live entry if it fires no later than needed; it re-arms when it fires.
  if ((c.flags & Connection::kInWheel) &&
      net::ticksBetween(now_tick_, c.wheel_due) <= net::ticksBetween(now_tick_, due)) {
    return;
  }
  c.wheel_due = wheel_.schedule(index, c.generation, due);
  c.flags |= Connection::kInWheel;
}

void Worker::settle(uint32_t index) noexcept {
  Connection& c = slab_.at(index);
  if (c.state == ConnState::kFree) return;
  flush(c);
  if (c.state == ConnState::kFlushing && c.out.empty()) c.state = ConnState::kDead;
  if (c.state == ConnState::kDead) release(index);
}

void Worker::release(uint32_t index) noexcept {
  Connection& c = slab_.at(index);
  if (c.state == ConnState::kFree) return;
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set: the fd is not shared
  // The handshake parser (if any) is trivially destructible: giving its block back is enough.
  c.msg.clear(pool_);
  stats_.pending_bytes.sub(c.out.size());
  c.out.clear(pool_);
  if (c.flags & Connection::kPaused) stats_.paused.sub();
  if (c.flags & Connection::kCounted) {
    if (log_lifecycle_) {
      spdlog::debug("reactor {} fd {}: closed ({})", index_, c.fd, disconnectReasonName(c.reason));
    }
    stats_.active.sub();
    stats_.disconnections[static_cast<size_t>(c.reason)].add();
    shared_.open_websockets.fetch_sub(1, std::memory_order_relaxed);
  }
  stats_.tcp_open.sub();
  shared_.open_sockets.fetch_sub(1, std::memory_order_relaxed);
  slab_.release(index);
}

}  // namespace mws::server
