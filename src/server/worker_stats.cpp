#include "mws/server/worker_stats.h"

#include <bit>

namespace mws::server {

const char* disconnectReasonName(DisconnectReason reason) noexcept {
  switch (reason) {
    case DisconnectReason::kClientClose:
      return "client_close";
    case DisconnectReason::kProtocolError:
      return "protocol_error";
    case DisconnectReason::kInvalidPayload:
      return "invalid_payload";
    case DisconnectReason::kMessageTooBig:
      return "message_too_big";
    case DisconnectReason::kInternalError:
      return "internal_error";
    case DisconnectReason::kIdleTimeout:
      return "idle_timeout";
    case DisconnectReason::kReset:
      return "reset";
    case DisconnectReason::kShutdown:
      return "shutdown";
    case DisconnectReason::kTlsError:
      return "tls_error";
    case DisconnectReason::kMemoryLimit:
      return "memory_limit";
    case DisconnectReason::kCount:
      break;
  }
  return "unknown";
}

size_t closeCodeSlot(uint16_t code) noexcept {
  for (size_t i = 0; i + 1 < kCountedCloseCodes.size(); ++i) {
    if (kCountedCloseCodes[i] == code) return i;
  }
  return kCountedCloseCodes.size() - 1;
}

size_t messageSizeBucket(uint64_t bytes) noexcept {
  if (bytes <= 16) return 0;
  // bytes <= 2^b; bounds are 2^4, 2^6, 2^8, ...: bucket k holds (4^(k+1), 4^(k+2)].
  const auto b = static_cast<size_t>(std::bit_width(bytes - 1));
  const size_t bucket = (b - 3) / 2;
  return bucket < kMessageSizeBounds.size() ? bucket : kMessageSizeBounds.size();
}

size_t tlsHandshakeMicrosBucket(uint64_t micros) noexcept {
  size_t i = 0;
  while (i < kTlsHandshakeMicrosBounds.size() &&
         static_cast<double>(micros) > kTlsHandshakeMicrosBounds[i]) {
    ++i;
  }
  return i;
}

size_t loopMicrosBucket(uint64_t micros) noexcept {
  size_t i = 0;
  while (i < kLoopMicrosBounds.size() && static_cast<double>(micros) > kLoopMicrosBounds[i]) ++i;
  return i;
}

}  // namespace mws::server
