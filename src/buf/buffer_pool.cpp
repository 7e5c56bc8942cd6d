#include "mws/buf/buffer_pool.h"

#include <bit>
#include <cstdlib>
#include <new>

namespace mws::buf {

BufferPool::BufferPool(size_t max_cached_bytes) noexcept : max_cached_bytes_(max_cached_bytes) {}

BufferPool::~BufferPool() {
  for (Block*& head : free_) {
    while (head) {
      Block* next = head->next_free;
      std::free(head);
      head = next;
    }
  }
}

size_t BufferPool::classFor(size_t min_capacity) noexcept {
  const size_t total = min_capacity + sizeof(Block);
  if (total <= kMinBlockBytes) return 0;
  return static_cast<size_t>(std::bit_width((total - 1) / kMinBlockBytes));
}

Block* BufferPool::acquire(size_t min_capacity) noexcept {
  if (min_capacity > kMaxCapacity) return nullptr;
  const size_t cls = classFor(min_capacity);
  const size_t block_bytes = kMinBlockBytes << cls;
  Block* block = free_[cls];
  if (block) {
    free_[cls] = block->next_free;
    cached_bytes_ -= block_bytes;
    stats_.bytes_cached.sub(block_bytes);
  } else {
    block = static_cast<Block*>(std::malloc(block_bytes));
    if (!block) return nullptr;
    block->capacity = static_cast<uint32_t>(capacityOf(cls));
    block->size_class = static_cast<uint8_t>(cls);
  }
  block->begin = block->end = 0;
  block->next_free = nullptr;
  in_use_bytes_ += block_bytes;
  stats_.bytes_in_use.add(block_bytes);
  stats_.blocks_in_use.add();
  stats_.acquires_total.add();
  return block;
}

void BufferPool::release(Block* block) noexcept {
  if (!block) return;
  const size_t block_bytes = kMinBlockBytes << block->size_class;
  in_use_bytes_ -= block_bytes;
  stats_.bytes_in_use.sub(block_bytes);
  stats_.blocks_in_use.sub();
  if (cached_bytes_ + block_bytes > max_cached_bytes_) {
    std::free(block);
    return;
  }
  block->next_free = free_[block->size_class];
  free_[block->size_class] = block;
  cached_bytes_ += block_bytes;
  stats_.bytes_cached.add(block_bytes);
}

}  // namespace mws::buf
