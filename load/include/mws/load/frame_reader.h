// Incremental decoder for the frames a server sends (rfc6455#section-5): unmasked,
// cut at any byte. Data payload is streamed to a FrameSink piece by piece without
// copying; control frames are delivered whole. The state is 16 bytes in the
// connection record; what cannot be decoded yet (a partial header or control frame,
// at most kMaxReaderLeftover bytes) is left for the caller to present again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mws/ws/frame.h"

namespace mws::load {

struct ReaderState {
  uint64_t remaining = 0;  // payload bytes of the current data frame not seen yet
  uint8_t message = 0;     // opcode of the data message in progress, 0 if none
  uint8_t flags = 0;       // kFlag* below

  static constexpr uint8_t kFlagInFrame = 1 << 0;
  static constexpr uint8_t kFlagFrameFin = 1 << 1;
  static constexpr uint8_t kFlagFirstPiece = 1 << 2;  // no piece of the message delivered yet
};
static_assert(sizeof(ReaderState) == 16, "ReaderState budget: 16 bytes per connection");

// A partial 10-byte header, or a control frame (2-byte header, <= 125 bytes).
inline constexpr size_t kMaxReaderLeftover = ws::kMaxServerHeaderBytes + ws::kMaxControlPayload;

class FrameSink {
 public:
  // A piece of a text or binary message; `first`/`last` mark the message's bounds.
  virtual void onData(ws::Opcode opcode, std::span<const uint8_t> piece, bool first,
                      bool last) noexcept = 0;
  // A whole control frame. Return false to stop decoding (after a Close).
  virtual bool onControl(ws::Opcode opcode, std::span<const uint8_t> payload) noexcept = 0;

 protected:
  ~FrameSink() = default;
};

enum class ReadError : uint8_t {
  kNone,
  kMasked,           // servers must not mask (rfc6455#section-5.1)
  kReservedBits,     // no extension was negotiated (rfc6455#section-5.2)
  kBadOpcode,        // reserved opcode
  kBadControl,       // fragmented or longer than 125 bytes (rfc6455#section-5.5)
  kBadContinuation,  // continuation with no message, or a new message inside one
  kTooBig,           // frame longer than the caller's limit
};

struct ReadResult {
  size_t consumed = 0;
  ReadError error = ReadError::kNone;
  bool stopped = false;  // the sink returned false
};

ReadResult readServerFrames(ReaderState& state, std::span<const uint8_t> input,
                            uint64_t max_frame_bytes, FrameSink& sink) noexcept;

const char* readErrorName(ReadError error) noexcept;

}  // namespace mws::load
