#include "mws/server/worker.h"

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mws/base/check.h"
#include "mws/base/clock.h"
#include "mws/net/socket.h"

namespace mws::server {

namespace {

constexpr uint64_t kListenerTag = ~uint64_t{0};
constexpr uint64_t kWakeTag = ~uint64_t{0} - 1;
constexpr uint64_t kTlsListenerTag = ~uint64_t{0} - 2;

int openReserveFd() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

Worker::Worker(const Config& config, unsigned index, UniqueFd listener, SharedState& shared,
               uint32_t capacity, UniqueFd tls_listener, tls::ServerContext* tls)
    : config_(config),
      index_(index),
      shared_(shared),
      listener_(std::move(listener)),
      tls_listener_(std::move(tls_listener)),
      reserve_fd_(openReserveFd()),
      wheel_(0),
      sessions_(config, index, shared, stats_, reactor_, wheel_, warn_, capacity) {
  start_ms_ = now_ms_ = monotonicMillis();
  sessions_.setTime(now_ms_, now_tick_);
  stats_.heartbeat_ms.set(now_ms_);
  if (reactor_.add(listener_.get(), EPOLLIN | EPOLLET, kListenerTag) != 0 ||
      reactor_.add(shared_.wake_fd, EPOLLIN | EPOLLET, kWakeTag) != 0) {
    throw std::runtime_error("epoll_ctl on listener or wake fd failed");
  }
  if (tls && tls_listener_.valid()) {
    sessions_.enableTls(*tls);
    if (reactor_.add(tls_listener_.get(), EPOLLIN | EPOLLET, kTlsListenerTag) != 0) {
      throw std::runtime_error("epoll_ctl on the TLS listener failed");
    }
  }
}

void Worker::run() noexcept {
  for (;;) {
    const uint64_t next_tick_ms = start_ms_ + (uint64_t{now_tick_} + 1) * 1000;
    int timeout = sessions_.hasQueuedReads()
                      ? 0
                      : static_cast<int>(next_tick_ms > now_ms_ ? next_tick_ms - now_ms_ : 0);
    if (draining_) {
      // Wake at the deadline, not after it: Kubernetes' grace period counts on the exit.
      const uint64_t left = drain_deadline_ms_ > now_ms_ ? drain_deadline_ms_ - now_ms_ : 0;
      timeout = static_cast<int>(std::min<uint64_t>({static_cast<uint64_t>(timeout), left, 100}));
    }
    const int n = reactor_.wait(events_, timeout);
    const uint64_t work_started_ns = kCountersEnabled ? monotonicNanos() : 0;
    now_ms_ = monotonicMillis();
    sessions_.setTime(now_ms_, now_tick_);
    // epoll_wait fails only with a bad epoll fd or events buffer: a bug, not a condition.
    MWS_CHECK(n >= 0 || n == -EINTR);
    for (int i = 0; i < n; ++i) dispatch(events_[static_cast<size_t>(i)]);
    sessions_.readQueued();
    advanceTimers();
    if (retry_accept_) {
      retry_accept_ = false;
      acceptAll(listener_.get(), false);
      if (tls_listener_.valid()) acceptAll(tls_listener_.get(), true);
    }
    if constexpr (kCountersEnabled) {
      const uint64_t work_micros = (monotonicNanos() - work_started_ns) / 1000;
      stats_.loop_micros.observe(loopMicrosBucket(work_micros), work_micros);
    }
    stats_.heartbeat_ms.set(now_ms_);
    if (draining_ && (sessions_.live() == 0 || now_ms_ >= drain_deadline_ms_)) break;
  }
  // Drain deadline passed: whoever is left is cut off.
  shared_.drain_cut.fetch_add(sessions_.cutAll(), std::memory_order_relaxed);
  listener_.reset();
  tls_listener_.reset();
  shared_.workers_done.fetch_add(1);
}

void Worker::dispatch(const epoll_event& ev) noexcept {
  if (ev.data.u64 == kListenerTag) return acceptAll(listener_.get(), false);
  if (ev.data.u64 == kTlsListenerTag) return acceptAll(tls_listener_.get(), true);
  if (ev.data.u64 == kWakeTag) return onWake();
  sessions_.onEvents(ev.data.u64, ev.events);
}

void Worker::acceptAll(int listener, bool tls) noexcept {
  // Edge-triggered: take every pending connection until EAGAIN.
  for (;;) {
    const int fd = net::acceptNonBlocking(listener);
    if (fd >= 0) {
      sessions_.admit(fd, tls);
      continue;
    }
    if (fd == -EAGAIN) return;
    if (fd == -EINTR || fd == -ECONNABORTED) continue;
    stats_.accept_errors.add();
    if ((fd == -EMFILE || fd == -ENFILE) && rejectOneForEmfile(listener)) continue;
    warn_.warn(now_ms_, index_, "accept failed: {}", std::strerror(-fd));
    // Leave the rest in the backlog and try again on the next tick, not in a busy loop.
    retry_accept_ = true;
    return;
  }
}

bool Worker::rejectOneForEmfile(int listener) noexcept {
  // Out of descriptors: spend the reserve one to accept and close a pending client, so
  // it is refused promptly instead of waiting in the backlog (libuv's EMFILE trick).
  // Reactors share the descriptor table, so another one may have taken the slot our reserve
  // left: get a reserve back first whenever one is free.
  if (!reserve_fd_.valid()) reserve_fd_.reset(openReserveFd());
  if (!reserve_fd_.valid()) return false;
  reserve_fd_.reset();
  const int fd = net::acceptNonBlocking(listener);
  if (fd >= 0) sessions_.refuse(fd);  // 503, while the reserve's descriptor is ours
  reserve_fd_.reset(openReserveFd());
  warn_.warn(now_ms_, index_, "out of file descriptors, refusing connections");
  return fd >= 0;
}

void Worker::onWake() noexcept {
  if (!draining_ && shared_.phase.load() == Phase::kDraining) startDrain();
}

void Worker::startDrain() noexcept {
  draining_ = true;
  drain_deadline_ms_ = now_ms_ + static_cast<uint64_t>(config_.drain_timeout.count());
  sessions_.closeAllGoingAway();
}

void Worker::advanceTimers() noexcept {
  const auto tick = static_cast<uint16_t>((now_ms_ - start_ms_) / 1000);
  if (tick == now_tick_) return;
  now_tick_ = tick;
  sessions_.setTime(now_ms_, now_tick_);
  wheel_.advance(tick, [this](const net::TimerWheel::Entry& e) { sessions_.onTimer(e); });
  // A burst of TLS handshakes has ended (some in the last second, none in this one): give
  // back the heap they passed through. Each holds ~30 KB of OpenSSL objects until it
  // completes, so 2,000 in flight leave ~60 MB of free heap that malloc keeps: 3,058 B of RSS
  // per idle wss:// connection at 19,000 without this, measured. Once per burst, never
  // during a steady stream (whose handshakes reuse that memory), a few ms for a 60 MB heap.
  const uint64_t tls_admitted = sessions_.tlsAdmitted();
  if (tls_admitted == tls_admitted_at_tick_ && tls_admitted != tls_admitted_at_trim_) {
    ::malloc_trim(0);
    tls_admitted_at_trim_ = tls_admitted;
  }
  tls_admitted_at_tick_ = tls_admitted;
}

}  // namespace mws::server
