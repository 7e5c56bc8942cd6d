#include "mws/ws/decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "mws/ws/utf8.h"

namespace mws::ws {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kOpCont = 0x0;
constexpr uint8_t kOpText = 0x1;
constexpr uint8_t kOpBinary = 0x2;
constexpr uint8_t kOpClose = 0x8;
constexpr uint8_t kOpPing = 0x9;
constexpr uint8_t kOpPong = 0xA;

Bytes str(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// ---------------------------------------------------------------------------
// Client frame builder.

enum class LenEnc : uint8_t { kAuto, k7, k16, k64 };

struct FrameOpts {
  FrameOpts& setFin(bool v) {
    fin = v;
    return *this;
  }
  FrameOpts& setRsv(uint8_t v) {
    rsv = v;
    return *this;
  }
  FrameOpts& setMask(bool v) {
    mask = v;
    return *this;
  }
  FrameOpts& setEnc(LenEnc v) {
    enc = v;
    return *this;
  }
  FrameOpts& setDeclared(uint64_t v) {
    declared = v;
    return *this;
  }
  FrameOpts& setKey(std::array<uint8_t, 4> v) {
    key = v;
    return *this;
  }

  bool fin = true;
  uint8_t rsv = 0;  // any of 0x40 (RSV1), 0x20 (RSV2), 0x10 (RSV3)
  bool mask = true;
  LenEnc enc = LenEnc::kAuto;
  std::optional<uint64_t> declared;           // length put in the header instead of the real one
  std::optional<std::array<uint8_t, 4>> key;  // default: a different key per frame
};

std::array<uint8_t, 4> nextKey() {
  static uint32_t counter = 0x9E3779B9u;
  counter = counter * 1664525u + 1013904223u;
  return {static_cast<uint8_t>(counter >> 24), static_cast<uint8_t>(counter >> 16),
          static_cast<uint8_t>(counter >> 8), static_cast<uint8_t>(counter | 1)};
}

Bytes frame(uint8_t opcode, const Bytes& payload, const FrameOpts& o = {}) {
  Bytes out;
  out.push_back(static_cast<uint8_t>((o.fin ? 0x80 : 0) | (o.rsv & 0x70) | (opcode & 0x0F)));
  const uint64_t len = o.declared.value_or(payload.size());
  LenEnc enc = o.enc;
  if (enc == LenEnc::kAuto)
    enc = len <= 125 ? LenEnc::k7 : len <= 0xFFFF ? LenEnc::k16 : LenEnc::k64;
  const uint8_t m = o.mask ? 0x80 : 0x00;
  switch (enc) {
    case LenEnc::k7:
      out.push_back(static_cast<uint8_t>(m | (len & 0x7F)));
      break;
    case LenEnc::k16:
      out.push_back(static_cast<uint8_t>(m | 126));
      out.push_back(static_cast<uint8_t>(len >> 8));
      out.push_back(static_cast<uint8_t>(len));
      break;
    case LenEnc::k64:
    case LenEnc::kAuto:
      out.push_back(static_cast<uint8_t>(m | 127));
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
      break;
  }
  const std::array<uint8_t, 4> key = o.key.value_or(nextKey());
  if (o.mask) out.insert(out.end(), key.begin(), key.end());
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(o.mask ? static_cast<uint8_t>(payload[i] ^ key[i % 4]) : payload[i]);
  }
  return out;
}

Bytes text(const Bytes& p, bool fin = true) { return frame(kOpText, p, FrameOpts().setFin(fin)); }
Bytes text(const std::string& s, bool fin = true) { return text(str(s), fin); }
Bytes binary(const Bytes& p, bool fin = true) {
  return frame(kOpBinary, p, FrameOpts().setFin(fin));
}
Bytes cont(const Bytes& p, bool fin) { return frame(kOpCont, p, FrameOpts().setFin(fin)); }
Bytes cont(const std::string& s, bool fin) { return cont(str(s), fin); }
Bytes ping(const std::string& s) { return frame(kOpPing, str(s)); }
Bytes pong(const std::string& s) { return frame(kOpPong, str(s)); }
Bytes closeFrame(uint16_t code, const std::string& reason) {
  Bytes p = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
  p.insert(p.end(), reason.begin(), reason.end());
  return frame(kOpClose, p);
}
Bytes closeEmpty() { return frame(kOpClose, {}); }

// Exactly `n` bytes of valid UTF-8 mixing 1- to 4-byte code points.
Bytes textPayload(size_t n) {
  static const std::string kPieces[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "z"};
  Bytes out;
  size_t i = 0;
  while (out.size() < n) {
    const std::string& piece = kPieces[i++ % 5];
    if (out.size() + piece.size() > n) {
      out.push_back('.');
    } else {
      out.insert(out.end(), piece.begin(), piece.end());
    }
  }
  return out;
}

Bytes binaryPayload(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + 3);
  return out;
}

// ---------------------------------------------------------------------------
// Recording handler.

struct Event {
  bool control = false;
  Opcode opcode = Opcode::kContinuation;
  uint16_t code = 0;
  Bytes data;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  *os << (e.control ? "control" : "message") << "(op=" << static_cast<int>(e.opcode)
      << " code=" << e.code << " size=" << e.data.size() << " \"";
  for (size_t i = 0; i < e.data.size() && i < 40; ++i) {
    const uint8_t c = e.data[i];
    if (c >= 0x20 && c < 0x7F) {
      *os << static_cast<char>(c);
    } else {
      *os << "\\x" << std::hex << static_cast<int>(c) << std::dec;
    }
  }
  *os << (e.data.size() > 40 ? "...\")" : "\")");
}

Event msg(Opcode op, const Bytes& data) { return Event{false, op, 0, data}; }
Event msg(Opcode op, const std::string& s) { return msg(op, str(s)); }
Event ctl(Opcode op, uint16_t code, const std::string& s) { return Event{true, op, code, str(s)}; }

class Recorder final : public DecoderHandler {
 public:
  HandlerAction onMessagePiece(Opcode opcode, std::span<uint8_t> piece, bool first,
                               bool last) noexcept override {
    ++pieces;
    if (opcode != Opcode::kText && opcode != Opcode::kBinary) violations.push_back("bad opcode");
    if (first) {
      if (in_message) violations.push_back("first piece while a message is in progress");
      in_message = true;
      opcode_ = opcode;
      partial.clear();
    } else if (!in_message) {
      violations.push_back("non-first piece without a message");
    } else if (opcode != opcode_) {
      violations.push_back("opcode changed within a message");
    }
    partial.insert(partial.end(), piece.begin(), piece.end());
    if (last) {
      events.push_back(msg(opcode, partial));
      partial.clear();
      in_message = false;
    }
    return action();
  }

  HandlerAction onControl(Opcode opcode, uint16_t close_code,
                          std::span<const uint8_t> payload) noexcept override {
    if (!isControl(static_cast<uint8_t>(opcode)))
      violations.push_back("onControl with data opcode");
    if (opcode != Opcode::kClose && close_code != 0)
      violations.push_back("close code on non-close");
    events.push_back(Event{true, opcode, close_code, Bytes(payload.begin(), payload.end())});
    return action();
  }

  std::vector<Event> events;
  Bytes partial;
  bool in_message = false;
  size_t pieces = 0;
  size_t callbacks = 0;
  size_t stop_at = std::numeric_limits<size_t>::max();  // kStop on this callback (1-based)
  std::vector<std::string> violations;

 private:
  HandlerAction action() noexcept {
    return ++callbacks == stop_at ? HandlerAction::kStop : HandlerAction::kContinue;
  }
  Opcode opcode_ = Opcode::kContinuation;
};

// ---------------------------------------------------------------------------
// Feeding the decoder the way the server does: each read's bytes go after the tail
// the previous decode left unconsumed; after a close code decoding goes on (discarding)
// over the rest; a stop ends the connection's input.

struct Outcome {
  std::vector<Event> events;
  Bytes partial;
  std::vector<uint16_t> close_codes;
  size_t events_at_error = std::numeric_limits<size_t>::max();
  size_t fed_at_error = 0;  // stream bytes given to the decoder when the first error came
  bool stopped = false;
  size_t consumed = 0;  // stream bytes consumed in total
  size_t max_tail = 0;
  size_t final_tail = 0;
  bool discarding = false;
  size_t pieces = 0;
  std::vector<std::string> violations;
};

Outcome run(const Bytes& stream, const std::vector<size_t>& cuts, const DecoderLimits& limits = {},
            size_t stop_at = std::numeric_limits<size_t>::max(), DecoderState st = {}) {
  Outcome out;
  Recorder rec;
  rec.stop_at = stop_at;
  Bytes tail;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    if (end < pos || end > stream.size()) continue;
    // A fresh copy every time: the decoder unmasks in place.
    Bytes buf = tail;
    buf.insert(buf.end(), stream.begin() + static_cast<std::ptrdiff_t>(pos),
               stream.begin() + static_cast<std::ptrdiff_t>(end));
    pos = end;
    std::span<uint8_t> data(buf);
    int guard = 0;
    while (!data.empty()) {
      const DecodeResult r = decode(st, data, limits, rec);
      if (r.consumed > data.size()) {
        out.violations.push_back("consumed more than given");
        break;
      }
      data = data.subspan(r.consumed);
      out.consumed += r.consumed;
      if (r.close_code) {
        if (out.close_codes.empty()) {
          out.events_at_error = rec.events.size();
          out.fed_at_error = pos;
        }
        out.close_codes.push_back(r.close_code);
        if (!st.discarding()) out.violations.push_back("not discarding after a close code");
        if (++guard > 1000) {
          out.violations.push_back("no progress after errors");
          break;
        }
        continue;
      }
      if (r.stopped) out.stopped = true;
      break;
    }
    if (out.stopped) break;
    tail.assign(data.begin(), data.end());
    out.max_tail = std::max(out.max_tail, tail.size());
  }
  out.final_tail = tail.size();
  out.events = rec.events;
  out.partial = rec.partial;
  out.discarding = st.discarding();
  out.pieces = rec.pieces;
  out.violations.insert(out.violations.end(), rec.violations.begin(), rec.violations.end());
  return out;
}

Outcome oneShot(const Bytes& stream, const DecoderLimits& limits = {}) {
  return run(stream, {}, limits);
}

std::vector<size_t> byteAtATime(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

// Every split point, or for big streams (to stay fast) every point in the first and last
// 48 bytes, where headers and control frames sit, and a stride in between.
std::vector<size_t> splitPoints(size_t n) {
  std::vector<size_t> points;
  if (n <= 4096) {
    for (size_t i = 0; i <= n; ++i) points.push_back(i);
    return points;
  }
  for (size_t i = 0; i <= n; ++i) {
    if (i < 48 || i + 48 > n || i % 2053 == 0) points.push_back(i);
  }
  return points;
}

// A few random multi-way splittings, reproducible.
std::vector<std::vector<size_t>> randomSplits(size_t n, int count) {
  std::mt19937 rng(12345u + static_cast<unsigned>(n));
  std::vector<std::vector<size_t>> out;
  for (int k = 0; k < count; ++k) {
    std::vector<size_t> cuts;
    size_t pos = 0;
    std::uniform_int_distribution<size_t> step(1, std::max<size_t>(2, n / 7));
    while (true) {
      pos += step(rng);
      if (pos >= n) break;
      cuts.push_back(pos);
    }
    out.push_back(cuts);
  }
  return out;
}

// A valid stream gives `expected` however it is cut.
void checkValidStream(const Bytes& stream, const std::vector<Event>& expected,
                      const DecoderLimits& limits = {}) {
  const Outcome one = oneShot(stream, limits);
  ASSERT_TRUE(one.violations.empty()) << one.violations.front();
  ASSERT_TRUE(one.close_codes.empty()) << "close code " << one.close_codes.front();
  ASSERT_EQ(one.events, expected);
  EXPECT_EQ(one.final_tail, 0u);
  EXPECT_EQ(one.consumed, stream.size());
  EXPECT_TRUE(one.partial.empty());
  EXPECT_FALSE(one.discarding);

  auto same = [&](const Outcome& o, const std::string& how) {
    ASSERT_TRUE(o.violations.empty()) << how << ": " << o.violations.front();
    ASSERT_TRUE(o.close_codes.empty()) << how << ": close code " << o.close_codes.front();
    ASSERT_EQ(o.events, one.events) << how;
    ASSERT_EQ(o.final_tail, 0u) << how;
    ASSERT_EQ(o.consumed, stream.size()) << how;
    ASSERT_LE(o.max_tail, kMaxClientControlFrame) << how;
    ASSERT_TRUE(o.partial.empty()) << how;
    ASSERT_FALSE(o.discarding) << how;
  };
  for (size_t cut : splitPoints(stream.size())) {
    same(run(stream, {cut}, limits), "split at " + std::to_string(cut));
    if (testing::Test::HasFatalFailure()) return;
  }
  same(run(stream, byteAtATime(stream.size()), limits), "byte at a time");
  if (testing::Test::HasFatalFailure()) return;
  int k = 0;
  for (const auto& cuts : randomSplits(stream.size(), stream.size() > 4096 ? 2 : 8)) {
    same(run(stream, cuts, limits), "random split " + std::to_string(k++));
    if (testing::Test::HasFatalFailure()) return;
  }
}

// An invalid stream fails with `code` however it is cut, delivers the same complete
// messages before failing, and (if `then_close`) still finds a Close appended after it,
// without delivering the data frame in between.
void checkErrorStream(const Bytes& bad, uint16_t code, const DecoderLimits& limits = {},
                      bool then_close = true, const std::vector<Event>& also_after = {}) {
  const Bytes stream =
      then_close ? concat({bad, text("after the error"), ping("p"), closeFrame(1000, "bye")}) : bad;
  const Outcome one = oneShot(stream, limits);
  ASSERT_TRUE(one.violations.empty()) << one.violations.front();
  ASSERT_EQ(one.close_codes, std::vector<uint16_t>{code});
  EXPECT_TRUE(one.discarding);
  ASSERT_LE(one.events_at_error, one.events.size());
  const std::vector<Event> after(
      one.events.begin() + static_cast<std::ptrdiff_t>(one.events_at_error), one.events.end());
  if (then_close) {
    std::vector<Event> expected_after = also_after;
    expected_after.push_back(ctl(Opcode::kClose, 1000, "bye"));
    EXPECT_EQ(after, expected_after);
    EXPECT_EQ(one.consumed, stream.size());
  } else {
    EXPECT_TRUE(after.empty());
  }

  auto same = [&](const Outcome& o, const std::string& how) {
    ASSERT_TRUE(o.violations.empty()) << how << ": " << o.violations.front();
    ASSERT_EQ(o.close_codes, one.close_codes) << how;
    ASSERT_EQ(o.events, one.events) << how;
    ASSERT_TRUE(o.discarding) << how;
    ASSERT_EQ(o.consumed, one.consumed) << how;
    // Loose bound (the largest possible frame header plus a control payload); the
    // contract's 131 is checked by DiscardModeTailStaysWithinControlFrameBound.
    ASSERT_LT(o.max_tail, kMaxClientHeaderBytes + kMaxControlPayload) << how;
  };
  for (size_t cut : splitPoints(stream.size())) {
    same(run(stream, {cut}, limits), "split at " + std::to_string(cut));
    if (testing::Test::HasFatalFailure()) return;
  }
  same(run(stream, byteAtATime(stream.size()), limits), "byte at a time");
}

// ---------------------------------------------------------------------------
// Valid streams.

TEST(DecoderTest, SingleTextFramesOfEverySizeClass) {
  for (size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u}) {
    SCOPED_TRACE(n);
    const Bytes payload = textPayload(n);
    ASSERT_EQ(payload.size(), n);
    ASSERT_TRUE(Utf8Validator::isValid(payload));
    const Bytes f = text(payload);
    EXPECT_EQ(f.size(), (n <= 125 ? 2u : n <= 65535 ? 4u : 10u) + 4u + n);
    checkValidStream(concat({f, ping("p")}),
                     {msg(Opcode::kText, payload), ctl(Opcode::kPing, 0, "p")});
    if (HasFatalFailure()) return;
  }
}

TEST(DecoderTest, SingleBinaryFramesOfEverySizeClass) {
  for (size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u}) {
    SCOPED_TRACE(n);
    const Bytes payload = binaryPayload(n);
    checkValidStream(concat({binary(payload), pong("q")}),
                     {msg(Opcode::kBinary, payload), ctl(Opcode::kPong, 0, "q")});
    if (HasFatalFailure()) return;
  }
}

TEST(DecoderTest, WholeFrameDeliveredAsOnePiece) {
  const Bytes payload = textPayload(300);
  Bytes stream = text(payload);
  Recorder rec;
  DecoderState st;
  const DecodeResult r = decode(st, stream, {}, rec);
  EXPECT_EQ(r.consumed, stream.size());
  EXPECT_EQ(r.close_code, 0);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(rec.pieces, 1u);
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0], msg(Opcode::kText, payload));
  // Unmasked in place: the payload now sits in the input buffer in clear.
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), stream.end() - 300));
  EXPECT_EQ(st.message, 0);
  EXPECT_EQ(st.message_bytes, 0u);
  EXPECT_EQ(st.flags & DecoderState::kFlagInFrame, 0);
}

TEST(DecoderTest, PartialFrameDeliveredAsItArrives) {
  const Bytes payload = binaryPayload(1000);
  const Bytes stream = binary(payload);  // 4-byte header + 4-byte mask
  Recorder rec;
  DecoderState st;
  Bytes a(stream.begin(), stream.begin() + 8 + 400);
  DecodeResult r = decode(st, a, {}, rec);
  EXPECT_EQ(r.consumed, a.size());
  EXPECT_EQ(rec.pieces, 1u);
  EXPECT_TRUE(rec.in_message);
  EXPECT_EQ(rec.partial, Bytes(payload.begin(), payload.begin() + 400));
  EXPECT_EQ(st.remaining, 600u);
  EXPECT_EQ(st.message, kOpBinary);
  EXPECT_EQ(st.message_bytes, 1000u);
  Bytes b(stream.begin() + 8 + 400, stream.end());
  r = decode(st, b, {}, rec);
  EXPECT_EQ(r.consumed, b.size());
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0], msg(Opcode::kBinary, payload));
  EXPECT_EQ(st.remaining, 0u);
  EXPECT_EQ(st.message, 0);
}

TEST(DecoderTest, FragmentedTextSplittingCodePoints) {
  const Bytes whole = str("h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC\xF0\x9F\x98\x80!");
  // Cuts inside é, inside €, inside 😀.
  const Bytes f0(whole.begin(), whole.begin() + 2);
  const Bytes f2(whole.begin() + 2, whole.begin() + 15);
  const Bytes f3(whole.begin() + 15, whole.begin() + 19);
  const Bytes f4(whole.begin() + 19, whole.end());
  const Bytes stream = concat(
      {text(f0, false), cont(Bytes{}, false), cont(f2, false), cont(f3, false), cont(f4, true)});
  checkValidStream(stream, {msg(Opcode::kText, whole)});
}

TEST(DecoderTest, FragmentedWithEmptyFragments) {
  checkValidStream(concat({binary(Bytes{}, false), cont("abc", false), cont(Bytes{}, true)}),
                   {msg(Opcode::kBinary, "abc")});
  checkValidStream(concat({text(Bytes{}, false), cont(Bytes{}, false), cont(Bytes{}, true)}),
                   {msg(Opcode::kText, "")});
  // A code point split over fragments with an empty one in between.
  checkValidStream(
      concat({text(str("\xE2"), false), cont(Bytes{}, false), cont(str("\x82\xAC"), true)}),
      {msg(Opcode::kText, "\xE2\x82\xAC")});
}

TEST(DecoderTest, FirstAndLastFlags) {
  struct Piece {
    Bytes data;
    bool first;
    bool last;
  };
  class PieceLog final : public DecoderHandler {
   public:
    HandlerAction onMessagePiece(Opcode, std::span<uint8_t> piece, bool first,
                                 bool last) noexcept override {
      pieces.push_back({Bytes(piece.begin(), piece.end()), first, last});
      return HandlerAction::kContinue;
    }
    HandlerAction onControl(Opcode, uint16_t, std::span<const uint8_t>) noexcept override {
      ++controls;
      return HandlerAction::kContinue;
    }
    std::vector<Piece> pieces;
    int controls = 0;
  } log;
  Bytes stream = concat(
      {text(Bytes{}, false), cont("ab", false), ping("x"), cont("cd", true), binary(str("whole"))});
  DecoderState st;
  const DecodeResult r = decode(st, stream, {}, log);
  EXPECT_EQ(r.consumed, stream.size());
  EXPECT_EQ(log.controls, 1);
  ASSERT_EQ(log.pieces.size(), 4u);
  EXPECT_EQ(log.pieces[0].data, Bytes{});
  EXPECT_TRUE(log.pieces[0].first);
  EXPECT_FALSE(log.pieces[0].last);
  EXPECT_EQ(log.pieces[1].data, str("ab"));
  EXPECT_FALSE(log.pieces[1].first);
  EXPECT_FALSE(log.pieces[1].last);
  EXPECT_EQ(log.pieces[2].data, str("cd"));
  EXPECT_FALSE(log.pieces[2].first);
  EXPECT_TRUE(log.pieces[2].last);
  EXPECT_EQ(log.pieces[3].data, str("whole"));
  EXPECT_TRUE(log.pieces[3].first);
  EXPECT_TRUE(log.pieces[3].last);
}

TEST(DecoderTest, ControlFramesBetweenFragmentsInOrder) {
  const Bytes stream = concat({text("ab", false), ping("p1"), cont("cd", false), pong(""),
                               cont("ef", true), closeFrame(1000, "bye")});
  checkValidStream(stream, {ctl(Opcode::kPing, 0, "p1"), ctl(Opcode::kPong, 0, ""),
                            msg(Opcode::kText, "abcdef"), ctl(Opcode::kClose, 1000, "bye")});
}

TEST(DecoderTest, CloseFrames) {
  checkValidStream(closeEmpty(), {ctl(Opcode::kClose, kCloseNoStatus, "")});
  checkValidStream(closeFrame(1000, ""), {ctl(Opcode::kClose, 1000, "")});
  checkValidStream(closeFrame(3000, ""), {ctl(Opcode::kClose, 3000, "")});
  checkValidStream(closeFrame(4999,
                              "\xC3\xBCn\xC3\xAF"
                              "code \xF0\x9F\x98\x80"),
                   {ctl(Opcode::kClose, 4999,
                        "\xC3\xBCn\xC3\xAF"
                        "code \xF0\x9F\x98\x80")});
  checkValidStream(closeFrame(1001, std::string(123, 'r')),
                   {ctl(Opcode::kClose, 1001, std::string(123, 'r'))});
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                        3000, 3999, 4000, 4999}) {
    const Outcome o = oneShot(closeFrame(code, "r"));
    EXPECT_TRUE(o.close_codes.empty()) << code;
    EXPECT_EQ(o.events, std::vector<Event>{ctl(Opcode::kClose, code, "r")}) << code;
  }
}

TEST(DecoderTest, LargestControlFrameWaitsWhole) {
  const std::string payload(125, 'P');
  const Bytes stream = concat({ping(payload), text("t")});
  ASSERT_EQ(stream.size(), kMaxClientControlFrame + 7);
  checkValidStream(stream, {ctl(Opcode::kPing, 0, payload), msg(Opcode::kText, "t")});
  // Everything but the last byte of the ping stays unconsumed: 130 bytes of tail.
  const Outcome o = run(stream, {kMaxClientControlFrame - 1});
  EXPECT_EQ(o.max_tail, kMaxClientControlFrame - 1);
  EXPECT_EQ(o.events.size(), 2u);
  // And never more than that over any split.
  size_t worst = 0;
  for (size_t cut = 0; cut <= stream.size(); ++cut)
    worst = std::max(worst, run(stream, {cut}).max_tail);
  EXPECT_EQ(worst, kMaxClientControlFrame - 1);
}

TEST(DecoderTest, MixedStream) {
  const Bytes b126 = binaryPayload(126);
  const Bytes stream =
      concat({text("a"), binary(Bytes{0, 1, 2}), ping(""), text(""), pong("xyz"), binary(b126),
              frame(kOpText, str("zero key"), FrameOpts().setKey({0, 0, 0, 0})),
              text(textPayload(1000)), closeFrame(1001, "")});
  checkValidStream(stream,
                   {msg(Opcode::kText, "a"), msg(Opcode::kBinary, Bytes{0, 1, 2}),
                    ctl(Opcode::kPing, 0, ""), msg(Opcode::kText, ""), ctl(Opcode::kPong, 0, "xyz"),
                    msg(Opcode::kBinary, b126), msg(Opcode::kText, "zero key"),
                    msg(Opcode::kText, textPayload(1000)), ctl(Opcode::kClose, 1001, "")});
}

TEST(DecoderTest, LargeFragmentedBinaryWith64BitLength) {
  const Bytes a = binaryPayload(70000);
  const Bytes b = binaryPayload(300);
  Bytes whole = a;
  whole.insert(whole.end(), b.begin(), b.end());
  checkValidStream(concat({binary(a, false), ping("mid"), cont(b, true)}),
                   {ctl(Opcode::kPing, 0, "mid"), msg(Opcode::kBinary, whole)});
}

TEST(DecoderTest, MinimalLengthBoundariesAccepted) {
  // 126 in 16 bits and 65536 in 64 bits are the smallest lengths those encodings allow.
  checkValidStream(frame(kOpBinary, binaryPayload(126), FrameOpts().setEnc(LenEnc::k16)),
                   {msg(Opcode::kBinary, binaryPayload(126))});
  const Outcome o =
      oneShot(frame(kOpBinary, binaryPayload(65536), FrameOpts().setEnc(LenEnc::k64)));
  EXPECT_TRUE(o.close_codes.empty());
  EXPECT_EQ(o.events, std::vector<Event>{msg(Opcode::kBinary, binaryPayload(65536))});
}

TEST(DecoderTest, MessageExactlyAtTheLimitPasses) {
  const DecoderLimits limits{.max_message_bytes = 100};
  checkValidStream(binary(binaryPayload(100)), {msg(Opcode::kBinary, binaryPayload(100))}, limits);
  const Bytes p = textPayload(100);
  const Bytes p60(p.begin(), p.begin() + 60), p40(p.begin() + 60, p.end());
  checkValidStream(concat({text(p60, false), ping("x"), cont(p40, true), text(p)}),
                   {ctl(Opcode::kPing, 0, "x"), msg(Opcode::kText, p), msg(Opcode::kText, p)},
                   limits);
  // Control frames do not count toward the message.
  checkValidStream(concat({binary(binaryPayload(90), false), ping(std::string(125, 'x')),
                           cont(binaryPayload(10), true)}),
                   {ctl(Opcode::kPing, 0, std::string(125, 'x')),
                    msg(Opcode::kBinary, concat({binaryPayload(90), binaryPayload(10)}))},
                   limits);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(DecoderTest, UnmaskedFrame) {
  checkErrorStream(frame(kOpText, str("abc"), FrameOpts().setMask(false)), kCloseProtocolError);
  checkErrorStream(frame(kOpPing, str("abc"), FrameOpts().setMask(false)), kCloseProtocolError);
  checkErrorStream(concat({text("ok"), frame(kOpBinary, str("abc"), FrameOpts().setMask(false))}),
                   kCloseProtocolError);
  // The complete message before the error is delivered.
  const Outcome o =
      oneShot(concat({text("ok"), frame(kOpBinary, str("abc"), FrameOpts().setMask(false))}));
  EXPECT_EQ(o.events, std::vector<Event>{msg(Opcode::kText, "ok")});
}

TEST(DecoderTest, ReservedBits) {
  for (uint8_t rsv : {uint8_t{0x40}, uint8_t{0x20}, uint8_t{0x10}, uint8_t{0x70}}) {
    SCOPED_TRACE(static_cast<int>(rsv));
    checkErrorStream(frame(kOpText, str("abc"), FrameOpts().setRsv(rsv)), kCloseProtocolError);
    checkErrorStream(frame(kOpPing, str("abc"), FrameOpts().setRsv(rsv)), kCloseProtocolError);
    checkErrorStream(concat({text("a", false), frame(kOpCont, str("b"), FrameOpts().setRsv(rsv))}),
                     kCloseProtocolError);
  }
}

TEST(DecoderTest, ReservedOpcodes) {
  for (uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    SCOPED_TRACE(static_cast<int>(op));
    checkErrorStream(frame(op, str("xy")), kCloseProtocolError);
    checkErrorStream(frame(op, Bytes{}), kCloseProtocolError);
  }
}

TEST(DecoderTest, ControlPayloadTooLong) {
  checkErrorStream(frame(kOpPing, Bytes(126, 'x')), kCloseProtocolError);
  checkErrorStream(frame(kOpPong, Bytes(200, 'x')), kCloseProtocolError);
  checkErrorStream(frame(kOpClose, concat({Bytes{0x03, 0xE8}, Bytes(124, 'x')})),
                   kCloseProtocolError);
  // 125 bytes in a 16-bit length is also over 125 on the 7-bit field.
  checkErrorStream(frame(kOpPing, Bytes(125, 'x'), FrameOpts().setEnc(LenEnc::k16)),
                   kCloseProtocolError);
}

TEST(DecoderTest, FragmentedControl) {
  checkErrorStream(frame(kOpPing, str("p"), FrameOpts().setFin(false)), kCloseProtocolError);
  checkErrorStream(frame(kOpPong, Bytes{}, FrameOpts().setFin(false)), kCloseProtocolError);
  // A frame rejected from its header alone is read again in discard mode, where a Close is
  // a Close: this one then counts as the client's closing reply.
  checkErrorStream(frame(kOpClose, Bytes{0x03, 0xE8}, FrameOpts().setFin(false)),
                   kCloseProtocolError, {}, true, {ctl(Opcode::kClose, 1000, "")});
}

TEST(DecoderTest, ContinuationWithoutStart) {
  checkErrorStream(cont("abc", true), kCloseProtocolError);
  checkErrorStream(cont("abc", false), kCloseProtocolError);
  checkErrorStream(concat({text("done"), cont("abc", true)}), kCloseProtocolError);
}

TEST(DecoderTest, NewDataFrameDuringFragmentedMessage) {
  checkErrorStream(concat({text("ab", false), text("cd", true)}), kCloseProtocolError);
  checkErrorStream(concat({text("ab", false), binary(str("cd"), true)}), kCloseProtocolError);
  checkErrorStream(concat({binary(str("ab"), false), ping("x"), binary(str("cd"), false)}),
                   kCloseProtocolError);
}

TEST(DecoderTest, CloseWithOneBytePayload) {
  checkErrorStream(frame(kOpClose, Bytes{0x03}), kCloseProtocolError);
}

TEST(DecoderTest, InvalidCloseCodes) {
  for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    SCOPED_TRACE(code);
    checkErrorStream(closeFrame(code, ""), kCloseProtocolError);
    if (HasFatalFailure()) return;
    checkErrorStream(closeFrame(code, "reason"), kCloseProtocolError);
    if (HasFatalFailure()) return;
  }
}

TEST(DecoderTest, CloseReasonInvalidUtf8) {
  checkErrorStream(closeFrame(1000, "\xFF"), kCloseInvalidPayload);
  checkErrorStream(closeFrame(1000, "ok\xC0\x80"), kCloseInvalidPayload);
  checkErrorStream(closeFrame(1001, "cut \xE2\x82"), kCloseInvalidPayload);
  checkErrorStream(closeFrame(4000, "\xED\xA0\x80"), kCloseInvalidPayload);
}

TEST(DecoderTest, TextInvalidUtf8) {
  checkErrorStream(text("ab\xC0\x80"
                        "cd"),
                   kCloseInvalidPayload);
  checkErrorStream(text("\xED\xA0\x80"), kCloseInvalidPayload);
  checkErrorStream(text(std::string(300, 'a') + "\xF5"), kCloseInvalidPayload);
  checkErrorStream(concat({text("fine"), text("\xFF")}), kCloseInvalidPayload);
  // Invalid in a later fragment.
  checkErrorStream(concat({text("abc", false), cont("\x80", true)}), kCloseInvalidPayload);
  // Invalid only once fragments are joined: E2 then a non-continuation.
  checkErrorStream(concat({text("abc\xE2", false), cont("x", true)}), kCloseInvalidPayload);
  // Binary is not validated.
  checkValidStream(binary(str("\xFF\xC0\x80")), {msg(Opcode::kBinary, "\xFF\xC0\x80")});
}

TEST(DecoderTest, TextTruncatedCodePointAtEndOfMessage) {
  checkErrorStream(text("ab\xE2\x82"), kCloseInvalidPayload);
  checkErrorStream(text("\xF0\x9F\x98"), kCloseInvalidPayload);
  checkErrorStream(concat({text("ab\xE2", false), cont("\x82", true)}), kCloseInvalidPayload);
  checkErrorStream(concat({text("ab\xE2", false), cont(Bytes{}, true)}), kCloseInvalidPayload);
}

TEST(DecoderTest, TextInvalidUtf8FailsFast) {
  // The first fragment (FIN=0) holds an invalid byte: reported without the rest of the message.
  {
    Bytes stream = text(
        "ab\xFF"
        "cd",
        false);
    Recorder rec;
    DecoderState st;
    const DecodeResult r = decode(st, stream, {}, rec);
    EXPECT_EQ(r.close_code, kCloseInvalidPayload);
    EXPECT_TRUE(st.discarding());
    EXPECT_TRUE(rec.events.empty());
    EXPECT_EQ(rec.pieces, 0u);  // the bad piece is not handed over
  }
  // Only the start of a large frame has arrived; the invalid byte is already there.
  {
    const Bytes full = text(std::string(10, 'a') + "\xC0" + std::string(989, 'b'));
    Bytes start(full.begin(), full.begin() + 8 + 16);  // 4-byte header, mask, 16 payload bytes
    Recorder rec;
    DecoderState st;
    const DecodeResult r = decode(st, start, {}, rec);
    EXPECT_EQ(r.close_code, kCloseInvalidPayload);
    EXPECT_TRUE(st.discarding());
    EXPECT_TRUE(rec.events.empty());
  }
  // Byte at a time: the error comes with the invalid byte, not later.
  {
    const Bytes full = text(std::string(10, 'a') + "\xC0" + std::string(989, 'b'));
    const Outcome o = run(full, byteAtATime(full.size()));
    EXPECT_EQ(o.close_codes, std::vector<uint16_t>{kCloseInvalidPayload});
    EXPECT_EQ(o.fed_at_error, 8u + 10u + 1u);  // header, mask, 10 good bytes, the bad one
    EXPECT_EQ(o.partial, str(std::string(10, 'a')));
    EXPECT_TRUE(o.events.empty());
  }
}

TEST(DecoderTest, MessageTooBig) {
  const DecoderLimits limits{.max_message_bytes = 100};
  checkErrorStream(binary(binaryPayload(101)), kCloseMessageTooBig, limits);
  checkErrorStream(text(textPayload(101)), kCloseMessageTooBig, limits);
  checkErrorStream(concat({binary(binaryPayload(60), false), cont(binaryPayload(41), true)}),
                   kCloseMessageTooBig, limits);
  checkErrorStream(concat({text(textPayload(50), false), cont(textPayload(50), false),
                           cont(textPayload(1), true)}),
                   kCloseMessageTooBig, limits);
  // Judged from the header: no payload byte needs to arrive.
  Bytes header_only = binary(binaryPayload(5000));
  header_only.resize(8);
  Recorder rec;
  DecoderState st;
  const DecodeResult r = decode(st, header_only, limits, rec);
  EXPECT_EQ(r.close_code, kCloseMessageTooBig);
  EXPECT_EQ(rec.pieces, 0u);
  // The default limit is 1 MiB.
  Bytes big = frame(kOpBinary, Bytes{}, FrameOpts().setDeclared((1u << 20) + 1));
  Recorder rec2;
  DecoderState st2;
  EXPECT_EQ(decode(st2, big, {}, rec2).close_code, kCloseMessageTooBig);
}

TEST(DecoderTest, NonMinimalLengths) {
  checkErrorStream(frame(kOpText, str("hello"), FrameOpts().setEnc(LenEnc::k16)),
                   kCloseProtocolError);
  checkErrorStream(frame(kOpBinary, binaryPayload(125), FrameOpts().setEnc(LenEnc::k16)),
                   kCloseProtocolError);
  checkErrorStream(frame(kOpBinary, binaryPayload(5), FrameOpts().setEnc(LenEnc::k64)),
                   kCloseProtocolError);
  checkErrorStream(frame(kOpBinary, binaryPayload(200), FrameOpts().setEnc(LenEnc::k64)),
                   kCloseProtocolError);
  checkErrorStream(frame(kOpBinary, binaryPayload(65535), FrameOpts().setEnc(LenEnc::k64)),
                   kCloseProtocolError);
  checkErrorStream(concat({text("a", false),
                           frame(kOpCont, str("b"), FrameOpts().setFin(true).setEnc(LenEnc::k16))}),
                   kCloseProtocolError);
}

TEST(DecoderTest, SixtyFourBitLengthWithMsbSet) {
  // The rest of the stream would be payload of a huge frame once discarding, so no Close follows.
  checkErrorStream(frame(kOpBinary, Bytes{}, FrameOpts().setDeclared((uint64_t{1} << 63) | 5)),
                   kCloseProtocolError, {}, false);
  checkErrorStream(frame(kOpBinary, Bytes{}, FrameOpts().setDeclared(uint64_t{1} << 63)),
                   kCloseProtocolError, {}, false);
  checkErrorStream(frame(kOpText, Bytes{}, FrameOpts().setDeclared(~uint64_t{0})),
                   kCloseProtocolError, {}, false);
}

// ---------------------------------------------------------------------------
// Discard mode.

TEST(DecoderTest, DiscardModeDropsDataAndFindsClose) {
  DecoderState st;
  st.startDiscarding();
  EXPECT_TRUE(st.discarding());
  const Bytes stream = concat(
      {text("dropped"), binary(binaryPayload(70000)), ping("no"), pong("no"), text("x", false),
       cont("y", true), frame(kOpText, str("unmasked"), FrameOpts().setMask(false)),
       frame(kOpBinary, str("rsv"), FrameOpts().setRsv(0x40)), frame(5, str("op5")),
       cont("stray", true), frame(kOpText, str("\xFF")), closeFrame(1000, "done")});
  for (const auto& cuts :
       {std::vector<size_t>{}, std::vector<size_t>{7, 100, 70050}, byteAtATime(stream.size())}) {
    const Outcome o = run(stream, cuts, {}, std::numeric_limits<size_t>::max(), st);
    EXPECT_TRUE(o.violations.empty());
    EXPECT_TRUE(o.close_codes.empty());
    EXPECT_EQ(o.pieces, 0u);
    EXPECT_EQ(o.events, std::vector<Event>{ctl(Opcode::kClose, 1000, "done")});
    EXPECT_EQ(o.consumed, stream.size());
    EXPECT_TRUE(o.discarding);
  }
}

TEST(DecoderTest, DiscardModeDeliversAnInvalidCloseWithoutStatus) {
  // Nothing is validated any more: a malformed Close still ends the closing handshake.
  DecoderState st;
  st.startDiscarding();
  const Outcome o =
      run(concat({closeFrame(999, "x")}), {}, {}, std::numeric_limits<size_t>::max(), st);
  EXPECT_TRUE(o.close_codes.empty());
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].opcode, Opcode::kClose);
  EXPECT_EQ(o.events[0].code, kCloseNoStatus);
}

TEST(DecoderTest, ErrorThenRestOfStreamDiscarded) {
  // After a failure, the partially received message is not completed and later data is
  // dropped, but the client's Close is found.
  const Bytes stream =
      concat({text("part", false), frame(kOpPing, str("p"), FrameOpts().setFin(false)),
              cont("rest", true), binary(str("later")), closeFrame(1002, "")});
  const Outcome o = oneShot(stream);
  EXPECT_EQ(o.close_codes, std::vector<uint16_t>{kCloseProtocolError});
  EXPECT_EQ(o.events, std::vector<Event>{ctl(Opcode::kClose, 1002, "")});
  EXPECT_EQ(o.partial, str("part"));
  EXPECT_EQ(o.consumed, stream.size());
}

TEST(DecoderTest, DiscardModeTailStaysWithinControlFrameBound) {
  // decode() promises the unconsumed rest is at most kMaxClientControlFrame (131) bytes.
  // While discarding, a control frame whose <= 125-byte payload length is (non-minimally)
  // written in 16 or 64 bits is still taken as a control frame and waited for whole:
  // up to 2 + 8 + 4 + 125 - 1 = 138 bytes stay unconsumed.
  const Bytes reason(123, 'r');
  struct Case {
    const char* name;
    Bytes stream;
  };
  const Case cases[] = {
      // After an earlier error, the client's Close with a 16-bit length.
      {"close, 16-bit length", concat({frame(kOpText, str("x"), FrameOpts().setMask(false)),
                                       frame(kOpClose, concat({Bytes{0x03, 0xE8}, reason}),
                                             FrameOpts().setEnc(LenEnc::k16))})},
      // ... or a 64-bit length.
      {"close, 64-bit length", concat({frame(kOpText, str("x"), FrameOpts().setMask(false)),
                                       frame(kOpClose, concat({Bytes{0x03, 0xE8}, reason}),
                                             FrameOpts().setEnc(LenEnc::k64))})},
      // The frame that fails strict parsing is itself re-read in discard mode.
      {"ping rejected for its 16-bit length",
       frame(kOpPing, Bytes(125, 'x'), FrameOpts().setEnc(LenEnc::k16))},
  };
  for (const Case& c : cases) {
    size_t worst = 0;
    for (size_t cut = 0; cut <= c.stream.size(); ++cut) {
      const Outcome o = run(c.stream, {cut});
      EXPECT_EQ(o.close_codes, std::vector<uint16_t>{kCloseProtocolError}) << c.name;
      worst = std::max(worst, o.max_tail);
    }
    EXPECT_LE(worst, kMaxClientControlFrame) << c.name;
  }
}

// ---------------------------------------------------------------------------
// Stopping.

TEST(DecoderTest, StopAfterMessage) {
  const Bytes a = text("a");
  const Bytes stream = concat({a, text("b"), closeEmpty()});
  Bytes buf = stream;
  Recorder rec;
  rec.stop_at = 1;
  DecoderState st;
  DecodeResult r = decode(st, buf, {}, rec);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.close_code, 0);
  EXPECT_EQ(r.consumed, a.size());
  EXPECT_EQ(rec.events, std::vector<Event>{msg(Opcode::kText, "a")});
  // Resuming picks up at the next frame.
  r = decode(st, std::span<uint8_t>(buf).subspan(r.consumed), {}, rec);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.consumed, stream.size() - a.size());
  EXPECT_EQ(rec.events, (std::vector<Event>{msg(Opcode::kText, "a"), msg(Opcode::kText, "b"),
                                            ctl(Opcode::kClose, kCloseNoStatus, "")}));
}

TEST(DecoderTest, StopAfterControl) {
  const Bytes p = ping("hi");
  const Bytes c = closeFrame(1000, "");
  Bytes buf = concat({p, c, text("never")});
  Recorder rec;
  rec.stop_at = 2;
  DecoderState st;
  const DecodeResult r = decode(st, buf, {}, rec);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.consumed, p.size() + c.size());
  EXPECT_EQ(rec.events,
            (std::vector<Event>{ctl(Opcode::kPing, 0, "hi"), ctl(Opcode::kClose, 1000, "")}));
}

TEST(DecoderTest, StopOnAPartialPiece) {
  const Bytes first = text("abc", false);
  Bytes buf = concat({first, cont("def", true)});
  Recorder rec;
  rec.stop_at = 1;
  DecoderState st;
  const DecodeResult r = decode(st, buf, {}, rec);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_TRUE(rec.events.empty());
  EXPECT_EQ(rec.partial, str("abc"));
}

TEST(DecoderTest, EmptyInput) {
  Recorder rec;
  DecoderState st;
  const DecodeResult r = decode(st, {}, {}, rec);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(r.close_code, 0);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(rec.callbacks, 0u);
}

// ---------------------------------------------------------------------------
// unmask().

TEST(DecoderTest, UnmaskMatchesByteByByteReference) {
  const uint8_t key[4] = {0x12, 0xA7, 0x3C, 0xF0};
  for (size_t offset = 0; offset < 3; ++offset) {  // also unaligned starts
    for (size_t len = 0; len <= 40; ++len) {
      for (uint8_t phase = 0; phase < 4; ++phase) {
        Bytes data(offset + len);
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
        Bytes expected = data;
        for (size_t i = 0; i < len; ++i) expected[offset + i] ^= key[(phase + i) % 4];
        const uint8_t next = unmask(data.data() + offset, len, key, phase);
        EXPECT_EQ(data, expected) << "len " << len << " phase " << int{phase};
        EXPECT_EQ(next, (phase + len) % 4) << "len " << len << " phase " << int{phase};
      }
    }
  }
}

TEST(DecoderTest, UnmaskInPiecesEqualsWhole) {
  const uint8_t key[4] = {0xDE, 0xAD, 0xBE, 0xEF};
  Bytes whole(37);
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<uint8_t>(i);
  Bytes ref = whole;
  EXPECT_EQ(unmask(ref.data(), ref.size(), key, 0), 37 % 4);
  for (size_t cut = 0; cut <= whole.size(); ++cut) {
    Bytes d = whole;
    const uint8_t phase = unmask(d.data(), cut, key, 0);
    unmask(d.data() + cut, d.size() - cut, key, phase);
    EXPECT_EQ(d, ref) << cut;
  }
  // Unmasking twice restores the input.
  EXPECT_EQ(unmask(ref.data(), ref.size(), key, 0), 1);
  EXPECT_EQ(ref, whole);
}

namespace mws::ws {
namespace {

// While discarding, a frame longer than 32 bits can track leaves nothing parseable behind
// it: the rest of the stream is dropped, even a Close that follows.
TEST(DecoderTest, DiscardingPastAnUntrackableFrameDropsEverything) {
  Bytes stream =
      concat({frame(kOpBinary, Bytes(8, 'x'), FrameOpts().setDeclared(uint64_t{1} << 40)),
              Bytes(64, 'y'), closeFrame(1000, "")});
  Recorder rec;
  DecoderState st;
  st.startDiscarding();
  const DecodeResult r = decode(st, stream, {}, rec);
  EXPECT_EQ(r.consumed, stream.size());
  EXPECT_EQ(r.close_code, 0);
  EXPECT_TRUE(rec.events.empty());
  Bytes more = closeFrame(1000, "");
  EXPECT_EQ(decode(st, more, {}, rec).consumed, more.size());
  EXPECT_TRUE(rec.events.empty());
}

}  // namespace
}  // namespace mws::ws

// ---------------------------------------------------------------------------
// Streamed echo (the server sends every piece back at once): a piece is delivered as
// soon as its bytes are there, never held back for the rest of its frame or message, and
// the last piece comes with the message's total size in the state.

class SizeAtLast final : public DecoderHandler {
 public:
  explicit SizeAtLast(const DecoderState& st) : st_(st) {}
  HandlerAction onMessagePiece(Opcode, std::span<uint8_t> piece, bool,
                               bool last) noexcept override {
    delivered += piece.size();
    if (last) sizes.push_back(st_.message_bytes);
    return HandlerAction::kContinue;
  }
  HandlerAction onControl(Opcode, uint16_t, std::span<const uint8_t>) noexcept override {
    ++controls;
    return HandlerAction::kContinue;
  }
  size_t delivered = 0;
  size_t controls = 0;
  std::vector<uint32_t> sizes;

 private:
  const DecoderState& st_;
};

TEST(DecoderTest, StreamedPiecesComeAsSoonAsTheirBytesArrive) {
  const Bytes p1 = textPayload(200), p2 = textPayload(70000), p3 = binaryPayload(5);
  // header sizes (masked): 200 -> 2+2+4, 70000 -> 2+8+4, 5 -> 2+4; ping "x" 2+4+1
  const Bytes stream = concat({text(p1, false), ping("x"), cont(p2, true), binary(p3)});
  struct Span {
    size_t header_end, len;
  };
  const size_t a = 8, b = a + p1.size() + 7, c = b + 14, d = c + p2.size() + 6;
  const Span data[] = {{a, p1.size()}, {c, p2.size()}, {d, p3.size()}};
  for (size_t cut : splitPoints(stream.size())) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    DecoderState st;
    SizeAtLast h(st);
    Bytes buf(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut));
    const DecodeResult r = decode(st, buf, DecoderLimits{}, h);
    size_t available = 0;
    for (const Span& s : data) {
      if (cut >= s.header_end) available += std::min(s.len, cut - s.header_end);
    }
    ASSERT_EQ(h.delivered, available);
    ASSERT_LE(buf.size() - r.consumed, kMaxClientControlFrame);
    // The rest, after the unconsumed tail, as the server presents it.
    Bytes rest(buf.begin() + static_cast<std::ptrdiff_t>(r.consumed), buf.end());
    rest.insert(rest.end(), stream.begin() + static_cast<std::ptrdiff_t>(cut), stream.end());
    const DecodeResult r2 = decode(st, rest, DecoderLimits{}, h);
    ASSERT_EQ(r2.consumed, rest.size());
    ASSERT_EQ(h.delivered, p1.size() + p2.size() + p3.size());
    ASSERT_EQ(h.controls, 1u);
    ASSERT_EQ(h.sizes, (std::vector<uint32_t>{static_cast<uint32_t>(p1.size() + p2.size()),
                                              static_cast<uint32_t>(p3.size())}));
    ASSERT_EQ(st.message_bytes, 0u);
    ASSERT_EQ(st.message, 0u);
  }
}

}  // namespace
}  // namespace mws::ws
