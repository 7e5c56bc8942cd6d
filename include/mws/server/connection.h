// The per-connection record: everything a connection costs in user space while
// idle. 56 bytes, no pointer to anything while idle (both buffers empty; the TLS pointer
// null for ws://), kept in a per-reactor slab. Plain data: the behaviour lives in
// server/session.cpp.
//
// Byte budget (static_assert below):
//   msg 8      pooled block: the handshake parser, or the few raw bytes of an unfinished
//              frame header or control frame kept between reads (`spill`, <= 131);
//              messages are echoed piece by piece and never assembled
//   out 8      pooled block: output the kernel did not take yet
//   decoder 16 RFC 6455 decoder state (ws/decoder.h)
//   tls 8      wss:// only: the tls::Session (tls/session.h), one 256-byte slot of keys
//              while idle (an OpenSSL SSL object kept instead: ~14 KiB, measured)
//   fd 4, generation 2, active_tick 2, state_tick 2, wheel_due 2,
//   state 1, flags 1, spill 1, reason 1
#pragma once

#include <cstdint>

#include "mws/buf/byte_buffer.h"
#include "mws/server/worker_stats.h"
#include "mws/tls/session.h"
#include "mws/ws/decoder.h"

namespace mws::server {

enum class ConnState : uint8_t {
  kFree,         // slot unused
  kHandshaking,  // reading the HTTP upgrade request
  kOpen,         // echoing
  kClosing,      // we sent Close; waiting for the client's Close
  kFlushing,     // the last bytes are queued; close the socket once they are sent
  kLingering,    // HTTP error or failing Close sent; write side shut once it is out,
                 // input dropped until EOF so that the client reads it
  kDead,         // to be released at the end of the current event
};

struct Connection {
  buf::ByteBuffer msg;
  buf::ByteBuffer out;
  ws::DecoderState decoder;
  // wss:// only: the connection's TLS session (tls/session.h), null for ws://
  tls::Session* tls = nullptr;
  int32_t fd = -1;           // while free: index of the next free slot
  uint16_t generation = 0;   // bumped on release; stale epoll events carry the old one
  uint16_t active_tick = 0;  // last tick with input
  uint16_t state_tick = 0;   // tick the state began (or the last ping went out, when open)
  uint16_t wheel_due = 0;    // tick of this connection's live timer entry, if kInWheel
  ConnState state = ConnState::kFree;
  uint8_t flags = 0;
  uint8_t spill = 0;  // trailing bytes of `msg` that are an unfinished frame
  DisconnectReason reason = DisconnectReason::kReset;

  static constexpr uint8_t kPaused = 1 << 0;      // reads stopped: too much unsent output
  static constexpr uint8_t kInWheel = 1 << 1;     // has a live timer entry at wheel_due
  static constexpr uint8_t kReadQueued = 1 << 2;  // on the reactor's list to read again
  static constexpr uint8_t kCounted = 1 << 3;     // counted in the open WebSocket total
  static constexpr uint8_t kShutWr = 1 << 4;      // write side already shut down
  static constexpr uint8_t kTlsCounted = 1 << 5;  // counted in the TLS connections by version
  static constexpr uint8_t kTlsClosed = 1 << 6;   // our last TLS alert (close_notify) is out
};
static_assert(sizeof(Connection) == 56, "per-connection budget: 48 bytes + the TLS pointer");

}  // namespace mws::server
