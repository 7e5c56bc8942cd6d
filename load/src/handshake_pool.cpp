#include "mws/load/handshake_pool.h"

namespace mws::load {

HandshakePool::HandshakePool(uint32_t capacity) : contexts_(capacity) {
  free_.reserve(capacity);
  // Hand out low indices first: they stay warm in cache.
  for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

uint32_t HandshakePool::acquire() noexcept {
  if (free_.empty()) return kNone;
  const uint32_t index = free_.back();
  free_.pop_back();
  contexts_[index].in_use = true;
  contexts_[index].len = 0;
  return index;
}

void HandshakePool::release(uint32_t index) noexcept {
  if (!contexts_[index].in_use) return;
  contexts_[index].in_use = false;
  free_.push_back(index);
}

}  // namespace mws::load
