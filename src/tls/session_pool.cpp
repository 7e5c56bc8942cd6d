#include "mws/tls/session_pool.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace mws::tls {

namespace {

constexpr size_t kBlockBytes = 64 * 1024;

class SlotPool {
 public:
  void* allocate() noexcept {
    if (!free_ && !refill()) return nullptr;
    FreeSlot* slot = free_;
    free_ = slot->next;
    ++in_use_;
    return slot;
  }
  void release(void* p) noexcept {
    push(p);
    --in_use_;
  }
  size_t mapped() const noexcept { return mapped_; }
  size_t inUse() const noexcept { return in_use_; }

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  bool refill() noexcept {
    void* block =
        ::mmap(nullptr, kBlockBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return false;
    mapped_ += kBlockBytes;
    auto* bytes = static_cast<uint8_t*>(block);
    for (size_t off = kBlockBytes; off >= kSessionSlotBytes; off -= kSessionSlotBytes) {
      push(bytes + off - kSessionSlotBytes);
    }
    return true;
  }
  void push(void* p) noexcept {
    auto* slot = static_cast<FreeSlot*>(p);
    slot->next = free_;
    free_ = slot;
  }

  FreeSlot* free_ = nullptr;
  size_t mapped_ = 0;
  size_t in_use_ = 0;
};

thread_local SlotPool t_pool;

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer every slot is a heap block of its own, so that a use after release
// is caught.
void* allocateSessionSlot() noexcept { return ::operator new(kSessionSlotBytes, std::nothrow); }
void releaseSessionSlot(void* slot) noexcept { ::operator delete(slot); }
#else
void* allocateSessionSlot() noexcept { return t_pool.allocate(); }

void releaseSessionSlot(void* slot) noexcept {
  if (slot) t_pool.release(slot);
}
#endif

size_t sessionPoolMappedBytes() noexcept { return t_pool.mapped(); }

size_t sessionPoolSlotsInUse() noexcept { return t_pool.inUse(); }

}  // namespace mws::tls
