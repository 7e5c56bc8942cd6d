// Per-reactor pool of power-of-two byte blocks. Connections borrow a block only
// while they hold a partial frame header, a handshake parser or unsent output,
// and give it back as soon as they do not. Owned and used by one reactor thread:
// no locks; the admin thread only reads the stats.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mws/base/counter.h"

namespace mws::buf {

// A pooled block: this header, then `capacity` bytes of data.
struct Block {
  uint32_t capacity;   // bytes of data after the header
  uint32_t begin;      // first live byte (bytes before it were consumed)
  uint32_t end;        // one past the last live byte
  uint8_t size_class;  // index into the pool's free lists
  Block* next_free;    // link while cached in the pool

  uint8_t* data() noexcept { return reinterpret_cast<uint8_t*>(this + 1); }
  uint32_t size() const noexcept { return end - begin; }
};
static_assert(sizeof(Block) == 24);

struct PoolStats {
  Counter bytes_in_use;  // block bytes (header included) lent to connections
  Counter bytes_cached;  // block bytes kept for reuse
  Counter blocks_in_use;
  Counter acquires_total;  // blocks handed out since start
};

class BufferPool {
 public:
  static constexpr size_t kMinBlockBytes = 256;  // smallest block, header included
  static constexpr size_t kNumClasses = 24;      // 256 B .. 2 GiB
  // Largest data capacity a block can have.
  static constexpr size_t kMaxCapacity = (kMinBlockBytes << (kNumClasses - 1)) - sizeof(Block);

  // Keeps at most `max_cached_bytes` of free blocks; the rest go back to the heap.
  explicit BufferPool(size_t max_cached_bytes = 8u << 20) noexcept;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A block with at least `min_capacity` bytes of data, empty. Null if the heap refuses.
  Block* acquire(size_t min_capacity) noexcept;
  void release(Block* block) noexcept;

  const PoolStats& stats() const noexcept { return stats_; }
  // Block bytes (headers included) lent out now; kept whether or not stats are counted,
  // since --max-buffer-memory acts on it.
  size_t inUseBytes() const noexcept { return in_use_bytes_; }

  // Data capacity of blocks in `size_class`.
  static constexpr size_t capacityOf(size_t size_class) noexcept {
    return (kMinBlockBytes << size_class) - sizeof(Block);
  }

 private:
  static size_t classFor(size_t min_capacity) noexcept;

  std::array<Block*, kNumClasses> free_{};
  size_t max_cached_bytes_;
  size_t cached_bytes_ = 0;  // the cache bound needs this whether or not stats are counted
  size_t in_use_bytes_ = 0;
  PoolStats stats_;
};

}  // namespace mws::buf
