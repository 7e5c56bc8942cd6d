#include "mws/load/worker.h"

#include <algorithm>
#include <vector>

#include "mws/base/clock.h"
#include "mws/load/token_bucket.h"

namespace mws::load {

namespace {

constexpr uint64_t kMillis = 1'000'000;
constexpr uint64_t kSecond = 1'000'000'000;
// A million connections take 50-70 worker processes on two cores: every wakeup that is not
// I/O is taken from the ramp itself, so the timers below are as coarse as they can be.
constexpr uint64_t kMaxWaitNs = 50 * kMillis;      // stop flag and deadline checks
constexpr uint64_t kBarrierPollNs = 50 * kMillis;  // fallback: the barrier's eventfd wakes us
constexpr uint64_t kSweepEveryNs = 1 * kSecond;    // handshake timeouts are 10+ seconds long
constexpr uint64_t kPacingTickNs = 20 * kMillis;   // connects start in small batches
constexpr uint64_t kEchoDrainNs = 5 * kSecond;
constexpr uint64_t kVerifyTimeoutNs = 5 * kSecond;
constexpr uint64_t kCloseWaitNs = 3 * kSecond;
constexpr int kMaxConnectsPerTick = 256;

uint64_t toNanos(double seconds) noexcept { return static_cast<uint64_t>(seconds * 1e9); }

ClientOptions clientOptions(const LoadConfig& config, const WorkerPlan& plan) {
  ClientOptions options;
  options.target = config.target.address;
  options.sources = plan.sources;
  options.connections = plan.connections;
  // No more contexts than connections: the pool is ~1 KiB per context.
  options.max_inflight = std::max(1u, std::min(config.max_inflight, plan.connections));
  options.connect_timeout_ns = toNanos(config.connect_timeout_seconds);
  options.host_header = config.target.host_header;
  options.path = config.target.parts.path;
  options.max_message_bytes = config.message_bytes;
  options.tls.enabled = config.target.parts.tls;
  options.tls.insecure = config.insecure;
  options.tls.ca_file = config.ca_file;
  options.tls.resume = config.tls_resume;
  options.tls.server_name = config.target.parts.host;
  return options;
}

// `want` of `slots`, evenly spaced (early and late connections, every source address).
std::vector<uint32_t> spread(const std::vector<uint32_t>& slots, uint64_t want) {
  if (want >= slots.size()) return slots;
  std::vector<uint32_t> out;
  out.reserve(want);
  for (uint64_t i = 0; i < want; ++i) out.push_back(slots[i * slots.size() / want]);
  return out;
}

struct Step {
  bool done = false;
  uint64_t wake_ns = UINT64_MAX;  // when the step wants to run again
};

}  // namespace

Worker::Worker(const LoadConfig& config, const WorkerPlan& plan, SharedControl& shared)
    : config_(config),
      plan_(plan),
      shared_(shared),
      live_(shared.live(plan.index)),
      rng_(Rng::fromEntropy()),
      clients_(clientOptions(config, plan), report_, rng_),
      echo_(clients_, report_, plan.first_conn_id, config.message_bytes,
            config.text ? ws::Opcode::kText : ws::Opcode::kBinary) {
  clients_.setListener(&echo_);
}

WorkerReport Worker::run() {
  const uint64_t start = shared_.startNs();
  deadline_ns_ = start + toNanos(config_.deadline_seconds);
  report_.requested = plan_.connections;

  ramp();
  if (clients_.lastResolvedNs() > start) {
    report_.ramp_seconds = static_cast<double>(clients_.lastResolvedNs() - start) / 1e9;
  }
  const uint64_t ramped = waitBarrier(Barrier::kRamped);
  holdUntil(ramped + toNanos(config_.hold_seconds));
  if (config_.mode != EchoMode::kNone) echoPhase();
  waitBarrier(Barrier::kEchoed);
  verifyPhase();
  waitBarrier(Barrier::kVerified);
  closePhase();
  publish(Phase::kDone);
  return report_;
}

template <typename Tick>
uint64_t Worker::runUntil(uint64_t until_ns, bool honor_stop, Tick tick) {
  uint64_t now = monotonicNanos();
  while (now < until_ns && !(honor_stop && stopping(now))) {
    const Step step = tick(now);
    if (step.done) break;
    uint64_t wake = std::min({until_ns, step.wake_ns, now + kMaxWaitNs});
    if (honor_stop) wake = std::min(wake, deadline_ns_);
    now = clients_.poll(wake > now ? wake - now : 0);
    publish(phase_);
  }
  return now;
}

bool Worker::stopping(uint64_t now_ns) noexcept {
  if (now_ns < deadline_ns_ && !shared_.stopRequested()) return false;
  report_.aborted = true;
  return true;
}

void Worker::ramp() {
  phase_ = Phase::kRamp;
  const uint64_t start = monotonicNanos();
  // Bank at most 40 ms of tokens so a stall is not followed by a burst, yet a pacing tick
  // that comes a little late loses nothing.
  TokenBucket bucket(plan_.connect_rate, plan_.connect_rate / 25, start);
  uint64_t next_sweep = start;
  runUntil(UINT64_MAX, true, [&](uint64_t now) {
    for (int i = 0; i < kMaxConnectsPerTick && clients_.canStartMore() && bucket.tryTake(now);
         ++i) {
      clients_.startNext(now);
    }
    if (now >= next_sweep) {
      clients_.sweepTimeouts(now);
      next_sweep = now + kSweepEveryNs;
    }
    if (clients_.rampComplete()) return Step{true};
    if (!clients_.canStartMore()) return Step{false, next_sweep};
    return Step{false, now + std::max(bucket.nanosUntilToken(now), kPacingTickNs)};
  });
}

uint64_t Worker::waitBarrier(Barrier barrier) {
  // Workers that finished early sleep until the last one arrives (its eventfd write wakes
  // every epoll at once) instead of polling the shared memory against the stragglers.
  const int wake_fd = shared_.wakeFd(barrier);
  clients_.watch(wake_fd);
  shared_.arrive(barrier, monotonicNanos());
  uint64_t released = 0;
  const uint64_t now = runUntil(UINT64_MAX, true, [&](uint64_t t) {
    released = shared_.releasedAt(barrier);
    return Step{released != 0, t + kBarrierPollNs};
  });
  clients_.unwatch(wake_fd);
  return released != 0 ? released : now;
}

void Worker::holdUntil(uint64_t until_ns) {
  phase_ = Phase::kHold;
  runUntil(until_ns, true, [](uint64_t) { return Step{}; });
}

void Worker::echoPhase() {
  phase_ = Phase::kEcho;
  const std::vector<uint32_t> slots = spread(clients_.openSlots(), plan_.echo_connections);
  const uint64_t t0 = monotonicNanos();
  const uint64_t end = t0 + toNanos(config_.duration_seconds);
  if (config_.mode == EchoMode::kOpen) {
    echo_.startOpenLoop(slots, plan_.echo_rate, t0, end);
  } else {
    echo_.startClosedLoop(slots, t0, end);
  }
  const uint64_t stopped = runUntil(end, true, [&](uint64_t now) {
    const uint64_t due = echo_.pump(now);
    clients_.reapBroken(now);
    return Step{false, due};
  });
  report_.echo_seconds = static_cast<double>(std::min(stopped, end) - t0) / 1e9;
  runUntil(stopped + kEchoDrainNs, true, [&](uint64_t) { return Step{echo_.outstanding() == 0}; });
  echo_.endEcho();
}

void Worker::verifyPhase() {
  phase_ = Phase::kVerify;
  const uint64_t now = monotonicNanos();
  echo_.startVerify(spread(clients_.openSlots(), plan_.verify_sample), plan_.verify_sample, now);
  runUntil(now + kVerifyTimeoutNs, true, [&](uint64_t t) {
    clients_.reapBroken(t);
    return Step{!echo_.verifyPending()};
  });
  echo_.endVerify();
}

void Worker::closePhase() {
  phase_ = Phase::kClose;
  const uint64_t now = monotonicNanos();
  clients_.beginClose(now);
  publish(phase_);
  // Bounded even after the deadline: the server's EOF keeps TIME_WAIT on its side.
  runUntil(now + kCloseWaitNs, false, [&](uint64_t) { return Step{clients_.closeSettled()}; });
  clients_.closeAll();
}

void Worker::publish(Phase phase) noexcept {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  live_.started.store(clients_.started(), kRelaxed);
  live_.connected.store(report_.connected, kRelaxed);
  live_.failed.store(report_.failed, kRelaxed);
  live_.inflight.store(clients_.inflight(), kRelaxed);
  live_.server_closed.store(report_.server_closed, kRelaxed);
  live_.open.store(clients_.openCount(), kRelaxed);
  live_.sent.store(report_.echo_sent, kRelaxed);
  live_.received.store(report_.echo_received, kRelaxed);
  live_.verify_errors.store(report_.verify_errors, kRelaxed);
  live_.phase.store(static_cast<uint32_t>(phase), kRelaxed);
}

}  // namespace mws::load
