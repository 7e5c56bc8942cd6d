#include "mws/buf/byte_buffer.h"

#include <cstring>

namespace mws::buf {

Errc ByteBuffer::reserve(BufferPool& pool, size_t extra) noexcept {
  const size_t live = size();
  if (block_ && block_->capacity - block_->end >= extra) return Errc::kOk;
  if (block_ && block_->capacity >= live + extra) {
    // Enough room once the consumed prefix is reclaimed.
    std::memmove(block_->data(), block_->data() + block_->begin, live);
    block_->begin = 0;
    block_->end = static_cast<uint32_t>(live);
    return Errc::kOk;
  }
  if (live + extra > BufferPool::kMaxCapacity) return Errc::kLimit;
  // Grow geometrically so that assembling a message costs O(size) copies in total.
  const size_t want = live + extra < 2 * live ? 2 * live : live + extra;
  Block* bigger = pool.acquire(want);
  if (!bigger) return Errc::kNoMemory;
  if (live) std::memcpy(bigger->data(), block_->data() + block_->begin, live);
  bigger->end = static_cast<uint32_t>(live);
  pool.release(block_);
  block_ = bigger;
  return Errc::kOk;
}

Errc ByteBuffer::append(BufferPool& pool, std::span<const uint8_t> a,
                        std::span<const uint8_t> b) noexcept {
  const size_t extra = a.size() + b.size();
  if (extra == 0) return Errc::kOk;
  if (Errc e = reserve(pool, extra); e != Errc::kOk) return e;
  uint8_t* out = block_->data() + block_->end;
  if (!a.empty()) std::memcpy(out, a.data(), a.size());
  if (!b.empty()) std::memcpy(out + a.size(), b.data(), b.size());
  block_->end += static_cast<uint32_t>(extra);
  return Errc::kOk;
}

Errc ByteBuffer::assign(BufferPool& pool, size_t n) noexcept {
  clear(pool);
  block_ = pool.acquire(n);
  if (!block_) return Errc::kNoMemory;
  block_->end = static_cast<uint32_t>(n);
  return Errc::kOk;
}

void ByteBuffer::truncate(BufferPool& pool, size_t n) noexcept {
  if (!block_) return;
  block_->end -= static_cast<uint32_t>(n);
  if (block_->begin >= block_->end) clear(pool);
}

void ByteBuffer::consume(BufferPool& pool, size_t n) noexcept {
  if (!block_) return;
  block_->begin += static_cast<uint32_t>(n);
  if (block_->begin >= block_->end) clear(pool);
}

void ByteBuffer::clear(BufferPool& pool) noexcept {
  pool.release(block_);
  block_ = nullptr;
}

}  // namespace mws::buf
