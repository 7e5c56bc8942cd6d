// A growable byte queue in one pooled block, 8 bytes when held in a connection
// record and no memory at all while empty. Used for a connection's spilled frame
// bytes, its handshake parser and its unsent output. Never throws;
// growth that the pool refuses is reported as Errc::kNoMemory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mws/base/errc.h"
#include "mws/buf/buffer_pool.h"

namespace mws::buf {

class ByteBuffer {
 public:
  ByteBuffer() noexcept = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  bool empty() const noexcept { return !block_ || block_->size() == 0; }
  bool holdsBlock() const noexcept { return block_ != nullptr; }
  size_t size() const noexcept { return block_ ? block_->size() : 0; }
  // Pool memory held: the block with its header, 0 without one.
  size_t blockBytes() const noexcept { return block_ ? block_->capacity + sizeof(Block) : 0; }
  std::span<uint8_t> bytes() noexcept {
    return block_ ? std::span<uint8_t>(block_->data() + block_->begin, block_->size())
                  : std::span<uint8_t>();
  }

  // Appends `a` then `b`; on failure nothing is appended.
  Errc append(BufferPool& pool, std::span<const uint8_t> a,
              std::span<const uint8_t> b = {}) noexcept;
  // Makes the buffer hold exactly `n` bytes of unspecified content in a fresh block
  // (storage for an object placed there by the caller).
  Errc assign(BufferPool& pool, size_t n) noexcept;
  // Drops `n` bytes from the back; gives the block back once empty.
  void truncate(BufferPool& pool, size_t n) noexcept;
  // Drops `n` bytes from the front; gives the block back once empty.
  void consume(BufferPool& pool, size_t n) noexcept;
  // Gives the block back.
  void clear(BufferPool& pool) noexcept;

 private:
  Errc reserve(BufferPool& pool, size_t extra) noexcept;

  Block* block_ = nullptr;
};
static_assert(sizeof(ByteBuffer) == 8);

}  // namespace mws::buf
