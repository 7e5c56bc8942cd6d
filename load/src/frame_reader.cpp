#include "mws/load/frame_reader.h"

#include <algorithm>

namespace mws::load {

namespace {

ReadResult failed(size_t pos, ReadError error) noexcept { return {pos, error, false}; }

}  // namespace

ReadResult readServerFrames(ReaderState& state, std::span<const uint8_t> input,
                            uint64_t max_frame_bytes, FrameSink& sink) noexcept {
  size_t pos = 0;
  const size_t size = input.size();
  for (;;) {
    if (state.flags & ReaderState::kFlagInFrame) {
      const uint64_t n = std::min<uint64_t>(state.remaining, size - pos);
      if (n == 0 && state.remaining > 0) break;  // need more bytes
      state.remaining -= n;
      const bool frame_done = state.remaining == 0;
      const bool last = frame_done && (state.flags & ReaderState::kFlagFrameFin);
      const bool first = state.flags & ReaderState::kFlagFirstPiece;
      state.flags &= static_cast<uint8_t>(~ReaderState::kFlagFirstPiece);
      if (frame_done) state.flags &= static_cast<uint8_t>(~ReaderState::kFlagInFrame);
      const auto opcode = static_cast<ws::Opcode>(state.message);
      if (last) state.message = 0;
      sink.onData(opcode, input.subspan(pos, n), first, last);
      pos += n;
      continue;
    }

    // Frame header (rfc6455#section-5.2).
    if (size - pos < 2) break;
    const uint8_t b0 = input[pos];
    const uint8_t b1 = input[pos + 1];
    const bool fin = b0 & 0x80;
    const uint8_t opcode = b0 & 0x0F;
    const uint8_t len7 = b1 & 0x7F;
    if (b0 & 0x70) return failed(pos, ReadError::kReservedBits);
    if (b1 & 0x80) return failed(pos, ReadError::kMasked);
    if (!ws::isKnownOpcode(opcode)) return failed(pos, ReadError::kBadOpcode);
    if (ws::isControl(opcode) && (!fin || len7 > ws::kMaxControlPayload)) {
      return failed(pos, ReadError::kBadControl);
    }
    const size_t header = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
    if (size - pos < header) break;
    uint64_t len = len7;
    if (len7 == 126) {
      len = (uint64_t{input[pos + 2]} << 8) | input[pos + 3];
    } else if (len7 == 127) {
      len = 0;
      for (size_t i = 0; i < 8; ++i) len = (len << 8) | input[pos + 2 + i];
    }
    if (len > max_frame_bytes) return failed(pos, ReadError::kTooBig);

    if (ws::isControl(opcode)) {
      if (size - pos < header + len) break;  // control frames are delivered whole
      const bool go_on =
          sink.onControl(static_cast<ws::Opcode>(opcode), input.subspan(pos + header, len));
      pos += header + len;
      if (!go_on) return {pos, ReadError::kNone, true};
      continue;
    }
    if (opcode == 0) {
      if (state.message == 0) return failed(pos, ReadError::kBadContinuation);
    } else {
      if (state.message != 0) return failed(pos, ReadError::kBadContinuation);
      state.message = opcode;
      state.flags |= ReaderState::kFlagFirstPiece;
    }
    pos += header;
    state.remaining = len;
    state.flags |= ReaderState::kFlagInFrame;
    if (fin)
      state.flags |= ReaderState::kFlagFrameFin;
    else
      state.flags &= static_cast<uint8_t>(~ReaderState::kFlagFrameFin);
  }
  return {pos, ReadError::kNone, false};
}

const char* readErrorName(ReadError error) noexcept {
  switch (error) {
    case ReadError::kNone:
      return "none";
    case ReadError::kMasked:
      return "masked server frame";
    case ReadError::kReservedBits:
      return "reserved bits set";
    case ReadError::kBadOpcode:
      return "reserved opcode";
    case ReadError::kBadControl:
      return "bad control frame";
    case ReadError::kBadContinuation:
      return "bad continuation";
    case ReadError::kTooBig:
      return "frame too big";
  }
  return "?";
}

}  // namespace mws::load
