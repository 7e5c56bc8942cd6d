// The state behind a tls::Session (session.h): private to src/tls, shared by handshake.cpp
// (OpenSSL's handshake and the take-over of its keys) and session.cpp (the record layer).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>

#include "mws/tls/record.h"
#include "mws/tls/session.h"
#include "mws/tls/session_pool.h"

namespace mws::tls {

// Byte budget of an established session (static_assert below): record keys 216 (two
// directions of key 32, IV 12, sequence 8, secret 48; AEAD and version), the SSL while
// handshaking or else the partial record (null while idle) 8, descriptor 4, partial length 2,
// state, alert, flags and ticket count 1 each, accept time 4: 240 bytes, in a 256-byte slot
// of the thread's session pool (tls/session_pool.h).
class Session {
 public:
  RecordKeys keys{};
  union {
    SSL* ssl = nullptr;  // while handshaking (no kEstablished)
    uint8_t* partial;    // once established: bytes of a record not yet whole (malloc'd)
  };
  int32_t fd = -1;
  uint16_t partial_len = 0;
  enum class State : uint8_t { kHandshaking, kOpen, kClosed, kFailed } state = State::kHandshaking;
  Alert alert = Alert::kCloseNotify;  // the alert sealClose() sends
  uint8_t flags = 0;
  uint8_t tickets = 0;       // TLS 1.3 NewSessionTicket records sent under the application key
  uint32_t accepted_us = 0;  // the caller's clock at accept, for the handshake's duration

  static constexpr uint8_t kHaveClientSecret = 1 << 0;
  static constexpr uint8_t kHaveServerSecret = 1 << 1;
  static constexpr uint8_t kResumed = 1 << 2;
  static constexpr uint8_t kAlpnHttp11 = 1 << 3;
  static constexpr uint8_t kKeyUpdateDue = 1 << 4;  // the peer asked us to update ours
  static constexpr uint8_t kTls12 = 1 << 5;
  static constexpr uint8_t kEstablished = 1 << 6;  // keys taken over, SSL freed
};
static_assert(sizeof(Session) <= 240, "TLS session budget: 240 bytes");
static_assert(sizeof(Session) <= kSessionSlotBytes && alignof(Session) <= 16);

}  // namespace mws::tls
