// libFuzzer target for the server's frame decoder (ws::decode, rfc6455#section-5).
//
// The stream is cut into reads as a socket would, and whatever decode() leaves unconsumed
// (an unfinished header or control frame) is put in front of the next read, as
// server/session.cpp does. The outcome is checked three ways:
//   - invariants on every call: pieces in order and of one opcode per message, text valid
//     UTF-8 so far (fuzz_support.h's own checker) and complete text fully valid, control
//     payloads of at most 125 bytes, Close codes from the registry, messages within the
//     limit, failures only with 1002/1007/1009, a leftover of at most 131 bytes;
//   - in normal mode and in discard mode from the first byte, against a model written here
//     that reads the whole stream at once with the RFC's rules (same messages, control
//     frames, failure code, Close);
//   - when the server starts discarding mid-stream, against the same stream read in two
//     reads split where discarding starts.
//
// Input: byte 0 = mode (bits 0-1: normal, discard from the start, discard from an offset),
// message limit (bits 2-4) and read-size class (bits 5-7); byte 1 = read-size seed; bytes
// 2-3 = the offset where discarding starts (little-endian); the rest is the client's stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_support.h"
#include "mws/ws/decoder.h"
#include "mws/ws/frame.h"

namespace {

using mws::fuzz::isUtf8;
using mws::ws::Opcode;

constexpr uint32_t kLimits[8] = {0, 1, 3, 125, 126, 65535, 65536, 1u << 20};

enum class Mode : uint8_t { kNormal, kDiscardFromStart, kDiscardFromOffset };

struct Event {
  bool message = false;  // a whole data message, else a control frame
  uint8_t opcode = 0;
  uint16_t close_code = 0;
  std::vector<uint8_t> bytes;  // message payload, or control payload (Close: the reason)
  bool operator==(const Event&) const = default;
};

struct Outcome {
  std::vector<Event> events;
  std::vector<uint8_t> partial;  // delivered pieces of the message in progress
  uint16_t close_code = 0;       // the connection failed with this code
  bool stopped = false;          // a Close ended the stream
};

// Registered codes a peer may send (rfc6455#section-7.4.1, 7.4.2 and the IANA registry),
// listed rather than computed so that it does not share a mistake with frame.h.
bool closeCodeAllowed(uint16_t code) {
  static constexpr uint16_t kCodes[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                        1009, 1010, 1011, 1012, 1013, 1014};
  if (code >= 3000 && code <= 4999) return true;
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

class Recorder final : public mws::ws::DecoderHandler {
 public:
  Recorder(const mws::ws::DecoderState& state, uint32_t limit, Outcome& out)
      : state_(state), limit_(limit), out_(out) {}

  mws::ws::HandlerAction onMessagePiece(Opcode opcode, std::span<uint8_t> piece, bool first,
                                        bool last) noexcept override {
    FUZZ_CHECK(!state_.discarding());  // discarding drops data
    FUZZ_CHECK(opcode == Opcode::kText || opcode == Opcode::kBinary);
    if (first) {
      FUZZ_CHECK(!in_message_);  // pieces of two messages never interleave
      FUZZ_CHECK(out_.partial.empty());
      in_message_ = true;
      opcode_ = opcode;
    } else {
      FUZZ_CHECK(in_message_);
      FUZZ_CHECK(opcode == opcode_);
    }
    out_.partial.insert(out_.partial.end(), piece.begin(), piece.end());
    FUZZ_CHECK(out_.partial.size() <= limit_);
    if (opcode == Opcode::kText) FUZZ_CHECK(isUtf8(out_.partial, !last));
    if (last) {
      out_.events.push_back({true, static_cast<uint8_t>(opcode), 0, std::move(out_.partial)});
      out_.partial.clear();
      in_message_ = false;
    }
    return mws::ws::HandlerAction::kContinue;
  }

  mws::ws::HandlerAction onControl(Opcode opcode, uint16_t close_code,
                                   std::span<const uint8_t> payload) noexcept override {
    FUZZ_CHECK(opcode == Opcode::kClose || opcode == Opcode::kPing || opcode == Opcode::kPong);
    FUZZ_CHECK(payload.size() <= mws::ws::kMaxControlPayload);
    const bool strict = !state_.discarding();
    if (opcode != Opcode::kClose) {
      FUZZ_CHECK(strict);  // after our Close only the peer's Close matters
      FUZZ_CHECK(close_code == 0);
    } else if (close_code == mws::ws::kCloseNoStatus) {
      if (strict) FUZZ_CHECK(payload.empty());  // discarding: a bad Close counts as none
    } else {
      FUZZ_CHECK(closeCodeAllowed(close_code));
      FUZZ_CHECK(payload.size() <= mws::ws::kMaxControlPayload - 2);
      FUZZ_CHECK(isUtf8(payload, false));
    }
    out_.events.push_back({false, static_cast<uint8_t>(opcode), close_code,
                           std::vector<uint8_t>(payload.begin(), payload.end())});
    // The server stops at a Close: it answers it, or it was the answer to its own.
    return opcode == Opcode::kClose ? mws::ws::HandlerAction::kStop
                                    : mws::ws::HandlerAction::kContinue;
  }

 private:
  const mws::ws::DecoderState& state_;
  uint32_t limit_;
  Outcome& out_;
  bool in_message_ = false;
  Opcode opcode_ = Opcode::kContinuation;
};

// Reads `stream` as the server does, in reads of the chunker's sizes (cut at `switch_at` too,
// where the server starts discarding before the next read).
Outcome runDecoder(std::span<const uint8_t> stream, uint32_t limit, Mode mode, size_t switch_at,
                   mws::fuzz::Chunker chunker) {
  Outcome out;
  mws::ws::DecoderState state;
  if (mode == Mode::kDiscardFromStart) state.startDiscarding();
  const mws::ws::DecoderLimits limits{limit};
  Recorder recorder(state, limit, out);
  std::vector<uint8_t> tail;
  std::vector<uint8_t> read;
  size_t pos = 0;
  while (pos < stream.size()) {
    if (mode == Mode::kDiscardFromOffset && pos == switch_at) state.startDiscarding();
    size_t n = std::min(chunker.next(), stream.size() - pos);
    if (mode == Mode::kDiscardFromOffset && pos < switch_at && switch_at < pos + n) {
      n = switch_at - pos;
    }
    read = tail;
    read.insert(read.end(), stream.begin() + static_cast<ptrdiff_t>(pos),
                stream.begin() + static_cast<ptrdiff_t>(pos + n));
    pos += n;
    const bool was_discarding = state.discarding();
    const mws::ws::DecodeResult r = mws::ws::decode(state, read, limits, recorder);
    FUZZ_CHECK(r.consumed <= read.size());
    if (r.close_code != 0) {
      FUZZ_CHECK(!was_discarding);  // discarding never fails
      FUZZ_CHECK(state.discarding());
      FUZZ_CHECK(r.close_code == mws::ws::kCloseProtocolError ||
                 r.close_code == mws::ws::kCloseInvalidPayload ||
                 r.close_code == mws::ws::kCloseMessageTooBig);
      out.close_code = r.close_code;
      return out;  // the server fails the connection and reads no further frames
    }
    if (r.stopped) {
      FUZZ_CHECK(!out.events.empty() && out.events.back().opcode == 0x8);
      out.stopped = true;
      return out;
    }
    // What is left must fit in front of the next read (worker.h's kSpillRoom, and
    // Connection::spill is one byte).
    tail.assign(read.begin() + static_cast<ptrdiff_t>(r.consumed), read.end());
    FUZZ_CHECK(tail.size() <= mws::ws::kMaxClientControlFrame);
  }
  return out;
}

uint64_t readLength(std::span<const uint8_t> p, size_t bytes) {
  uint64_t len = 0;
  for (size_t i = 0; i < bytes; ++i) len = (len << 8) | p[i];
  return len;
}

// The whole stream read at once, frame by frame, by the rules of rfc6455#section-5 (and 7.4
// for Close), failing as early as the bytes present allow, as an incremental decoder must.
Outcome runModel(std::span<const uint8_t> s, uint32_t limit, bool discard) {
  Outcome out;
  uint8_t message = 0;        // opcode of the message in progress
  uint64_t message_len = 0;   // its declared length so far
  std::vector<uint8_t> text;  // all of the message so far, for the UTF-8 check
  size_t pos = 0;
  auto fail = [&](uint16_t code) {
    out.close_code = code;
    return out;
  };
  while (s.size() - pos >= 2) {
    const uint8_t b0 = s[pos], b1 = s[pos + 1];
    const bool fin = b0 & 0x80;
    const uint8_t op = b0 & 0x0F;
    const bool masked = b1 & 0x80;
    const uint8_t len7 = b1 & 0x7F;
    const bool control = op >= 0x8;
    if (!discard) {
      if (b0 & 0x70) return fail(1002);                           // RSV without extension
      if ((op > 0x2 && op < 0x8) || op > 0xA) return fail(1002);  // reserved opcode
      if (!masked) return fail(1002);                             // 5.1
      if (control && (!fin || len7 > 125)) return fail(1002);     // 5.5
    }
    const size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const size_t header = 2 + ext + (masked ? 4 : 0);
    if (s.size() - pos < header) break;
    const uint64_t len = ext ? readLength(s.subspan(pos + 2), ext) : len7;
    if (!discard) {  // 5.2: minimal lengths, 63-bit at most
      if ((ext == 2 && len < 126) || (ext == 8 && (len <= 0xFFFF || len >> 63))) return fail(1002);
    }
    uint8_t key[4] = {0, 0, 0, 0};
    if (masked) std::copy_n(s.begin() + static_cast<ptrdiff_t>(pos + 2 + ext), 4, key);
    const size_t body = pos + header;
    auto unmasked = [&](size_t n) {
      std::vector<uint8_t> v(s.begin() + static_cast<ptrdiff_t>(body),
                             s.begin() + static_cast<ptrdiff_t>(body + n));
      for (size_t i = 0; i < n; ++i) v[i] ^= key[i % 4];
      return v;
    };

    if (control && len7 <= 125) {
      if (s.size() - body < len) break;  // only whole control frames count
      std::vector<uint8_t> payload = unmasked(len);
      pos = body + len;
      if (op == 0x8) {
        uint16_t code = 1005;
        uint16_t bad = 0;
        if (payload.size() == 1) {
          bad = 1002;
        } else if (payload.size() >= 2) {
          code = static_cast<uint16_t>(payload[0] << 8 | payload[1]);
          if (!closeCodeAllowed(code)) {
            bad = 1002;
          } else if (!isUtf8(std::span(payload).subspan(2), false)) {
            bad = 1007;
          }
        }
        if (bad && !discard) return fail(bad);
        if (bad) code = 1005;
        payload.erase(payload.begin(), payload.begin() + std::min<ptrdiff_t>(2, payload.size()));
        out.events.push_back({false, op, code, std::move(payload)});
        out.stopped = true;
        return out;
      }
      if (!discard) out.events.push_back({false, op, 0, std::move(payload)});
      continue;
    }

    if (discard) {
      // Data is skipped unread; a frame too long to follow ends all parsing.
      if (len > UINT32_MAX || s.size() - body < len) break;
      pos = body + len;
      continue;
    }
    if ((op == 0x0) != (message != 0)) return fail(1002);  // 5.4
    if (len > limit - message_len) return fail(1009);
    if (op != 0x0) {
      message = op;
      text.clear();
    }
    message_len += len;
    const size_t have = static_cast<size_t>(std::min<uint64_t>(len, s.size() - body));
    const std::vector<uint8_t> bytes = unmasked(have);
    const bool last = fin && have == len;
    if (message == 0x1) {
      text.insert(text.end(), bytes.begin(), bytes.end());
      if (!isUtf8(text, !last)) return fail(1007);  // at the first bad byte
    }
    out.partial.insert(out.partial.end(), bytes.begin(), bytes.end());
    if (have < len) break;
    pos = body + len;
    if (fin) {
      out.events.push_back({true, message, 0, std::move(out.partial)});
      out.partial.clear();
      message = 0;
      message_len = 0;
    }
  }
  return out;
}

bool isPrefix(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Two readings of one stream must agree on everything but how far a message that failed
// UTF-8 validation got: its last piece is never delivered, and pieces depend on the reads.
void expectSame(const Outcome& a, const Outcome& b) {
  FUZZ_CHECK(a.events == b.events);
  FUZZ_CHECK(a.close_code == b.close_code);
  FUZZ_CHECK(a.stopped == b.stopped);
  if (a.close_code == mws::ws::kCloseInvalidPayload) {
    FUZZ_CHECK(isPrefix(a.partial, b.partial) || isPrefix(b.partial, a.partial));
  } else {
    FUZZ_CHECK(a.partial == b.partial);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t control = data[0];
  const Mode mode = (control & 3) == 1   ? Mode::kDiscardFromStart
                    : (control & 3) == 2 ? Mode::kDiscardFromOffset
                                         : Mode::kNormal;
  const uint32_t limit = kLimits[(control >> 2) & 7];
  const mws::fuzz::Chunker chunker(data[1], mws::fuzz::maxChunkForClass(control >> 5));
  const std::span<const uint8_t> stream(data + 4, size - 4);
  const size_t switch_at = (data[2] | data[3] << 8) % (stream.size() + 1);

  const Outcome chunked = runDecoder(stream, limit, mode, switch_at, chunker);
  if (mode == Mode::kDiscardFromOffset) {
    // All at once, but for the cut where discarding starts.
    const Outcome split =
        runDecoder(stream, limit, mode, switch_at, mws::fuzz::Chunker(0, SIZE_MAX));
    expectSame(chunked, split);
  } else {
    expectSame(chunked, runModel(stream, limit, mode == Mode::kDiscardFromStart));
  }
  return 0;
}
