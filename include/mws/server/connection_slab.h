// A reactor's connection records in one contiguous reservation: address space for
// `capacity` records is reserved up front and pages are touched only as slots are
// used, so memory follows the connections actually held. Slots are recycled LIFO
// through a free list threaded through the records. One thread; no locks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mws/server/connection.h"

namespace mws::server {

class ConnectionSlab {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  explicit ConnectionSlab(uint32_t capacity);  // throws std::system_error (start-up)
  ~ConnectionSlab();
  ConnectionSlab(const ConnectionSlab&) = delete;
  ConnectionSlab& operator=(const ConnectionSlab&) = delete;

  // A fresh record (state kHandshaking is for the caller to set), or kNone if full.
  uint32_t allocate() noexcept;
  // Returns the slot; bumps its generation so stale events for it are ignored.
  void release(uint32_t index) noexcept;

  Connection& at(uint32_t index) noexcept { return records_[index]; }
  const Connection& at(uint32_t index) const noexcept { return records_[index]; }
  // The slot of a record of this slab: records are contiguous, so a connection needs no
  // field (and no caller a hidden "current slot" variable) to know its index.
  uint32_t indexOf(const Connection& c) const noexcept {
    return static_cast<uint32_t>(&c - records_);
  }
  uint32_t capacity() const noexcept { return capacity_; }
  // Slots ever handed out: iterate [0, highWater()) to visit every live record.
  uint32_t highWater() const noexcept { return high_water_; }
  uint32_t live() const noexcept { return live_; }

 private:
  Connection* records_;
  size_t reserved_bytes_;
  uint32_t capacity_;
  uint32_t high_water_ = 0;
  uint32_t free_head_ = kNone;
  uint32_t live_ = 0;
};

}  // namespace mws::server
