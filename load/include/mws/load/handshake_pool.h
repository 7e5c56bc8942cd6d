// State of the handshakes in flight (connect included): the key sent, the accept
// key expected, the start time and the response bytes read so far. At most
// --max-inflight contexts exist, so an idle connection carries only an index.
// Preallocated at start-up; single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "mws/http/accept_key.h"
#include "mws/load/client_handshake.h"

namespace mws::load {

struct HandshakeContext {
  uint64_t start_ns = 0;
  uint32_t slot = 0;
  uint16_t len = 0;  // response bytes held
  bool in_use = false;
  ClientKey key{};
  http::AcceptKey expected{};
  char response[kMaxResponseBytes];
};

class HandshakePool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  explicit HandshakePool(uint32_t capacity);

  // A free context, or kNone when all are in use.
  uint32_t acquire() noexcept;
  void release(uint32_t index) noexcept;

  HandshakeContext& at(uint32_t index) noexcept { return contexts_[index]; }
  uint32_t capacity() const noexcept { return static_cast<uint32_t>(contexts_.size()); }
  uint32_t inUse() const noexcept { return capacity() - static_cast<uint32_t>(free_.size()); }

 private:
  std::vector<HandshakeContext> contexts_;
  std::vector<uint32_t> free_;
};

}  // namespace mws::load
