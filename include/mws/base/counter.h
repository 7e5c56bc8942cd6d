// A statistic written by exactly one thread and read by others (the admin thread
// at scrape time). Writes are a relaxed load plus a relaxed store: a plain add,
// no locked instruction, yet no data race for the reader.
#pragma once

#include <atomic>
#include <cstdint>

namespace mws {

class Counter {
 public:
  void add(uint64_t n = 1) noexcept { set(get() + n); }
  void sub(uint64_t n = 1) noexcept { set(get() - n); }
  void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace mws
