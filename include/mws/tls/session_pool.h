// Where established TLS sessions live: 256-byte slots carved from 64 KiB blocks, one pool
// per thread (a session is made and released on its connection's reactor thread). Keeping
// these long-lived objects out of malloc's heap keeps them from pinning the pages that each
// handshake's short-lived OpenSSL objects (~30 KB, freed at the end) pass through, so a
// ramp's peak is given back to the system instead of staying in the heap. Never throws;
// blocks are kept for reuse (like the connection slab), not returned.
#pragma once

#include <cstddef>

namespace mws::tls {

inline constexpr size_t kSessionSlotBytes = 256;

// A slot of kSessionSlotBytes (16-byte aligned), or nullptr if no memory could be mapped.
void* allocateSessionSlot() noexcept;
// Gives a slot back to the calling thread's pool.
void releaseSessionSlot(void* slot) noexcept;
// This thread's pool: bytes mapped, slots lent out now (for tests and measurements).
size_t sessionPoolMappedBytes() noexcept;
size_t sessionPoolSlotsInUse() noexcept;

}  // namespace mws::tls
