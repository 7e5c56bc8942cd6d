#include "mws/load/frame_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "mws/ws/encoder.h"

namespace mws::load {
namespace {

using Bytes = std::vector<uint8_t>;

// A server frame: the core's encoder writes the header (FIN set); `fin` = false
// clears the FIN bit for fragments, `first_byte_or` adds bits for negative tests.
Bytes serverFrame(ws::Opcode opcode, const Bytes& payload, bool fin = true) {
  Bytes out(ws::kMaxServerHeaderBytes);
  const size_t n = ws::writeServerHeader(out.data(), opcode, payload.size());
  out.resize(n);
  if (!fin) out[0] &= 0x7F;
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes pattern(size_t len) {
  Bytes b(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(i * 31 + 7);
  return b;
}

struct Event {
  std::string kind;  // "msg" or control opcode name
  int opcode;
  Bytes payload;
  bool operator==(const Event&) const = default;
};

struct Recorder final : FrameSink {
  std::vector<Event> events;
  Bytes current;
  bool in_message = false;
  int pieces = 0;

  void onData(ws::Opcode opcode, std::span<const uint8_t> piece, bool first,
              bool last) noexcept override {
    ++pieces;
    if (first) {
      EXPECT_FALSE(in_message) << "first piece inside a message";
      current.clear();
      in_message = true;
    }
    EXPECT_TRUE(in_message) << "piece outside a message";
    current.insert(current.end(), piece.begin(), piece.end());
    if (last) {
      events.push_back({"msg", static_cast<int>(opcode), current});
      in_message = false;
    }
  }
  bool onControl(ws::Opcode opcode, std::span<const uint8_t> payload) noexcept override {
    events.push_back({"ctl", static_cast<int>(opcode), Bytes(payload.begin(), payload.end())});
    return opcode != ws::Opcode::kClose;
  }
};

// Feeds `chunks` the way ClientSet does: unconsumed bytes are presented again
// in front of the next chunk, and never exceed kMaxReaderLeftover.
std::vector<Event> feedChunks(const std::vector<Bytes>& chunks, ReadError* error = nullptr) {
  ReaderState state;
  Recorder rec;
  Bytes pending;
  for (const Bytes& chunk : chunks) {
    pending.insert(pending.end(), chunk.begin(), chunk.end());
    const ReadResult r = readServerFrames(state, pending, 1u << 20, rec);
    if (r.error != ReadError::kNone) {
      if (error) *error = r.error;
      return rec.events;
    }
    if (r.stopped) break;
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    EXPECT_LE(pending.size(), kMaxReaderLeftover);
  }
  if (error) *error = ReadError::kNone;
  return rec.events;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kStream = concat({
    serverFrame(ws::Opcode::kText, text("hello")),
    serverFrame(ws::Opcode::kBinary, pattern(300)),
    serverFrame(ws::Opcode::kPing, text("are you there")),
    serverFrame(ws::Opcode::kBinary, pattern(70'000)),
    serverFrame(ws::Opcode::kText, text("ab"), false),
    serverFrame(ws::Opcode::kPing, pattern(125)),  // control frames may interleave fragments
    serverFrame(ws::Opcode::kContinuation, text("cd"), false),
    serverFrame(ws::Opcode::kContinuation, text("ef")),
    serverFrame(ws::Opcode::kBinary, {}),
    serverFrame(ws::Opcode::kPong, {}),
    serverFrame(ws::Opcode::kClose, {0x03, 0xE8}),
});

const std::vector<Event> kExpected = {
    {"msg", 1, text("hello")},
    {"msg", 2, pattern(300)},
    {"ctl", 9, text("are you there")},
    {"msg", 2, pattern(70'000)},
    {"ctl", 9, pattern(125)},
    {"msg", 1, text("abcdef")},
    {"msg", 2, {}},
    {"ctl", 10, {}},
    {"ctl", 8, {0x03, 0xE8}},
};

TEST(FrameReaderTest, WholeStream) { EXPECT_EQ(feedChunks({kStream}), kExpected); }

TEST(FrameReaderTest, EverySplitPoint) {
  for (size_t cut = 0; cut <= kStream.size();
       cut += (cut < 2000 || cut > kStream.size() - 2000) ? 1 : 97) {
    const Bytes a(kStream.begin(), kStream.begin() + static_cast<std::ptrdiff_t>(cut));
    const Bytes b(kStream.begin() + static_cast<std::ptrdiff_t>(cut), kStream.end());
    ASSERT_EQ(feedChunks({a, b}), kExpected) << "cut at " << cut;
  }
}

TEST(FrameReaderTest, OneByteAtATime) {
  std::vector<Bytes> chunks;
  for (uint8_t b : kStream) chunks.push_back({b});
  EXPECT_EQ(feedChunks(chunks), kExpected);
}

TEST(FrameReaderTest, StopsAtClose) {
  const Bytes wire =
      concat({serverFrame(ws::Opcode::kClose, {}), serverFrame(ws::Opcode::kText, text("x"))});
  ReaderState state;
  Recorder rec;
  const ReadResult r = readServerFrames(state, wire, 1024, rec);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.consumed, 2u);
  ASSERT_EQ(rec.events.size(), 1u);
}

ReadError errorOf(const Bytes& wire) {
  ReadError error = ReadError::kNone;
  feedChunks({wire}, &error);
  return error;
}

TEST(FrameReaderTest, ProtocolErrors) {
  Bytes masked = serverFrame(ws::Opcode::kText, text("x"));
  masked[1] |= 0x80;
  EXPECT_EQ(errorOf(masked), ReadError::kMasked);

  Bytes rsv = serverFrame(ws::Opcode::kText, text("x"));
  rsv[0] |= 0x40;
  EXPECT_EQ(errorOf(rsv), ReadError::kReservedBits);

  EXPECT_EQ(errorOf({0x83, 0x00}), ReadError::kBadOpcode);
  EXPECT_EQ(errorOf({0x8B, 0x00}), ReadError::kBadOpcode);
  EXPECT_EQ(errorOf(serverFrame(ws::Opcode::kPing, text("x"), false)), ReadError::kBadControl);
  EXPECT_EQ(errorOf({0x89, 0x7E, 0x00, 0x10}), ReadError::kBadControl);  // 16-bit length ping
  EXPECT_EQ(errorOf(serverFrame(ws::Opcode::kContinuation, text("x"))),
            ReadError::kBadContinuation);
  EXPECT_EQ(errorOf(concat({serverFrame(ws::Opcode::kText, text("a"), false),
                            serverFrame(ws::Opcode::kText, text("b"))})),
            ReadError::kBadContinuation);
  Bytes huge = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(errorOf(huge), ReadError::kTooBig);
}

TEST(FrameReaderTest, ErrorDetectedBeforeLaterFramesAreDelivered) {
  Bytes bad = serverFrame(ws::Opcode::kText, text("x"));
  bad[1] |= 0x80;
  ReadError error = ReadError::kNone;
  const auto events =
      feedChunks({concat({serverFrame(ws::Opcode::kText, text("ok")), bad})}, &error);
  EXPECT_EQ(error, ReadError::kMasked);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, text("ok"));
}

}  // namespace
}  // namespace mws::load
