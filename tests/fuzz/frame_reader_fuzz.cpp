// libFuzzer target for the load generator's reader of server frames
// (load::readServerFrames, rfc6455#section-5).
//
// The stream is cut into reads of random sizes and what the reader leaves unconsumed is put
// in front of the next read, as load/src/client_set.cpp does. Checked on every call: pieces in
// order and of one opcode per message, whole control frames of at most 125 bytes, a leftover
// of at most kMaxReaderLeftover bytes. The outcome (messages, control frames, the error and
// the stream offset of the frame that caused it, a stop at Close) must equal that of a model
// written here that reads the whole stream at once.
//
// Input: byte 0 = read-size class (bits 0-2), frame limit (bits 3-5), whether a Close stops
// reading (bit 6, as the load generator does); byte 1 = read-size seed; the rest is the
// server's stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "mws/load/frame_reader.h"

namespace {

using mws::load::ReadError;
using mws::ws::Opcode;

constexpr uint64_t kLimits[8] = {0, 1, 125, 126, 65535, 65536, 1u << 20, UINT64_MAX};

struct Event {
  bool message = false;  // a whole data message, else a control frame
  uint8_t opcode = 0;
  std::vector<uint8_t> bytes;
  bool operator==(const Event&) const = default;
};

struct Outcome {
  std::vector<Event> events;
  std::vector<uint8_t> partial;  // delivered pieces of the message in progress
  ReadError error = ReadError::kNone;
  size_t error_offset = 0;  // where in the stream the offending frame starts
  bool stopped = false;
  bool operator==(const Outcome&) const = default;
};

class Recorder final : public mws::load::FrameSink {
 public:
  Recorder(bool stop_at_close, Outcome& out) : stop_at_close_(stop_at_close), out_(out) {}

  void onData(Opcode opcode, std::span<const uint8_t> piece, bool first,
              bool last) noexcept override {
    FUZZ_CHECK(opcode == Opcode::kText || opcode == Opcode::kBinary);
    if (first) {
      FUZZ_CHECK(!in_message_ && out_.partial.empty());
      in_message_ = true;
      opcode_ = opcode;
    } else {
      FUZZ_CHECK(in_message_ && opcode == opcode_);
    }
    out_.partial.insert(out_.partial.end(), piece.begin(), piece.end());
    if (last) {
      out_.events.push_back({true, static_cast<uint8_t>(opcode), std::move(out_.partial)});
      out_.partial.clear();
      in_message_ = false;
    }
  }

  bool onControl(Opcode opcode, std::span<const uint8_t> payload) noexcept override {
    FUZZ_CHECK(opcode == Opcode::kClose || opcode == Opcode::kPing || opcode == Opcode::kPong);
    FUZZ_CHECK(payload.size() <= mws::ws::kMaxControlPayload);
    out_.events.push_back({false, static_cast<uint8_t>(opcode),
                           std::vector<uint8_t>(payload.begin(), payload.end())});
    return !(stop_at_close_ && opcode == Opcode::kClose);
  }

 private:
  bool stop_at_close_;
  Outcome& out_;
  bool in_message_ = false;
  Opcode opcode_ = Opcode::kContinuation;
};

Outcome runReader(std::span<const uint8_t> stream, uint64_t limit, bool stop_at_close,
                  mws::fuzz::Chunker chunker) {
  Outcome out;
  Recorder recorder(stop_at_close, out);
  mws::load::ReaderState state;
  std::vector<uint8_t> read;
  size_t pos = 0;    // stream bytes read so far
  size_t start = 0;  // stream offset of read[0]
  while (pos < stream.size()) {
    const size_t n = std::min(chunker.next(), stream.size() - pos);
    read.insert(read.end(), stream.begin() + static_cast<ptrdiff_t>(pos),
                stream.begin() + static_cast<ptrdiff_t>(pos + n));
    pos += n;
    const mws::load::ReadResult r = mws::load::readServerFrames(state, read, limit, recorder);
    FUZZ_CHECK(r.consumed <= read.size());
    if (r.error != ReadError::kNone) {
      FUZZ_CHECK(std::string_view(mws::load::readErrorName(r.error)) != "?");
      out.error = r.error;
      out.error_offset = start + r.consumed;
      return out;
    }
    if (r.stopped) {
      out.stopped = true;
      return out;
    }
    read.erase(read.begin(), read.begin() + static_cast<ptrdiff_t>(r.consumed));
    start += r.consumed;
    FUZZ_CHECK(read.size() <= mws::load::kMaxReaderLeftover);  // client_set.cpp's MWS_CHECK
  }
  return out;
}

// The whole stream at once, by rfc6455#section-5: server frames are unmasked, use no RSV bit
// and no reserved opcode; control frames are final and at most 125 bytes and come whole;
// continuations belong to a message and a new message waits for the last one to end.
Outcome runModel(std::span<const uint8_t> s, uint64_t limit, bool stop_at_close) {
  Outcome out;
  uint8_t message = 0;
  size_t pos = 0;
  auto fail = [&](ReadError e) {
    out.error = e;
    out.error_offset = pos;
    return out;
  };
  while (s.size() - pos >= 2) {
    const bool fin = s[pos] & 0x80;
    const uint8_t op = s[pos] & 0x0F;
    const uint8_t len7 = s[pos + 1] & 0x7F;
    if (s[pos] & 0x70) return fail(ReadError::kReservedBits);
    if (s[pos + 1] & 0x80) return fail(ReadError::kMasked);
    if ((op > 0x2 && op < 0x8) || op > 0xA) return fail(ReadError::kBadOpcode);
    if (op >= 0x8 && (!fin || len7 > 125)) return fail(ReadError::kBadControl);
    const size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (s.size() - pos < 2 + ext) break;
    uint64_t len = len7;
    if (ext) {
      len = 0;
      for (size_t i = 0; i < ext; ++i) len = len << 8 | s[pos + 2 + i];
    }
    if (len > limit) return fail(ReadError::kTooBig);
    const size_t body = pos + 2 + ext;
    if (op >= 0x8) {
      if (s.size() - body < len) break;
      out.events.push_back(
          {false, op, std::vector<uint8_t>(s.begin() + body, s.begin() + body + len)});
      pos = body + len;
      if (stop_at_close && op == 0x8) {
        out.stopped = true;
        return out;
      }
      continue;
    }
    if ((op == 0) != (message != 0)) return fail(ReadError::kBadContinuation);
    if (op != 0) message = op;
    const size_t have = static_cast<size_t>(std::min<uint64_t>(len, s.size() - body));
    out.partial.insert(out.partial.end(), s.begin() + body, s.begin() + body + have);
    if (have < len) break;
    pos = body + len;
    if (fin) {
      out.events.push_back({true, message, std::move(out.partial)});
      out.partial.clear();
      message = 0;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t control = data[0];
  const uint64_t limit = kLimits[(control >> 3) & 7];
  const bool stop_at_close = control & 0x40;
  const std::span<const uint8_t> stream(data + 2, size - 2);
  const Outcome chunked =
      runReader(stream, limit, stop_at_close,
                mws::fuzz::Chunker(data[1], mws::fuzz::maxChunkForClass(control)));
  FUZZ_CHECK(chunked == runModel(stream, limit, stop_at_close));
  return 0;
}
