#include "mws/server/connection_slab.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace mws::server {

ConnectionSlab::ConnectionSlab(uint32_t capacity)
    : reserved_bytes_(static_cast<size_t>(capacity) * sizeof(Connection)), capacity_(capacity) {
  // MAP_NORESERVE: address space only; a page costs memory once a record on it is used.
  void* p = ::mmap(nullptr, reserved_bytes_ ? reserved_bytes_ : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap slab");
  records_ = static_cast<Connection*>(p);
}

ConnectionSlab::~ConnectionSlab() { ::munmap(records_, reserved_bytes_ ? reserved_bytes_ : 1); }

uint32_t ConnectionSlab::allocate() noexcept {
  uint32_t index;
  if (free_head_ != kNone) {
    index = free_head_;
    free_head_ = static_cast<uint32_t>(records_[index].fd);
    const uint16_t generation = records_[index].generation;
    new (&records_[index]) Connection();
    records_[index].generation = generation;
  } else {
    if (high_water_ == capacity_) return kNone;
    index = high_water_++;
    new (&records_[index]) Connection();
  }
  ++live_;
  return index;
}

void ConnectionSlab::release(uint32_t index) noexcept {
  Connection& c = records_[index];
  c.state = ConnState::kFree;
  c.generation = static_cast<uint16_t>(c.generation + 1);
  c.fd = static_cast<int32_t>(free_head_);
  free_head_ = index;
  --live_;
}

}  // namespace mws::server
