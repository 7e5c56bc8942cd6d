#include "mws/tls/context.h"

#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "test_support.h"

namespace mws::tls {
namespace {

using testing::Link;
using testing::makeCertificate;
using testing::Pem;
using testing::TempDir;

constexpr long kDay = 24 * 3600;

struct ClientCtx {
  explicit ClientCtx(int min = TLS1_2_VERSION, int max = TLS1_3_VERSION)
      : ctx(testing::newClientContext(min, max)) {}
  ~ClientCtx() { SSL_CTX_free(ctx); }
  SSL_CTX* ctx;
};

class ContextTest : public ::testing::Test {
 protected:
  ContextOptions write(const Pem& pem) {
    return {dir_.write("cert.pem", pem.cert), dir_.write("key.pem", pem.key),
            std::chrono::hours(1)};
  }
  // The start-up error for `pem`, or "" if it loads.
  std::string startupError(const ContextOptions& options) {
    try {
      ServerContext context(options);
      return "";
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  }

  TempDir dir_;
  ClientCtx client_;
};

TEST_F(ContextTest, LoadsAPairServesItAndReportsItsExpiry) {
  ServerContext context(write(makeCertificate("alpha", -60, 30 * kDay)));
  const int64_t expected = static_cast<int64_t>(std::time(nullptr)) + 30 * kDay;
  EXPECT_NEAR(static_cast<double>(context.notAfterUnix()), static_cast<double>(expected), 5.0);
  EXPECT_EQ(context.certificate().subject, "/CN=alpha");
  Acceptor acceptor(context);
  Link link(acceptor, client_.ctx);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  EXPECT_EQ(testing::peerCommonName(link.client), "alpha");
  const HandshakeInfo hs = info(*link.server);
  EXPECT_EQ(hs.version, Version::kTls13);
  EXPECT_FALSE(hs.resumed);
}

TEST_F(ContextTest, SendsTheChainAfterTheLeaf) {
  const Pem ca = makeCertificate("test-ca", -60, 30 * kDay);
  ServerContext context(write(makeCertificate("leaf", -60, 30 * kDay, &ca)));
  Acceptor acceptor(context);
  Link link(acceptor, client_.ctx);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(link.client);
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(sk_X509_num(chain), 2);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(chain, 1)), NID_commonName, cn,
                            sizeof cn);
  EXPECT_STREQ(cn, "test-ca");
}

TEST_F(ContextTest, RefusesBadPairsAtStartUpWithAClearMessage) {
  const Pem good = makeCertificate("good", -60, 30 * kDay);
  const Pem other = makeCertificate("other", -60, 30 * kDay);
  EXPECT_EQ(startupError(write(good)), "");

  const std::string expired = startupError(write(makeCertificate("old", -10 * kDay, -kDay)));
  EXPECT_NE(expired.find("expired on"), std::string::npos) << expired;
  EXPECT_NE(expired.find("CN=old"), std::string::npos) << expired;

  const std::string future = startupError(write(makeCertificate("new", kDay, 10 * kDay)));
  EXPECT_NE(future.find("is not valid before"), std::string::npos) << future;

  const std::string mismatch = startupError(write(Pem{good.cert, other.key}));
  EXPECT_NE(mismatch.find("does not match the certificate"), std::string::npos) << mismatch;

  const std::string no_cert = startupError(write(Pem{"not a certificate\n", good.key}));
  EXPECT_NE(no_cert.find("no PEM certificate in"), std::string::npos) << no_cert;

  const std::string no_key = startupError(write(Pem{good.cert, good.cert}));
  EXPECT_NE(no_key.find("no PEM private key in"), std::string::npos) << no_key;

  ContextOptions missing = write(good);
  missing.key_file = dir_.path() + "/absent.pem";
  const std::string absent = startupError(missing);
  EXPECT_NE(absent.find("cannot read the TLS key file"), std::string::npos) << absent;
  EXPECT_NE(absent.find("No such file"), std::string::npos) << absent;
}

TEST_F(ContextTest, ReloadServesTheNewPairToNewHandshakesOnly) {
  ServerContext context(write(makeCertificate("first", -60, 30 * kDay)));
  Acceptor acceptor(context);
  Link before(acceptor, client_.ctx);
  ASSERT_EQ(before.handshake().status, Io::kDone);

  write(makeCertificate("second", -60, 60 * kDay));
  std::string error;
  ASSERT_TRUE(context.reload(error)) << error;
  EXPECT_EQ(context.certificate().subject, "/CN=second");
  EXPECT_GT(context.notAfterUnix(), static_cast<int64_t>(std::time(nullptr)) + 50 * kDay);

  Link after(acceptor, client_.ctx);
  ASSERT_EQ(after.handshake().status, Io::kDone);
  EXPECT_EQ(testing::peerCommonName(after.client), "second");

  // The connection made before the reload still works on its own generation.
  const std::string ping = "still here";
  ASSERT_EQ(SSL_write(before.client, ping.data(), static_cast<int>(ping.size())),
            static_cast<int>(ping.size()));
  std::string got;
  EXPECT_EQ(before.serverRead(got).status, Io::kWantRead);
  EXPECT_EQ(got, ping);
}

TEST_F(ContextTest, AFailedReloadKeepsTheOldPair) {
  const Pem good = makeCertificate("kept", -60, 30 * kDay);
  ServerContext context(write(good));
  const int64_t expiry = context.notAfterUnix();
  Acceptor acceptor(context);

  write(Pem{good.cert, makeCertificate("stranger", -60, 30 * kDay).key});
  std::string error;
  EXPECT_FALSE(context.reload(error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
  write(makeCertificate("stale", -10 * kDay, -kDay));
  EXPECT_FALSE(context.reload(error));
  EXPECT_NE(error.find("expired"), std::string::npos) << error;

  EXPECT_EQ(context.notAfterUnix(), expiry);
  EXPECT_EQ(context.certificate().subject, "/CN=kept");
  Link link(acceptor, client_.ctx);
  ASSERT_EQ(link.handshake().status, Io::kDone);
  EXPECT_EQ(testing::peerCommonName(link.client), "kept");
}

// Runs one handshake offering `session`; returns whether the server resumed it, and the
// client's new session (caller frees) through `next`.
bool resumes(Acceptor& acceptor, SSL_CTX* client_ctx, SSL_SESSION* session,
             SSL_SESSION** next = nullptr) {
  Link link(acceptor, client_ctx, session);
  EXPECT_EQ(link.handshake().status, Io::kDone);
  if (next) *next = link.clientSession();
  return info(*link.server).resumed;
}

TEST_F(ContextTest, ResumesWithATicketAcrossAReloadAndOneKeyRotation) {
  ServerContext context(write(makeCertificate("resume", -60, 30 * kDay)));
  Acceptor acceptor(context);
  // A TLS 1.3 client uses each ticket once (OpenSSL's client marks the session it resumed
  // not resumable once the next ticket arrives), so every step offers the newest one.
  SSL_SESSION* session = nullptr;
  EXPECT_FALSE(resumes(acceptor, client_.ctx, nullptr, &session));
  ASSERT_NE(session, nullptr);
  ASSERT_TRUE(SSL_SESSION_is_resumable(session));
  SSL_SESSION* next = nullptr;
  EXPECT_TRUE(resumes(acceptor, client_.ctx, session, &next));
  SSL_SESSION_free(std::exchange(session, next));

  // A new certificate does not invalidate tickets: the keys belong to the ServerContext.
  write(makeCertificate("resume-2", -60, 30 * kDay));
  std::string error;
  ASSERT_TRUE(context.reload(error)) << error;
  EXPECT_TRUE(resumes(acceptor, client_.ctx, session, &next));
  SSL_SESSION_free(std::exchange(session, next));

  // Two tickets under the current key; then one rotation: the old key still decrypts (and
  // the client gets a ticket under the new key)...
  SSL_SESSION* spare = nullptr;
  EXPECT_FALSE(resumes(acceptor, client_.ctx, nullptr, &spare));
  context.rotateTicketKeys();
  EXPECT_TRUE(resumes(acceptor, client_.ctx, session, &next));
  SSL_SESSION_free(std::exchange(session, next));
  // ...two rotations: it is gone, and the handshake is a full one; the ticket issued after
  // the first rotation is one rotation old, and still good.
  context.rotateTicketKeys();
  EXPECT_FALSE(resumes(acceptor, client_.ctx, spare));
  EXPECT_TRUE(resumes(acceptor, client_.ctx, session));
  SSL_SESSION_free(spare);
  SSL_SESSION_free(session);
}

TEST_F(ContextTest, ResumesTls12Too) {
  ServerContext context(write(makeCertificate("resume12", -60, 30 * kDay)));
  Acceptor acceptor(context);
  ClientCtx tls12(TLS1_2_VERSION, TLS1_2_VERSION);
  SSL_SESSION* session = nullptr;
  EXPECT_FALSE(resumes(acceptor, tls12.ctx, nullptr, &session));
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(resumes(acceptor, tls12.ctx, session));
  SSL_SESSION_free(session);
}

TEST_F(ContextTest, SelectsHttp11ByAlpnAndToleratesOtherOffers) {
  ServerContext context(write(makeCertificate("alpn", -60, 30 * kDay)));
  Acceptor acceptor(context);
  static constexpr unsigned char kBoth[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  {
    Link link(acceptor, client_.ctx);
    SSL_set_alpn_protos(link.client, kBoth, sizeof kBoth);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    EXPECT_TRUE(info(*link.server).alpn_http11);
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(link.client, &proto, &len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(proto), len), "http/1.1");
  }
  {
    Link link(acceptor, client_.ctx);
    SSL_set_alpn_protos(link.client, kH2, sizeof kH2);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    EXPECT_FALSE(info(*link.server).alpn_http11);
  }
}

TEST_F(ContextTest, ServesTls12AndRefusesOlderVersions) {
  ServerContext context(write(makeCertificate("versions", -60, 30 * kDay)));
  Acceptor acceptor(context);
  {
    ClientCtx tls12(TLS1_2_VERSION, TLS1_2_VERSION);
    Link link(acceptor, tls12.ctx);
    ASSERT_EQ(link.handshake().status, Io::kDone);
    EXPECT_EQ(info(*link.server).version, Version::kTls12);
  }
  {
    ClientCtx tls11(TLS1_VERSION, TLS1_1_VERSION);
    // OpenSSL's default security level refuses TLS 1.1 even on the client: lower it.
    SSL_CTX_set_security_level(tls11.ctx, 0);
    Link link(acceptor, tls11.ctx);
    const IoResult r = link.handshake();
    EXPECT_EQ(r.status, Io::kFailed);
    EXPECT_EQ(r.failure, Failure::kVersion) << failureName(r.failure);
  }
}

}  // namespace
}  // namespace mws::tls
