// Memory shared by the parent and its forked workers (one anonymous MAP_SHARED
// mapping made before fork): phase barriers, a stop flag, and live counters each
// worker writes and the parent reads for the progress line. Lock-free atomics
// only; each counter has exactly one writer. Barrier releases also write an eventfd
// (made before fork, so shared) that wakes waiting workers out of epoll.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mws::load {

enum class Barrier : uint8_t { kRamped, kEchoed, kVerified, kCount };

enum class Phase : uint32_t { kStarting, kRamp, kHold, kEcho, kVerify, kClose, kDone };

const char* phaseName(Phase phase) noexcept;

struct LiveCounters {
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> inflight{0};
  std::atomic<uint64_t> server_closed{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> verify_errors{0};
  std::atomic<uint32_t> phase{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "counters must work across processes");

class SharedControl {
 public:
  explicit SharedControl(uint32_t workers);
  ~SharedControl();
  SharedControl(const SharedControl&) = delete;
  SharedControl& operator=(const SharedControl&) = delete;

  uint32_t workers() const noexcept { return workers_; }
  LiveCounters& live(uint32_t worker) noexcept { return live_[worker]; }
  const LiveCounters& live(uint32_t worker) const noexcept { return live_[worker]; }

  void setStartNs(uint64_t ns) noexcept;
  uint64_t startNs() const noexcept;

  // Counts this worker in; the last to arrive stamps the release time.
  void arrive(Barrier barrier, uint64_t now_ns) noexcept;
  // The release time, or 0 while some worker has not arrived.
  uint64_t releasedAt(Barrier barrier) const noexcept;
  // An eventfd made before fork that becomes readable (for good) when `barrier` releases.
  int wakeFd(Barrier barrier) const noexcept { return wake_fds_[static_cast<size_t>(barrier)]; }

  void requestStop() noexcept;
  bool stopRequested() const noexcept;

 private:
  struct Header;
  Header* header_ = nullptr;
  LiveCounters* live_ = nullptr;
  size_t bytes_ = 0;
  uint32_t workers_ = 0;
  int wake_fds_[static_cast<size_t>(Barrier::kCount)] = {};
};

}  // namespace mws::load
