// Error codes of the data plane. Everything on the hot path reports failure with
// an Errc (or a negative errno from the kernel) and is noexcept; exceptions are
// reserved for start-up (server/ and main.cpp).
#pragma once

#include <cstdint>

namespace mws {

enum class Errc : uint8_t {
  kOk = 0,
  kNoMemory,  // a pool or the heap refused an allocation
  kLimit,     // a configured bound (size, count) was exceeded
};

}  // namespace mws
