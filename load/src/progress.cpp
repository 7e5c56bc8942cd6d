#include "mws/load/progress.h"

#include <algorithm>
#include <cstdio>

namespace mws::load {

ProgressTotals sumLiveCounters(const SharedControl& shared) {
  ProgressTotals t;
  uint32_t phase = static_cast<uint32_t>(Phase::kDone);
  for (uint32_t w = 0; w < shared.workers(); ++w) {
    const LiveCounters& c = shared.live(w);
    constexpr auto kRelaxed = std::memory_order_relaxed;
    t.started += c.started.load(kRelaxed);
    t.connected += c.connected.load(kRelaxed);
    t.failed += c.failed.load(kRelaxed);
    t.inflight += c.inflight.load(kRelaxed);
    t.server_closed += c.server_closed.load(kRelaxed);
    t.open += c.open.load(kRelaxed);
    t.sent += c.sent.load(kRelaxed);
    t.received += c.received.load(kRelaxed);
    t.verify_errors += c.verify_errors.load(kRelaxed);
    phase = std::min(phase, c.phase.load(kRelaxed));
  }
  t.phase = static_cast<Phase>(phase);
  return t;
}

std::string formatProgress(double elapsed_seconds, uint64_t requested, const ProgressTotals& now,
                           const ProgressTotals& before, double interval_seconds) {
  const double dt = interval_seconds > 0 ? interval_seconds : 1.0;
  auto perSecond = [dt](uint64_t a, uint64_t b) {
    return a > b ? static_cast<double>(a - b) / dt : 0.0;
  };
  char line[320];
  std::snprintf(
      line, sizeof line,
      "[%7.1fs] %-6s conns %llu/%llu (+%.0f/s) open %llu inflight %llu failed %llu "
      "srv_closed %llu | echo sent %llu recv %llu (%.0f/s) verify_err %llu",
      elapsed_seconds, phaseName(now.phase), static_cast<unsigned long long>(now.connected),
      static_cast<unsigned long long>(requested), perSecond(now.connected, before.connected),
      static_cast<unsigned long long>(now.open), static_cast<unsigned long long>(now.inflight),
      static_cast<unsigned long long>(now.failed),
      static_cast<unsigned long long>(now.server_closed), static_cast<unsigned long long>(now.sent),
      static_cast<unsigned long long>(now.received), perSecond(now.received, before.received),
      static_cast<unsigned long long>(now.verify_errors));
  return line;
}

}  // namespace mws::load
