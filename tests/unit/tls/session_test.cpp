#include "mws/tls/session.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "mws/tls/context.h"
#include "mws/tls/session_pool.h"
#include "test_support.h"

namespace mws::tls {
namespace {

using testing::Link;

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) ^ (i >> 7));
  return s;
}

// What the client's SSL_read reports after everything it can read now (an alert, EOF...).
int clientReadError(Link& link, std::string& out) {
  char buf[16384];
  for (;;) {
    const int ret = SSL_read(link.client, buf, sizeof buf);
    if (ret > 0) {
      out.append(buf, static_cast<size_t>(ret));
      continue;
    }
    return SSL_get_error(link.client, ret);
  }
}

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const testing::Pem pem = testing::makeCertificate("session", -60, 86400);
    context_ = new ServerContext({dir_->write("cert.pem", pem.cert),
                                  dir_->write("key.pem", pem.key), std::chrono::hours(1)});
  }
  static void TearDownTestSuite() {
    delete context_;
    delete dir_;
  }
  SessionTest() : acceptor_(*context_), client_ctx_(testing::newClientContext()) {}
  ~SessionTest() override {
    ERR_clear_error();
    SSL_CTX_free(client_ctx_);
  }

  IoResult handshakeAfterRaw(Link& link, const std::string& bytes) {
    EXPECT_EQ(::send(link.client_fd, bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
    return handshake(*link.server);
  }
  static std::string rawRecv(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  static testing::TempDir* dir_;
  static ServerContext* context_;
  Acceptor acceptor_;
  SSL_CTX* client_ctx_;
};
testing::TempDir* SessionTest::dir_ = nullptr;
ServerContext* SessionTest::context_ = nullptr;

// --- Every version and AEAD, full and resumed: the record layer that takes over from OpenSSL
// must agree with OpenSSL's client on keys, nonces and sequence numbers, both ways.
using Suite = std::tuple<int, const char*, bool>;  // version, suite, resumed
class SuiteTest : public SessionTest, public ::testing::WithParamInterface<Suite> {};

TEST_P(SuiteTest, EchoesBothWaysAfterTheTakeOver) {
  const auto [version, suite, resume] = GetParam();
  SSL_CTX_set_min_proto_version(client_ctx_, version);
  SSL_CTX_set_max_proto_version(client_ctx_, version);
  ASSERT_EQ(version == TLS1_3_VERSION ? SSL_CTX_set_ciphersuites(client_ctx_, suite)
                                      : SSL_CTX_set_cipher_list(client_ctx_, suite),
            1);
  SSL_SESSION* session = nullptr;
  if (resume) {
    Link first(acceptor_, client_ctx_);
    ASSERT_EQ(first.handshake().status, Io::kDone);
    session = first.clientSession();
    ASSERT_NE(session, nullptr);
  }
  Link link(acceptor_, client_ctx_, session);
  SSL_SESSION_free(session);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  const HandshakeInfo hs = info(*link.server);
  EXPECT_EQ(hs.version, version == TLS1_3_VERSION ? Version::kTls13 : Version::kTls12);
  EXPECT_EQ(hs.resumed, resume);
  EXPECT_STREQ(SSL_get_cipher_name(link.client), suite);

  // Client to server: small, empty and multi-record messages in one go.
  const std::string big = pattern(40000, 1);
  ASSERT_EQ(SSL_write(link.client, "hello", 5), 5);
  for (size_t sent = 0; sent < big.size();) {
    const int n = SSL_write(link.client, big.data() + sent, static_cast<int>(big.size() - sent));
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
  std::string got;
  for (int i = 0; i < 10 && got.size() < 5 + big.size(); ++i) {
    ASSERT_NE(link.serverRead(got).status, Io::kFailed);
  }
  EXPECT_TRUE(got == "hello" + big);

  // Server to client, several times (sequence numbers advance).
  for (int i = 0; i < 3; ++i) {
    const std::string reply = pattern(100 + 20000 * static_cast<size_t>(i), 7 + i);
    ASSERT_TRUE(link.serverSend(reply));
    std::string back;
    while (back.size() < reply.size() && link.clientRead(back) > 0) {
    }
    EXPECT_TRUE(back == reply) << i;
  }

  // Our close_notify ends the client's reading cleanly.
  uint8_t close[kCloseRecordBytes];
  const size_t n = sealClose(*link.server, close);
  ASSERT_GT(n, 0u);
  ASSERT_EQ(::send(link.server_fd, close, n, 0), static_cast<ssize_t>(n));
  std::string rest;
  EXPECT_EQ(clientReadError(link, rest), SSL_ERROR_ZERO_RETURN);
  ERR_clear_error();
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SuiteTest,
                         ::testing::Combine(::testing::Values(TLS1_3_VERSION),
                                            ::testing::Values("TLS_AES_128_GCM_SHA256",
                                                              "TLS_AES_256_GCM_SHA384",
                                                              "TLS_CHACHA20_POLY1305_SHA256"),
                                            ::testing::Bool()));
INSTANTIATE_TEST_SUITE_P(Tls12Suites, SuiteTest,
                         ::testing::Combine(::testing::Values(TLS1_2_VERSION),
                                            ::testing::Values("ECDHE-ECDSA-AES128-GCM-SHA256",
                                                              "ECDHE-ECDSA-AES256-GCM-SHA384",
                                                              "ECDHE-ECDSA-CHACHA20-POLY1305"),
                                            ::testing::Bool()));

TEST_F(SessionTest, ReportsDrainedAndFullReads) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  std::string got;
  IoResult r = link.serverRead(got);
  EXPECT_EQ(r.status, Io::kWantRead);  // nothing there
  EXPECT_EQ(r.bytes, 0u);
  ASSERT_EQ(SSL_write(link.client, "x", 1), 1);
  r = link.serverRead(got);
  EXPECT_EQ(r.status, Io::kWantRead);  // a short recv: drained, no second recv
  EXPECT_EQ(got, "x");
  // More than the read room: the first read fills it and says so.
  const std::string big = pattern(3 * kReadRoom, 3);
  got.clear();
  size_t off = 0;
  bool saw_full = false;
  for (int i = 0; i < 1000 && got.size() < big.size(); ++i) {
    // As much as the socket takes (the client writes a record per call).
    while (off < big.size()) {
      const int n = SSL_write(link.client, big.data() + off, static_cast<int>(big.size() - off));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ERR_clear_error();
    r = link.serverRead(got);
    ASSERT_NE(r.status, Io::kFailed);
    saw_full |= r.status == Io::kDone;
  }
  EXPECT_TRUE(saw_full);
  EXPECT_TRUE(got == big);
}

TEST_F(SessionTest, RecordsArrivingOneByteAtATime) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  const std::string message = pattern(20000, 5);  // two records
  size_t sent = 0;
  while (sent < message.size()) {
    const int n =
        SSL_write(link.client, message.data() + sent, static_cast<int>(message.size() - sent));
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
  // Take the ciphertext off the server's socket, and send it again a byte at a time.
  const std::string wire = rawRecv(link.server_fd);
  ASSERT_GT(wire.size(), message.size());
  std::string got;
  for (size_t i = 0; i < wire.size(); ++i) {
    ASSERT_EQ(::send(link.client_fd, wire.data() + i, 1, 0), 1);
    const IoResult r = link.serverRead(got);
    ASSERT_EQ(r.status, Io::kWantRead) << i;
  }
  EXPECT_TRUE(got == message);
}

TEST_F(SessionTest, KeyUpdatesBothWays) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  for (int round = 0; round < 3; ++round) {
    // The client updates its key and asks us to update ours (rfc8446#section-4.6.3).
    ASSERT_EQ(SSL_key_update(link.client, SSL_KEY_UPDATE_REQUESTED), 1);
    ASSERT_EQ(SSL_write(link.client, "after update", 12), 12);
    std::string got;
    ASSERT_EQ(link.serverRead(got).status, Io::kWantRead);
    EXPECT_EQ(got, "after update");
    ASSERT_TRUE(link.serverSend("reply under our new key"));
    std::string back;
    EXPECT_GT(link.clientRead(back), 0);
    EXPECT_EQ(back, "reply under our new key");
  }
}

TEST_F(SessionTest, PaddedRecordsAreUnpadded) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  ASSERT_EQ(SSL_set_block_padding(link.client, 512), 1);
  ASSERT_EQ(SSL_write(link.client, "padded", 6), 6);
  std::string got;
  ASSERT_EQ(link.serverRead(got).status, Io::kWantRead);
  EXPECT_EQ(got, "padded");
}

TEST_F(SessionTest, ATamperedRecordFailsWithBadRecordMac) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  ASSERT_EQ(SSL_write(link.client, "genuine", 7), 7);
  std::string wire = rawRecv(link.server_fd);
  wire[wire.size() - 3] ^= 1;  // a bit of the tag
  ASSERT_EQ(::send(link.client_fd, wire.data(), wire.size(), 0), static_cast<ssize_t>(wire.size()));
  std::string got;
  const IoResult r = link.serverRead(got);
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kMalformed);
  EXPECT_EQ(got, "");
  // The alert goes out under our key, and the client understands it.
  uint8_t alert[kCloseRecordBytes];
  const size_t n = sealClose(*link.server, alert);
  ASSERT_GT(n, 0u);
  ASSERT_EQ(::send(link.server_fd, alert, n, 0), static_cast<ssize_t>(n));
  std::string rest;
  EXPECT_EQ(clientReadError(link, rest), SSL_ERROR_SSL);
  char reason[256];
  ERR_error_string_n(ERR_peek_error(), reason, sizeof reason);
  EXPECT_NE(std::string(reason).find("bad record mac"), std::string::npos) << reason;
  ERR_clear_error();
}

TEST_F(SessionTest, AnOversizedRecordFailsOnItsHeader) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  const std::string header("\x17\x03\x03\x48\x00", 5);  // 18432 bytes > 2^14 + 256
  ASSERT_EQ(::send(link.client_fd, header.data(), header.size(), 0), 5);
  std::string got;
  const IoResult r = link.serverRead(got);
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kMalformed);
}

TEST_F(SessionTest, PeerCloseEofAndATruncatedRecordAllEndAsClosed) {
  {
    Link link(acceptor_, client_ctx_);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    ASSERT_EQ(SSL_write(link.client, "last words", 10), 10);
    SSL_shutdown(link.client);
    std::string got;
    EXPECT_EQ(link.serverRead(got).status, Io::kClosed);
    EXPECT_EQ(got, "last words");  // the data before close_notify still counts
  }
  {
    Link link(acceptor_, client_ctx_);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    ::shutdown(link.client_fd, SHUT_WR);  // EOF without close_notify
    std::string got;
    EXPECT_EQ(link.serverRead(got).status, Io::kClosed);
  }
  {
    Link link(acceptor_, client_ctx_);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    ASSERT_EQ(::send(link.client_fd, "\x17\x03\x03\x00\x40partial", 12, 0), 12);
    ::shutdown(link.client_fd, SHUT_WR);
    std::string got;
    IoResult r;
    for (int i = 0; i < 3 && (i == 0 || r.status == Io::kDone); ++i) r = link.serverRead(got, true);
    EXPECT_EQ(r.status, Io::kClosed);
    EXPECT_EQ(got, "");
  }
}

TEST_F(SessionTest, SealFitsWhateverRoomItIsGiven) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  const std::string message = pattern(50000, 9);
  const auto plain = std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size());
  std::vector<uint8_t> out(1000);
  size_t done = 0;
  std::string back;
  while (done < plain.size()) {
    const Sealed s = seal(*link.server, plain.subspan(done), out);
    ASSERT_TRUE(s.ok);
    ASSERT_GT(s.consumed, 0u);
    ASSERT_LE(s.produced, out.size());
    ASSERT_EQ(::send(link.server_fd, out.data(), s.produced, 0), static_cast<ssize_t>(s.produced));
    done += s.consumed;
    link.clientRead(back);
  }
  while (back.size() < message.size() && link.clientRead(back) > 0) {
  }
  EXPECT_TRUE(back == message);
}

TEST_F(SessionTest, PlainHttpOnTheTlsPortFailsAsPlainHttp) {
  Link link(acceptor_, client_ctx_);
  const IoResult r = handshakeAfterRaw(link, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kPlainHttp) << failureName(r.failure);
  EXPECT_EQ(ERR_peek_error(), 0u);  // the error queue is left empty
  uint8_t alert[kCloseRecordBytes];
  EXPECT_EQ(sealClose(*link.server, alert), 0u);  // no keys: nothing to seal
}

TEST_F(SessionTest, ABrokenClientHelloGetsAnAlert) {
  Link link(acceptor_, client_ctx_);
  // A whole ClientHello of 5 bytes: a version, then a 32-byte random cut short.
  const std::string hello("\x16\x03\x01\x00\x09\x01\x00\x00\x05\x03\x03\x00\x00\x00", 14);
  const IoResult r = handshakeAfterRaw(link, hello);
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kMalformed) << failureName(r.failure);
  const std::string answer = rawRecv(link.client_fd);
  ASSERT_GE(answer.size(), 7u);
  EXPECT_EQ(answer[0], '\x15');  // an alert record
  EXPECT_EQ(answer[5], '\x02');  // fatal
}

TEST_F(SessionTest, NotTlsAtAllFailsAsMalformed) {
  Link link(acceptor_, client_ctx_);
  const IoResult r = handshakeAfterRaw(link, std::string("\x00\x01\x02\x03\x04\x05\x06\x07", 8));
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kMalformed) << failureName(r.failure);
}

TEST_F(SessionTest, AnEofDuringTheHandshakeIsCountedAsEof) {
  Link link(acceptor_, client_ctx_);
  EXPECT_EQ(handshake(*link.server).status, Io::kWantRead);
  ::shutdown(link.client_fd, SHUT_WR);
  const IoResult r = handshake(*link.server);
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kEof) << failureName(r.failure);
}

TEST_F(SessionTest, AResetDuringTheHandshakeIsCountedAsReset) {
  Link link(acceptor_, client_ctx_);
  ASSERT_EQ(SSL_do_handshake(link.client), -1);  // the ClientHello is out
  ERR_clear_error();
  ::close(link.client_fd);  // the server's answer now fails with EPIPE
  link.client_fd = -1;
  const IoResult r = handshake(*link.server);
  EXPECT_EQ(r.status, Io::kFailed);
  EXPECT_EQ(r.failure, Failure::kReset) << failureName(r.failure);
}

TEST_F(SessionTest, AnIdleSessionHoldsOnlyItsKeys) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "mallinfo2 does not see ASan's allocator";
#else
  // One warm-up handshake loads OpenSSL's providers and this thread's cipher contexts.
  {
    Link warm(acceptor_, client_ctx_);
    ASSERT_EQ(warm.handshake().status, Io::kDone);
    ASSERT_TRUE(warm.serverSend("warm"));
  }
  constexpr int kLinks = 1000;
  // Allocated before the baseline, so that only what the connections allocate counts.
  std::unique_ptr<std::optional<Link>[]> links(new std::optional<Link>[kLinks]);
  std::vector<uint8_t> buf(kReadRoom);
  const size_t before = mallinfo2().uordblks;
  const size_t slots_before = sessionPoolSlotsInUse();
  for (int i = 0; i < kLinks; ++i) {
    Link& link = links[i].emplace(acceptor_, client_ctx_);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    // A message each way.
    ASSERT_EQ(SSL_write(link.client, "ping", 4), 4);
    ASSERT_EQ(read(*link.server, buf).bytes, 4u);
    const uint8_t pong[] = {'p', 'o', 'n', 'g'};
    const Sealed sealed = seal(*link.server, pong, buf);
    ASSERT_EQ(::send(link.server_fd, buf.data(), sealed.produced, 0),
              static_cast<ssize_t>(sealed.produced));
    std::string got;
    ASSERT_EQ(link.clientRead(got), 4);
  }
  // Only the server side counts: the client SSLs go.
  for (int i = 0; i < kLinks; ++i) {
    SSL_shutdown(links[i]->client);
    SSL_free(links[i]->client);
    links[i]->client = nullptr;
  }
  const size_t after = mallinfo2().uordblks;
  const double pooled =
      static_cast<double>((sessionPoolSlotsInUse() - slots_before) * kSessionSlotBytes) / kLinks;
  // Releasing the sessions gives no heap back: they hold none (their slots are the pool's).
  // The heap's growth over the loop, ~120 B per connection, stays after every link is
  // destroyed too: the allocator's and the test harness's, not a connection's. (With
  // OpenSSL's allocations traced, none outlives a handshake.)
  for (int i = 0; i < kLinks; ++i) {
    release(links[i]->server);
    links[i]->server = nullptr;
  }
  const double heap_held = static_cast<double>(after - mallinfo2().uordblks) / kLinks;
  const double growth = static_cast<double>(after - before) / kLinks;
  std::printf(
      "[ budget   ] per idle server-side TLS session: %.0f pool bytes (%zu a slot), %.0f heap "
      "bytes; heap growth %.0f per connection\n",
      pooled, idleSessionBytes(), heap_held, growth);
  // The budget: one 256-byte slot of keys (tls/session.cpp), against ~14 KiB for an SSL
  // object kept with SSL_MODE_RELEASE_BUFFERS (measured with OpenSSL 3.0.19).
  EXPECT_EQ(pooled, static_cast<double>(idleSessionBytes()));
  EXPECT_LT(heap_held, 16.0);
  EXPECT_LT(growth, 512.0);
#endif
}

}  // namespace
}  // namespace mws::tls
