#include "mws/load/shared_control.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>

#include "mws/base/check.h"

namespace mws::load {

struct SharedControl::Header {
  std::atomic<uint64_t> start_ns{0};
  std::atomic<uint32_t> stop{0};
  std::atomic<uint32_t> arrived[static_cast<size_t>(Barrier::kCount)] = {};
  std::atomic<uint64_t> released_ns[static_cast<size_t>(Barrier::kCount)] = {};
};

const char* phaseName(Phase phase) noexcept {
  switch (phase) {
    case Phase::kStarting:
      return "start";
    case Phase::kRamp:
      return "ramp";
    case Phase::kHold:
      return "hold";
    case Phase::kEcho:
      return "echo";
    case Phase::kVerify:
      return "verify";
    case Phase::kClose:
      return "close";
    case Phase::kDone:
      return "done";
  }
  return "?";
}

SharedControl::SharedControl(uint32_t workers) : workers_(workers) {
  constexpr size_t kLiveOffset = (sizeof(Header) + 63) / 64 * 64;
  bytes_ = kLiveOffset + sizeof(LiveCounters) * workers;
  void* base = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  MWS_CHECK(base != MAP_FAILED);
  header_ = new (base) Header();
  live_ = reinterpret_cast<LiveCounters*>(static_cast<char*>(base) + kLiveOffset);
  for (uint32_t i = 0; i < workers; ++i) new (&live_[i]) LiveCounters();
  for (int& fd : wake_fds_) {
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    MWS_CHECK(fd >= 0);
  }
}

SharedControl::~SharedControl() {
  for (int fd : wake_fds_) ::close(fd);
  if (header_ != nullptr) munmap(header_, bytes_);
}

void SharedControl::setStartNs(uint64_t ns) noexcept {
  header_->start_ns.store(ns, std::memory_order_release);
}

uint64_t SharedControl::startNs() const noexcept {
  return header_->start_ns.load(std::memory_order_acquire);
}

void SharedControl::arrive(Barrier barrier, uint64_t now_ns) noexcept {
  const auto b = static_cast<size_t>(barrier);
  if (header_->arrived[b].fetch_add(1, std::memory_order_acq_rel) + 1 == workers_) {
    header_->released_ns[b].store(now_ns == 0 ? 1 : now_ns, std::memory_order_release);
    const uint64_t one = 1;
    // Cannot fail short of a bad descriptor; the 50 ms poll fallback covers even that.
    [[maybe_unused]] const ssize_t n = ::write(wake_fds_[b], &one, sizeof one);
  }
}

uint64_t SharedControl::releasedAt(Barrier barrier) const noexcept {
  return header_->released_ns[static_cast<size_t>(barrier)].load(std::memory_order_acquire);
}

void SharedControl::requestStop() noexcept { header_->stop.store(1, std::memory_order_release); }

bool SharedControl::stopRequested() const noexcept {
  return header_->stop.load(std::memory_order_acquire) != 0;
}

}  // namespace mws::load
