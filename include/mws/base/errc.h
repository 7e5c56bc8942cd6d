// Error codes of the data plane. Everything on the hot path reports failure with
// an Errc (or a negative errno from the kernel) and is noexcept; exceptions are
// reserved for start-up (server/ and main.cpp).
#pragma once

#include <cstdint>

namespace mws {

enum class Errc : uint8_t {
  kOk = 0,
  kAgain,          // would block; retry on the next readiness edge
  kClosed,         // the peer closed the connection (read returned 0)
  kReset,          // the peer reset the connection or the socket errored
  kNoMemory,       // a pool or the heap refused an allocation
  kLimit,          // a configured bound (size, count) was exceeded
};

const char* errcName(Errc errc) noexcept;

}  // namespace mws
