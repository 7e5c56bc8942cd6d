// Output a client connection could not write yet: allocated only when a send
// comes up short (EAGAIN), drained on EPOLLOUT, freed once empty. Later writes
// queue behind it so frames never interleave. Owned by one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mws::load {

struct PendingOutput {
  std::vector<uint8_t> bytes;
  size_t sent = 0;
};

// Sends `data` now if nothing is queued; queues whatever the socket does not take.
// Returns false on a socket error (the connection is broken).
bool sendOrQueue(int fd, std::unique_ptr<PendingOutput>& pending, const uint8_t* data,
                 size_t len) noexcept;

// Sends queued bytes until the socket is full; frees the queue once it is empty.
// Returns false on a socket error.
bool flushPending(int fd, std::unique_ptr<PendingOutput>& pending) noexcept;

}  // namespace mws::load
