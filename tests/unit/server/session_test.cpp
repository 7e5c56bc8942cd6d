// The connection lifecycle (server/session.h) driven over socketpair()s without an epoll
// loop: the test plays the client on one end, hands the events epoll would report to
// Sessions by hand and moves the clock itself. Every state and every event that moves a
// connection out of it, timeouts included.
#include "mws/server/session.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mws/server/connection_slab.h"

namespace mws::server {
namespace {

constexpr char kRequest[] =
    "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A masked client frame.
std::string frame(uint8_t b0, const std::string& payload) {
  static constexpr uint8_t kMask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string out(1, static_cast<char>(b0));
  const size_t n = payload.size();
  if (n <= 125) {
    out += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((uint64_t{n} >> (8 * i)) & 0xFF);
  }
  out.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ kMask[i & 3]);
  return out;
}

std::string closeFrame(uint16_t code) {
  return frame(0x88, std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)});
}

struct ServerFrame {
  bool fin;
  uint8_t opcode;
  std::string payload;
};

// Parses unmasked server frames; `rest` keeps an incomplete tail.
std::vector<ServerFrame> parseFrames(std::string& bytes) {
  std::vector<ServerFrame> frames;
  size_t p = 0;
  for (;;) {
    if (bytes.size() - p < 2) break;
    const auto b0 = static_cast<uint8_t>(bytes[p]);
    const auto b1 = static_cast<uint8_t>(bytes[p + 1]);
    EXPECT_EQ(b1 & 0x80, 0) << "server frames are never masked";
    size_t h = 2;
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
      if (bytes.size() - p < 4) break;
      len =
          (uint64_t{static_cast<uint8_t>(bytes[p + 2])} << 8) | static_cast<uint8_t>(bytes[p + 3]);
      h = 4;
    } else if (len == 127) {
      if (bytes.size() - p < 10) break;
      len = 0;
      for (size_t i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(bytes[p + 2 + i]);
      h = 10;
    }
    if (bytes.size() - p < h + len) break;
    frames.push_back({(b0 & 0x80) != 0, static_cast<uint8_t>(b0 & 0x0F), bytes.substr(p + h, len)});
    p += h + len;
  }
  bytes.erase(0, p);
  return frames;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.handshake_timeout = std::chrono::seconds(3);
    shared.max_sockets = 16;
    shared.max_websockets = 16;
  }
  void TearDown() override {
    if (s) s->cutAll();  // gives back what open connections hold, as the worker does at exit
    for (int fd : clients) ::close(fd);
  }

  Sessions& sessions() {
    if (!s) {
      s = std::make_unique<Sessions>(config, 0, shared, stats, reactor, wheel, warn, 16);
      s->setTime(0, 0);
    }
    return *s;
  }

  // A new server socket in the handshaking state; `client` is the test's end.
  uint32_t admit(int& client, int server_sndbuf = 0) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    if (server_sndbuf) {
      EXPECT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &server_sndbuf, sizeof(int)), 0);
    }
    client = sv[1];
    clients.push_back(client);
    const uint32_t index = sessions().admit(sv[0]);
    EXPECT_NE(index, ConnectionSlab::kNone);
    tags[index] = s->tagOf(index);
    return index;
  }

  // Admits and upgrades; the 101 response is read away.
  uint32_t open(int& client, int server_sndbuf = 0) {
    const uint32_t index = admit(client, server_sndbuf);
    send(client, kRequest);
    event(index, EPOLLIN);
    const std::string response = receive(client);
    EXPECT_NE(response.find("101 Switching Protocols"), std::string::npos) << response;
    EXPECT_NE(response.find(kAccept), std::string::npos);
    EXPECT_EQ(state(index), ConnState::kOpen);
    return index;
  }

  void send(int client, const std::string& bytes) {
    ASSERT_EQ(::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // What epoll would report for the connection (with the tag it was admitted with).
  void event(uint32_t index, uint32_t events) { s->onEvents(tags[index], events); }

  // Everything the server sent so far; sets `eof` if the server's side is shut or closed.
  std::string receive(int client, bool* eof = nullptr) {
    std::string out;
    char buf[65536];
    if (eof) *eof = false;
    for (;;) {
      const ssize_t n = ::recv(client, buf, sizeof(buf), 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && eof) *eof = true;
      break;
    }
    return out;
  }
  std::vector<ServerFrame> frames(int client, bool* eof = nullptr) {
    std::string bytes = receive(client, eof);
    auto out = parseFrames(bytes);
    EXPECT_TRUE(bytes.empty()) << "incomplete frame left: " << bytes.size() << " bytes";
    return out;
  }

  // The slot's state; kFree once released (a reused slot would have a new generation).
  ConnState state(uint32_t index) {
    const Connection& c = s->connection(index);
    return s->tagOf(index) == tags[index] ? c.state : ConnState::kFree;
  }
  uint64_t disconnections(DisconnectReason r) {
    return stats.disconnections[static_cast<size_t>(r)].get();
  }

  // Moves the clock to `tick` seconds and fires what is due, as the worker's sweep does.
  void advance(uint16_t tick) {
    s->setTime(uint64_t{tick} * 1000, tick);
    wheel.advance(tick, [this](const net::TimerWheel::Entry& e) { s->onTimer(e); });
  }

  Config config;
  SharedState shared;
  WorkerStats stats;
  net::Reactor reactor;
  net::TimerWheel wheel{0};
  WarnThrottle warn;
  std::unique_ptr<Sessions> s;
  std::vector<int> clients;
  uint64_t tags[16] = {};
};

// --- Handshaking

TEST_F(LifecycleTest, AdmittedSocketIsHandshaking) {
  int client;
  const uint32_t i = admit(client);
  EXPECT_EQ(state(i), ConnState::kHandshaking);
  EXPECT_EQ(stats.tcp_open.get(), 1u);
  EXPECT_EQ(shared.open_sockets.load(), 1u);
}

TEST_F(LifecycleTest, BeyondTheDescriptorBudgetTheSocketIsClosed) {
  shared.max_sockets = 1;
  int a, b;
  admit(a);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  b = sv[1];
  clients.push_back(b);
  EXPECT_EQ(sessions().admit(sv[0]), ConnectionSlab::kNone);
  bool eof = false;
  receive(b, &eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(stats.accept_errors.get(), 1u);
  EXPECT_EQ(shared.open_sockets.load(), 1u);
}

TEST_F(LifecycleTest, RequestInPiecesThenUpgrade) {
  int client;
  const uint32_t i = admit(client);
  const std::string request = kRequest;
  send(client, request.substr(0, 20));
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kHandshaking);
  EXPECT_EQ(receive(client), "");
  send(client, request.substr(20));
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kOpen);
  EXPECT_NE(receive(client).find(kAccept), std::string::npos);
  EXPECT_EQ(stats.upgrades.get(), 1u);
  EXPECT_EQ(shared.open_websockets.load(), 1u);
}

TEST_F(LifecycleTest, FramesInTheRequestSegmentAreEchoed) {
  int client;
  const uint32_t i = admit(client);
  send(client, std::string(kRequest) + frame(0x81, "hi"));
  event(i, EPOLLIN);
  std::string bytes = receive(client);
  const size_t end = bytes.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  bytes.erase(0, end + 4);
  const auto f = parseFrames(bytes);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].opcode, 0x1);
  EXPECT_EQ(f[0].payload, "hi");
  EXPECT_EQ(state(i), ConnState::kOpen);
}

TEST_F(LifecycleTest, MalformedRequestLingersThenEndsAtEof) {
  int client;
  const uint32_t i = admit(client);
  send(client, "GARBAGE\r\n\r\n");
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kLingering);
  bool eof = false;
  EXPECT_NE(receive(client, &eof).find("400"), std::string::npos);
  EXPECT_TRUE(eof) << "write side shut once the answer is out";
  send(client, "more input is dropped");
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kLingering);
  ::shutdown(client, SHUT_WR);
  event(i, EPOLLIN | EPOLLRDHUP);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(stats.tcp_open.get(), 0u);
  EXPECT_EQ(shared.open_sockets.load(), 0u);
}

TEST_F(LifecycleTest, HealthRequestIsAnsweredAndLingers) {
  int client;
  const uint32_t i = admit(client);
  send(client, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kLingering);
  EXPECT_NE(receive(client).find("200"), std::string::npos);
  EXPECT_EQ(stats.health_requests.get(), 1u);
}

TEST_F(LifecycleTest, WhileDrainingUpgradesGet503) {
  shared.phase.store(Phase::kDraining);
  int client;
  const uint32_t i = admit(client);
  send(client, kRequest);
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kLingering);
  EXPECT_NE(receive(client).find("503"), std::string::npos);
}

TEST_F(LifecycleTest, AtTheConnectionLimitUpgradesGet503) {
  shared.max_websockets = 1;
  int a, b;
  open(a);
  const uint32_t j = admit(b);
  send(b, kRequest);
  event(j, EPOLLIN);
  EXPECT_EQ(state(j), ConnState::kLingering);
  EXPECT_NE(receive(b).find("503"), std::string::npos);
  EXPECT_EQ(shared.open_websockets.load(), 1u);
}

TEST_F(LifecycleTest, EofWhileHandshakingReleasesUncounted) {
  int client;
  const uint32_t i = admit(client);
  send(client, "GET /echo");
  ::shutdown(client, SHUT_WR);
  event(i, EPOLLIN | EPOLLRDHUP);
  EXPECT_EQ(state(i), ConnState::kFree);
  for (size_t r = 0; r < static_cast<size_t>(DisconnectReason::kCount); ++r) {
    EXPECT_EQ(stats.disconnections[r].get(), 0u);
  }
}

TEST_F(LifecycleTest, ErrorEventReleases) {
  int client;
  const uint32_t i = admit(client);
  event(i, EPOLLERR);
  EXPECT_EQ(state(i), ConnState::kFree);
}

TEST_F(LifecycleTest, HandshakeTimeout) {
  int client;
  const uint32_t i = admit(client);  // 3 s: due 4 ticks later (never early)
  advance(3);
  EXPECT_EQ(state(i), ConnState::kHandshaking);
  advance(4);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(stats.handshake_timeouts.get(), 1u);
}

TEST_F(LifecycleTest, StaleEventsAreIgnored) {
  int a;
  const uint32_t i = admit(a);
  const uint64_t old_tag = tags[i];
  event(i, EPOLLERR);
  int b;
  const uint32_t j = admit(b);  // the slot is reused with a new generation
  ASSERT_EQ(i, j);
  s->onEvents(old_tag, EPOLLERR);
  EXPECT_EQ(state(j), ConnState::kHandshaking);
}

// --- Open

TEST_F(LifecycleTest, OpenEchoesAndStaysOpen) {
  int client;
  const uint32_t i = open(client);
  send(client, frame(0x81, "hello") + frame(0x82, std::string(300, 'x')) + frame(0x89, "p"));
  event(i, EPOLLIN);
  const auto f = frames(client);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].opcode, 0x1);
  EXPECT_EQ(f[0].payload, "hello");
  EXPECT_EQ(f[1].opcode, 0x2);
  EXPECT_EQ(f[1].payload, std::string(300, 'x'));
  EXPECT_EQ(f[2].opcode, 0xA);  // pong
  EXPECT_EQ(f[2].payload, "p");
  EXPECT_EQ(state(i), ConnState::kOpen);
}

TEST_F(LifecycleTest, FrameHeaderSplitAcrossReadsIsKept) {
  int client;
  const uint32_t i = open(client);
  const std::string f = frame(0x81, "split");
  send(client, f.substr(0, 3));
  event(i, EPOLLIN);
  EXPECT_EQ(s->connection(i).spill, 3);
  send(client, f.substr(3));
  event(i, EPOLLIN);
  const auto out = frames(client);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "split");
  EXPECT_EQ(s->connection(i).spill, 0);
  EXPECT_FALSE(s->connection(i).msg.holdsBlock());
}

TEST_F(LifecycleTest, ClientCloseIsAnsweredThenReleased) {
  int client;
  const uint32_t i = open(client);
  send(client, closeFrame(1000));
  event(i, EPOLLIN);
  bool eof = false;
  const auto f = frames(client, &eof);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].opcode, 0x8);
  EXPECT_EQ(f[0].payload, std::string("\x03\xE8", 2));
  EXPECT_TRUE(eof);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kClientClose), 1u);
  EXPECT_EQ(shared.open_websockets.load(), 0u);
}

struct FailCase {
  const char* name;
  std::string bytes;
  uint16_t code;
  DisconnectReason reason;
};

TEST_F(LifecycleTest, ProtocolFailuresLingerWithTheirCode) {
  config.max_message_bytes = 100;
  const FailCase cases[] = {
      {"unmasked", std::string("\x81\x00", 2), 1002, DisconnectReason::kProtocolError},
      {"bad utf-8", frame(0x81, "\xC3\x28"), 1007, DisconnectReason::kInvalidPayload},
      {"too big", frame(0x82, std::string(101, 'x')), 1009, DisconnectReason::kMessageTooBig},
  };
  for (const FailCase& fc : cases) {
    SCOPED_TRACE(fc.name);
    int client;
    const uint32_t i = open(client);
    send(client, fc.bytes);
    event(i, EPOLLIN);
    EXPECT_EQ(state(i), ConnState::kLingering);
    bool eof = false;
    const auto f = frames(client, &eof);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].opcode, 0x8);
    EXPECT_EQ(f[0].payload,
              std::string({static_cast<char>(fc.code >> 8), static_cast<char>(fc.code & 0xFF)}));
    EXPECT_TRUE(eof) << "FIN right behind the Close";
    ::shutdown(client, SHUT_WR);
    event(i, EPOLLIN | EPOLLRDHUP);
    EXPECT_EQ(state(i), ConnState::kFree);
    EXPECT_EQ(disconnections(fc.reason), 1u);
  }
}

TEST_F(LifecycleTest, EofWhileOpenIsAReset) {
  int client;
  const uint32_t i = open(client);
  ::shutdown(client, SHUT_WR);
  event(i, EPOLLIN | EPOLLRDHUP);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kReset), 1u);
}

TEST_F(LifecycleTest, IdleTimeoutClosesWith1001AndTheAnswerEndsIt) {
  config.idle_timeout = std::chrono::seconds(2);
  int client;
  const uint32_t i = open(client);
  advance(2);
  EXPECT_EQ(state(i), ConnState::kOpen);
  advance(3);
  EXPECT_EQ(state(i), ConnState::kClosing);
  const auto f = frames(client);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].payload, std::string("\x03\xE9", 2));
  send(client, frame(0x82, "dropped") + closeFrame(1001));
  event(i, EPOLLIN);
  EXPECT_TRUE(frames(client).empty()) << "data after our Close is not echoed";
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kIdleTimeout), 1u);
}

TEST_F(LifecycleTest, InputPostponesTheIdleTimeout) {
  config.idle_timeout = std::chrono::seconds(2);
  int client;
  const uint32_t i = open(client);
  advance(2);
  send(client, frame(0x8A, ""));  // an unsolicited pong is input
  event(i, EPOLLIN);
  advance(4);
  EXPECT_EQ(state(i), ConnState::kOpen);
  advance(5);
  EXPECT_EQ(state(i), ConnState::kClosing);
}

TEST_F(LifecycleTest, PingIntervalSendsPingsAndStaysOpen) {
  config.ping_interval = std::chrono::seconds(1);
  int client;
  const uint32_t i = open(client);
  advance(2);
  auto f = frames(client);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].opcode, 0x9);
  EXPECT_EQ(state(i), ConnState::kOpen);
  advance(3);
  EXPECT_TRUE(frames(client).empty()) << "one interval since the last ping not over yet";
  advance(4);
  EXPECT_EQ(frames(client).size(), 1u);
  EXPECT_EQ(stats.pings_out.get(), 2u);
}

TEST_F(LifecycleTest, ShutdownClosesOpenConnectionsAndCutsTheRest) {
  int a, b;
  const uint32_t i = open(a);
  const uint32_t j = admit(b);
  s->closeAllGoingAway();
  EXPECT_EQ(state(i), ConnState::kClosing);
  EXPECT_EQ(state(j), ConnState::kHandshaking);
  const auto f = frames(a);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].payload, std::string("\x03\xE9", 2));
  s->cutAll();
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(state(j), ConnState::kFree);
  EXPECT_EQ(s->live(), 0u);
  EXPECT_EQ(disconnections(DisconnectReason::kShutdown), 1u);
}

// --- Closing

TEST_F(LifecycleTest, ClosingWithoutAnAnswerTimesOut) {
  int client;
  const uint32_t i = open(client);
  s->closeAllGoingAway();
  advance(4);
  EXPECT_EQ(state(i), ConnState::kClosing);
  advance(5);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kShutdown), 1u);
  EXPECT_EQ(stats.close_timeouts.get(), 1u);
}

TEST_F(LifecycleTest, AnUnansweredIdleTimeoutIsCountedAsAnIdleTimeout) {
  // Issue 10.4: the client that never answers our 1001 was idle; counting it as a close
  // timeout made idle timeouts look rarer than they are.
  config.idle_timeout = std::chrono::seconds(2);
  int client;
  const uint32_t i = open(client);
  advance(3);
  EXPECT_EQ(state(i), ConnState::kClosing);
  advance(9);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kIdleTimeout), 1u);
  EXPECT_EQ(stats.close_timeouts.get(), 1u);
}

TEST_F(LifecycleTest, EofWhileClosingKeepsOurReason) {
  int client;
  const uint32_t i = open(client);
  s->closeAllGoingAway();
  ::shutdown(client, SHUT_WR);
  event(i, EPOLLIN | EPOLLRDHUP);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kShutdown), 1u);
}

TEST_F(LifecycleTest, ResetWhileClosingKeepsOurReason) {
  int client;
  const uint32_t i = open(client);
  s->closeAllGoingAway();
  event(i, EPOLLERR);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kShutdown), 1u);
}

// --- Flushing, lingering, backpressure

TEST_F(LifecycleTest, BackpressurePausesReadsAndResumesBelowHalf) {
  config.max_pending_bytes = 16 * 1024;
  int client;
  const uint32_t i = open(client, 4096);
  const std::string msg = frame(0x82, std::string(4000, 'a'));
  std::string all;
  for (int k = 0; k < 40; ++k) all += msg;
  send(client, all);
  event(i, EPOLLIN);
  const Connection& c = s->connection(i);
  // Reads resume on their own while the kernel still takes the cork's output (queued reads,
  // no new edge); the client reads nothing, so they pause for good within a few rounds.
  for (int round = 0; round < 50 && s->hasQueuedReads(); ++round) s->readQueued();
  EXPECT_TRUE(c.flags & Connection::kPaused);
  EXPECT_LE(c.out.size(), s->pendingLimit());
  EXPECT_GE(c.out.size() + Sessions::kReadOutputSlack + Sessions::kMinRead, s->pendingLimit());
  EXPECT_EQ(stats.paused.get(), 1u);
  // The client reads everything: writable again, reads resume (queued, no new edge).
  size_t echoed = 0;
  std::string bytes;
  for (int round = 0; round < 100 && echoed < 40; ++round) {
    bytes += receive(client);
    for (const auto& f : parseFrames(bytes)) echoed += f.fin ? 1 : 0;
    event(i, EPOLLOUT);
    s->readQueued();
  }
  EXPECT_EQ(echoed, 40u);
  EXPECT_FALSE(s->connection(i).flags & Connection::kPaused);
  EXPECT_EQ(stats.paused.get(), 0u);
  EXPECT_EQ(stats.pending_bytes.get(), 0u);
}

// Issue 10.3: a client that never reads cost more than --max-pending-bytes (1,759 KiB pending
// and a 2 MiB block at the 1 MiB default with 1 MB messages): reads paused only after a whole
// message was queued. The bound is now pendingLimit() = cap - 24, and the block that holds it
// is the cap rounded up to a power of two, whatever the message sizes and how they are cut.
class PendingBoundTest : public LifecycleTest,
                         public ::testing::WithParamInterface<std::pair<uint32_t, size_t>> {};

TEST_P(PendingBoundTest, UnsentOutputNeverExceedsTheBound) {
  const auto [cap, message] = GetParam();
  config.max_pending_bytes = cap;
  int client;
  const uint32_t i = open(client, 4096);
  int small = 4096;
  ASSERT_EQ(::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
  const std::string msg = frame(0x82, std::string(message, 'p'));
  std::string stream = msg;
  while (stream.size() < msg.size() + 7001) stream += msg;
  size_t sent = 0;
  size_t at = 0;  // offset in msg of the next byte to send
  size_t highest = 0;
  uint64_t highest_pool = 0;
  for (int round = 0; round < 20000; ++round) {
    const size_t chunk = 7001;  // cuts frames anywhere
    const ssize_t n = ::send(client, stream.data() + at, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;  // the server stopped reading: the socket pair is full
    sent += static_cast<size_t>(n);
    at = (at + static_cast<size_t>(n)) % msg.size();
    event(i, EPOLLIN | EPOLLOUT);
    s->readQueued();
    highest = std::max(highest, s->connection(i).out.size());
    highest_pool = std::max(highest_pool, s->poolStats().bytes_in_use.get());
  }
  const Connection& c = s->connection(i);
  ASSERT_EQ(state(i), ConnState::kOpen);
  EXPECT_TRUE(c.flags & Connection::kPaused) << "sent " << sent;
  EXPECT_LE(highest, s->pendingLimit());
  EXPECT_LE(highest, cap);
  // The formula: the out block is at most the cap rounded up to a power of two, plus the
  // one block (256 B) a spilled frame header takes.
  if constexpr (kCountersEnabled) {
    EXPECT_LE(highest_pool, std::bit_ceil(uint64_t{cap}) + buf::BufferPool::kMinBlockBytes);
  }
  EXPECT_GT(highest, s->pendingLimit() / 2) << "backpressure came too early to test";
}

INSTANTIATE_TEST_SUITE_P(CapsAndMessageSizes, PendingBoundTest,
                         ::testing::Values(std::pair<uint32_t, size_t>{4096, 100},
                                           std::pair<uint32_t, size_t>{4096, 70000},
                                           std::pair<uint32_t, size_t>{64 * 1024, 64 * 1024},
                                           std::pair<uint32_t, size_t>{256 * 1024, 64 * 1024},
                                           std::pair<uint32_t, size_t>{256 * 1024, 1000000},
                                           std::pair<uint32_t, size_t>{1u << 20, 1000000},
                                           std::pair<uint32_t, size_t>{1000000, 30}));

TEST_F(LifecycleTest, FlushingWaitsForQueuedOutputThenEnds) {
  config.max_pending_bytes = 1u << 20;
  int client;
  const uint32_t i = open(client, 4096);
  std::string all;
  for (int k = 0; k < 20; ++k) all += frame(0x82, std::string(4000, 'b'));
  send(client, all + closeFrame(1000));
  event(i, EPOLLIN);
  EXPECT_EQ(state(i), ConnState::kFlushing);
  EXPECT_FALSE(s->connection(i).out.empty());
  std::string bytes;
  size_t got = 0;  // messages: a frame cut by a read is echoed as two fragments
  auto count = [&] {
    bytes += receive(client);
    for (const auto& f : parseFrames(bytes)) got += f.fin ? 1 : 0;
  };
  for (int round = 0; round < 100 && state(i) != ConnState::kFree; ++round) {
    count();
    event(i, EPOLLOUT);
  }
  count();
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(got, 21u) << "20 echoes and the Close answer";
  EXPECT_EQ(disconnections(DisconnectReason::kClientClose), 1u);
}

TEST_F(LifecycleTest, FlushingTimesOutWhenTheClientNeverReads) {
  int client;
  const uint32_t i = open(client, 4096);
  std::string all;
  for (int k = 0; k < 20; ++k) all += frame(0x82, std::string(4000, 'c'));
  send(client, all + closeFrame(1000));
  event(i, EPOLLIN);
  ASSERT_EQ(state(i), ConnState::kFlushing);
  advance(4);
  EXPECT_EQ(state(i), ConnState::kFlushing);
  advance(5);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kClientClose), 1u);
  EXPECT_EQ(stats.pending_bytes.get(), 0u);
}

TEST_F(LifecycleTest, LingeringTimesOut) {
  int client;
  const uint32_t i = open(client);
  send(client, std::string("\x81\x00", 2));  // unmasked: 1002
  event(i, EPOLLIN);
  ASSERT_EQ(state(i), ConnState::kLingering);
  advance(4);
  EXPECT_EQ(state(i), ConnState::kLingering);
  advance(5);
  EXPECT_EQ(state(i), ConnState::kFree);
  EXPECT_EQ(disconnections(DisconnectReason::kProtocolError), 1u);
}

// --- Streamed echo: every piece goes back at once as a fragment of the same message.

struct ClientFrame {
  uint8_t b0;
  std::string payload;
};

// Payload bytes of data frames the first `cut` bytes of `frames` (serialised) carry: what a
// streaming echo can have sent back after reading them.
size_t dataBytesWithin(const std::vector<ClientFrame>& frames, size_t cut) {
  size_t pos = 0, bytes = 0;
  for (const ClientFrame& f : frames) {
    const size_t len = f.payload.size();
    const size_t header = (len <= 125 ? 2 : len <= 0xFFFF ? 4 : 10) + 4;
    const bool data = (f.b0 & 0x08) == 0;
    if (data && cut >= pos + header) bytes += std::min(len, cut - pos - header);
    pos += header + len;
  }
  return bytes;
}

TEST_F(LifecycleTest, StreamedEchoAtEverySplitPoint) {
  // A fragmented text message splitting code points, a ping between its fragments, then a
  // single-frame binary message: cut in two reads at every byte.
  const std::vector<ClientFrame> sent = {
      {0x01, "h\xC3\xA9llo \xE2\x82"},      // text, FIN=0, ends inside a code point
      {0x89, "ping"},                       // control between fragments
      {0x00, "\xAC w\xF0\x9F\x98\x80rld"},  // continuation, FIN=0
      {0x80, "!"},                          // continuation, FIN=1
      {0x82, std::string(300, 'z')},        // whole binary message
  };
  std::string stream;
  for (const ClientFrame& f : sent) stream += frame(f.b0, f.payload);
  const std::string text = "h\xC3\xA9llo \xE2\x82\xAC w\xF0\x9F\x98\x80rld!";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const uint64_t text_in = stats.messages_in_text.get();
    const uint64_t text_out = stats.messages_out_text.get();
    const uint64_t size_sum = stats.message_sizes.sum.get();
    int client;
    const uint32_t i = open(client);
    send(client, stream.substr(0, cut));
    event(i, EPOLLIN);
    const auto first = frames(client);
    size_t echoed = 0;
    for (const ServerFrame& f : first) echoed += f.opcode < 0x8 ? f.payload.size() : 0;
    EXPECT_EQ(echoed, dataBytesWithin(sent, cut)) << "every decoded byte is echoed at once";
    EXPECT_FALSE(s->connection(i).msg.holdsBlock() && s->connection(i).spill == 0)
        << "nothing but a frame header is kept between reads";
    send(client, stream.substr(cut));
    event(i, EPOLLIN);
    auto all = first;
    for (auto& f : frames(client)) all.push_back(std::move(f));
    // Reassemble as a client does: data fragments, with control frames between them.
    std::vector<std::pair<uint8_t, std::string>> messages;
    std::string partial;
    uint8_t opcode = 0;
    size_t pongs = 0;
    for (const ServerFrame& f : all) {
      if (f.opcode == 0xA) {
        EXPECT_EQ(f.payload, "ping");
        ++pongs;
        continue;
      }
      if (f.opcode == 0x0) {
        ASSERT_NE(opcode, 0) << "continuation without a message";
      } else {
        ASSERT_EQ(opcode, 0) << "new message inside a message";
        opcode = f.opcode;
      }
      partial += f.payload;
      if (f.fin) {
        messages.emplace_back(opcode, partial);
        partial.clear();
        opcode = 0;
      }
    }
    EXPECT_EQ(pongs, 1u);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0], std::make_pair(uint8_t{0x1}, text));
    EXPECT_EQ(messages[1], std::make_pair(uint8_t{0x2}, std::string(300, 'z')));
    EXPECT_EQ(state(i), ConnState::kOpen);
    EXPECT_EQ(stats.messages_in_text.get() - text_in, 1u);
    EXPECT_EQ(stats.messages_out_text.get() - text_out, 1u);
    EXPECT_EQ(stats.message_sizes.sum.get() - size_sum, text.size() + 300);
    event(i, EPOLLERR);
  }
}

TEST_F(LifecycleTest, CloseMidMessageAtEverySplitPoint) {
  const std::string stream = frame(0x02, "part one") + frame(0x00, "two") + closeFrame(1000);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    int client;
    const uint32_t i = open(client);
    send(client, stream.substr(0, cut));
    event(i, EPOLLIN);
    if (cut < stream.size()) {
      send(client, stream.substr(cut));
      event(i, EPOLLIN);
    }
    bool eof = false;
    const auto f = frames(client, &eof);
    ASSERT_GE(f.size(), 2u);
    std::string echoed;
    for (size_t k = 0; k + 1 < f.size(); ++k) {
      EXPECT_FALSE(f[k].fin) << "the message never completes";
      EXPECT_EQ(f[k].opcode, k == 0 ? 0x2 : 0x0);
      echoed += f[k].payload;
    }
    EXPECT_EQ(echoed, "part onetwo");
    EXPECT_EQ(f.back().opcode, 0x8);
    EXPECT_EQ(f.back().payload, std::string("\x03\xE8", 2));
    EXPECT_TRUE(eof);
    EXPECT_EQ(state(i), ConnState::kFree);
  }
}

TEST_F(LifecycleTest, StalledMidMessageHoldsNoBuffer) {
  // 900,000 of a 1,000,000-byte frame, then silence: echoed as it came, nothing held.
  int client;
  const uint32_t i = open(client);
  const std::string whole = frame(0x82, std::string(1000000, '\0'));
  const std::string part = whole.substr(0, 14 + 900000);
  size_t sent = 0, echoed = 0;
  std::string bytes;
  while (sent < part.size() || echoed < 900000) {
    if (sent < part.size()) {
      const ssize_t n = ::send(client, part.data() + sent, part.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    event(i, EPOLLIN | EPOLLOUT);
    bytes += receive(client);
    for (const auto& f : parseFrames(bytes)) echoed += f.payload.size();
    if (sent == part.size() && echoed < 900000 && bytes.empty()) s->readQueued();
  }
  EXPECT_EQ(echoed, 900000u);
  const Connection& c = s->connection(i);
  EXPECT_FALSE(c.msg.holdsBlock());
  EXPECT_TRUE(c.out.empty());
  EXPECT_EQ(s->poolStats().blocks_in_use.get(), 0u);
  EXPECT_EQ(state(i), ConnState::kOpen);
}

TEST_F(LifecycleTest, SlotIndexComesFromTheRecord) {
  int a, b;
  const uint32_t i = admit(a);
  const uint32_t j = admit(b);
  EXPECT_NE(i, j);
  EXPECT_EQ(s->tagOf(j) & 0xFFFFFFFFu, j);
}

}  // namespace
}  // namespace mws::server
