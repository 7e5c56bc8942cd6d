#include "mws/ws/decoder.h"

#include <algorithm>
#include <cstring>

#include "mws/ws/utf8.h"

namespace mws::ws {

uint8_t unmask(uint8_t* data, size_t len, const uint8_t key[4], uint8_t phase) noexcept {
  uint8_t rotated[8];
  for (int i = 0; i < 8; ++i) rotated[i] = key[(phase + i) & 3];
  uint64_t word_key;
  std::memcpy(&word_key, rotated, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= word_key;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < len; ++i) data[i] ^= rotated[i & 7];
  return static_cast<uint8_t>((phase + len) & 3);
}

namespace {

struct Header {
  size_t size;  // bytes of header, including extended length and mask
  uint64_t payload_len;
  const uint8_t* mask;  // null if the frame is unmasked
  uint8_t opcode;
  bool fin;
  bool short_length;  // length in the 7-bit field (<= 125), no extended length
};

// Outcome of looking at a header: complete, incomplete, or a protocol violation.
enum class HeaderStatus : uint8_t { kComplete, kNeedMore, kInvalid };

// Parses the header at `p`. In strict mode (not discarding) checks every rule that can
// be judged from the header alone (rfc6455#section-5.2 and 5.5).
HeaderStatus parseHeader(const uint8_t* p, size_t avail, bool strict, Header& h,
                         uint16_t& close_code) noexcept {
  if (avail < 2) return HeaderStatus::kNeedMore;
  const uint8_t b0 = p[0], b1 = p[1];
  h.fin = b0 & 0x80;
  h.opcode = b0 & 0x0F;
  const bool masked = b1 & 0x80;
  const uint8_t len7 = b1 & 0x7F;
  if (strict) {
    close_code = kCloseProtocolError;
    if (b0 & 0x70) return HeaderStatus::kInvalid;  // RSV1-3 without an extension
    if (!isKnownOpcode(h.opcode)) return HeaderStatus::kInvalid;
    if (!masked) return HeaderStatus::kInvalid;  // clients MUST mask (5.1)
    if (isControl(h.opcode) && (!h.fin || len7 > kMaxControlPayload)) {
      return HeaderStatus::kInvalid;  // 5.5: short and unfragmented
    }
  }
  const size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  h.size = 2 + ext + (masked ? 4 : 0);
  if (avail < h.size) return HeaderStatus::kNeedMore;
  h.short_length = len7 < 126;
  if (len7 < 126) {
    h.payload_len = len7;
  } else {
    uint64_t len = 0;
    for (size_t i = 0; i < ext; ++i) len = (len << 8) | p[2 + i];
    // 5.2: the most significant bit of a 64-bit length MUST be 0; lengths must be minimal.
    if (strict && (len >> 63 || (len7 == 126 && len < 126) || (len7 == 127 && len <= 0xFFFF))) {
      close_code = kCloseProtocolError;
      return HeaderStatus::kInvalid;
    }
    h.payload_len = len;
  }
  h.mask = masked ? p + 2 + ext : nullptr;
  return HeaderStatus::kComplete;
}

// Validates a Close payload (rfc6455#section-5.5.1 and 7.4): returns 0 if fine,
// else the code to fail with. Sets `code` to the status code or kCloseNoStatus.
uint16_t checkClosePayload(std::span<const uint8_t> payload, uint16_t& code) noexcept {
  if (payload.empty()) {
    code = kCloseNoStatus;
    return 0;
  }
  if (payload.size() == 1) return kCloseProtocolError;
  code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  if (!isValidCloseCode(code)) return kCloseProtocolError;
  if (!Utf8Validator::isValid(payload.subspan(2))) return kCloseInvalidPayload;
  return 0;
}

}  // namespace

DecodeResult decode(DecoderState& st, std::span<uint8_t> input, const DecoderLimits& limits,
                    DecoderHandler& handler) noexcept {
  uint8_t* const begin = input.data();
  uint8_t* const end = begin + input.size();
  uint8_t* p = begin;
  DecodeResult result;

  auto fail = [&](uint16_t code) {
    st.startDiscarding();
    result.close_code = code;
  };

  if (st.flags & DecoderState::kFlagDropAll) {
    result.consumed = input.size();
    return result;
  }

  while (true) {
    if (st.flags & DecoderState::kFlagInFrame) {
      const size_t avail = static_cast<size_t>(end - p);
      const size_t n = std::min<size_t>(st.remaining, avail);
      if (n == 0 && st.remaining > 0) break;
      st.mask_phase = unmask(p, n, st.mask, st.mask_phase);
      st.remaining -= static_cast<uint32_t>(n);
      const bool frame_done = st.remaining == 0;
      const bool last = frame_done && (st.flags & DecoderState::kFlagFrameFin);
      std::span<uint8_t> piece(p, n);
      p += n;
      if (frame_done) st.flags &= ~DecoderState::kFlagInFrame;
      if (st.discarding()) continue;

      const auto opcode = static_cast<Opcode>(st.message);
      if (opcode == Opcode::kText) {
        // Fail fast: reject at the first invalid byte, not at the end of the message.
        if (!Utf8Validator::feed(st.utf8, piece) || (last && st.utf8 != Utf8Validator::kAccept)) {
          fail(kCloseInvalidPayload);
          break;
        }
      }
      const bool first = st.flags & DecoderState::kFlagFirstPiece;
      st.flags &= ~DecoderState::kFlagFirstPiece;
      // The handler sees the message's total size in message_bytes with its last piece.
      const HandlerAction action = handler.onMessagePiece(opcode, piece, first, last);
      if (last) {
        st.message = 0;
        st.message_bytes = 0;
        st.utf8 = Utf8Validator::kAccept;
      }
      if (action == HandlerAction::kStop) {
        result.stopped = true;
        break;
      }
      continue;
    }

    if (p == end) break;
    Header h;
    uint16_t code = 0;
    const bool strict = !st.discarding();
    const HeaderStatus hs = parseHeader(p, static_cast<size_t>(end - p), strict, h, code);
    if (hs == HeaderStatus::kNeedMore) break;
    if (hs == HeaderStatus::kInvalid) {
      fail(code);  // p stays at the frame: decoding resumes there, in discard mode
      break;
    }
    static constexpr uint8_t kNoMask[4] = {0, 0, 0, 0};
    const uint8_t* key = h.mask ? h.mask : kNoMask;

    // A control frame is handled whole; only the 7-bit length form qualifies, which keeps an
    // unfinished one within kMaxClientControlFrame bytes (discard mode admits longer forms).
    if (isControl(h.opcode) && h.short_length) {
      if (static_cast<size_t>(end - p) < h.size + h.payload_len) break;  // whole frame or wait
      uint8_t* payload = p + h.size;
      const size_t len = static_cast<size_t>(h.payload_len);
      unmask(payload, len, key, 0);
      p += h.size + len;
      std::span<const uint8_t> body(payload, len);
      uint16_t close_code = 0;
      if (h.opcode == static_cast<uint8_t>(Opcode::kClose)) {
        const uint16_t bad = checkClosePayload(body, close_code);
        if (bad && strict) {
          fail(bad);
          break;
        }
        if (bad) close_code = kCloseNoStatus;
        body = len >= 2 ? body.subspan(2) : body.subspan(0, 0);
      } else if (!strict) {
        continue;  // after our Close only the peer's Close matters
      }
      if (handler.onControl(static_cast<Opcode>(h.opcode), close_code, body) ==
          HandlerAction::kStop) {
        result.stopped = true;
        break;
      }
      continue;
    }

    // A data frame (or, when discarding, any frame too long to be a valid control frame).
    if (strict) {
      const bool continuation = h.opcode == static_cast<uint8_t>(Opcode::kContinuation);
      if (continuation != (st.message != 0)) {
        fail(kCloseProtocolError);  // 5.4: continuation needs a message; data frames need none
        break;
      }
      if (h.payload_len > limits.max_message_bytes - st.message_bytes) {
        fail(kCloseMessageTooBig);
        break;
      }
      if (!continuation) {
        st.message = h.opcode;
        st.utf8 = Utf8Validator::kAccept;
        st.flags |= DecoderState::kFlagFirstPiece;
      }
      st.message_bytes += static_cast<uint32_t>(h.payload_len);
    }
    if (h.payload_len > UINT32_MAX) {
      // Only reachable while discarding (strict mode capped it at the message limit): such
      // a frame cannot be followed, so nothing after it can be parsed either.
      st.flags |= DecoderState::kFlagDropAll;
      p = end;
      break;
    }
    std::memcpy(st.mask, key, 4);
    st.mask_phase = 0;
    st.remaining = static_cast<uint32_t>(h.payload_len);
    st.flags |= DecoderState::kFlagInFrame;
    if (h.fin) {
      st.flags |= DecoderState::kFlagFrameFin;
    } else {
      st.flags &= ~DecoderState::kFlagFrameFin;
    }
    p += h.size;
  }
  result.consumed = static_cast<size_t>(p - begin);
  return result;
}

}  // namespace mws::ws
