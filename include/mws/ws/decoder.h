// Sans-I/O, incremental RFC 6455 frame decoder for frames sent by clients.
// Input may be cut at any byte. State is a 16-byte POD kept in the connection
// record; payload is unmasked in place and handed to a DecoderHandler as spans
// into the caller's buffer. Never allocates, never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mws/ws/frame.h"

namespace mws::ws {

struct DecoderState {
  uint32_t remaining = 0;      // payload bytes of the current data frame not seen yet
  uint32_t message_bytes = 0;  // payload bytes of the current message's frames so far (<= limit);
                               // the whole message's size while its last piece is handled
  uint8_t mask[4] = {};        // masking key of the current data frame
  uint8_t mask_phase = 0;      // index into mask for the next payload byte
  uint8_t message = 0;         // opcode of the data message in progress, 0 if none
  uint8_t utf8 = 0;            // Utf8Validator::State of the text message in progress
  uint8_t flags = 0;           // kFlag* below

  static constexpr uint8_t kFlagInFrame = 1 << 0;     // inside a data frame's payload
  static constexpr uint8_t kFlagFrameFin = 1 << 1;    // the current data frame has FIN
  static constexpr uint8_t kFlagFirstPiece = 1 << 2;  // no piece of the message delivered yet
  static constexpr uint8_t kFlagDiscard = 1 << 3;     // failed or closing: skip data, find Close
  static constexpr uint8_t kFlagDropAll = 1 << 4;     // discarding past a frame too long to
                                                      // track: nothing is parsed any more

  bool discarding() const noexcept { return flags & kFlagDiscard; }
  // After the server has sent its own Close: keep parsing frames only to find the
  // peer's Close; data is dropped and nothing is validated any more.
  void startDiscarding() noexcept { flags |= kFlagDiscard; }
};
static_assert(sizeof(DecoderState) == 16, "DecoderState budget: 16 bytes per connection");

struct DecoderLimits {
  uint32_t max_message_bytes = 1u << 20;  // at most 2^32 - 1: frame lengths are tracked in 32 bits
};

enum class HandlerAction : uint8_t { kContinue, kStop };

class DecoderHandler {
 public:
  // A piece of a text or binary message, unmasked in place (the caller may reuse
  // the bytes). `first` marks the message's first piece and `last` its completion;
  // first && last means the whole message is in `piece`. Text is already UTF-8
  // validated up to and including this piece.
  virtual HandlerAction onMessagePiece(Opcode opcode, std::span<uint8_t> piece, bool first,
                                       bool last) noexcept = 0;
  // A complete control frame. For Close, `close_code` is the validated status code
  // (kCloseNoStatus when the payload was empty) and `payload` is the reason text.
  virtual HandlerAction onControl(Opcode opcode, uint16_t close_code,
                                  std::span<const uint8_t> payload) noexcept = 0;

 protected:
  ~DecoderHandler() = default;
};

struct DecodeResult {
  size_t consumed = 0;      // input bytes used; the rest is an incomplete header or control
                            // frame (at most kMaxClientControlFrame bytes) to present again
  uint16_t close_code = 0;  // non-zero: fail the connection with this code (the state is
                            // already discarding, so decoding may continue after it)
  bool stopped = false;     // the handler returned kStop
};

DecodeResult decode(DecoderState& state, std::span<uint8_t> input, const DecoderLimits& limits,
                    DecoderHandler& handler) noexcept;

// XORs `data` with the 4-byte key starting at key index `phase`, a word at a time.
// Returns the phase for the byte after `data`.
uint8_t unmask(uint8_t* data, size_t len, const uint8_t key[4], uint8_t phase) noexcept;

}  // namespace mws::ws
