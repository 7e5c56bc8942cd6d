#include "mws/server/worker_stats.h"

namespace mws::server {

const char* disconnectReasonName(DisconnectReason reason) noexcept {
  switch (reason) {
    case DisconnectReason::kClientClose: return "client_close";
    case DisconnectReason::kProtocolError: return "protocol_error";
    case DisconnectReason::kInvalidPayload: return "invalid_payload";
    case DisconnectReason::kMessageTooBig: return "message_too_big";
    case DisconnectReason::kInternalError: return "internal_error";
    case DisconnectReason::kIdleTimeout: return "idle_timeout";
    case DisconnectReason::kCloseTimeout: return "close_timeout";
    case DisconnectReason::kReset: return "reset";
    case DisconnectReason::kShutdown: return "shutdown";
    case DisconnectReason::kCount: break;
  }
  return "unknown";
}

}  // namespace mws::server
