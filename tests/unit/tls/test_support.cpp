#include "test_support.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace mws::tls::testing {

namespace {

// A client writing to a socket whose peer is gone must see EPIPE, not die of SIGPIPE (the
// server ignores it in main(); these tests run without that).
const bool kSigpipeIgnored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();

std::string toPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string toPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

X509* readCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

EVP_PKEY* readKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

}  // namespace

Pem makeCertificate(const std::string& cn, long not_before_s, long not_after_s, const Pem* issuer) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  X509* cert = X509_new();
  static long serial = 1;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_s);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? readCert(issuer->cert) : nullptr;
  EVP_PKEY* issuer_key = issuer ? readKey(issuer->key) : nullptr;
  X509_set_issuer_name(cert, issuer_cert ? X509_get_subject_name(issuer_cert) : name);
  X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256());
  Pem out{toPem(cert), toPem(key)};
  if (issuer) out.cert += issuer->cert;
  X509_free(issuer_cert);
  EVP_PKEY_free(issuer_key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

TempDir::TempDir() {
  std::string pattern = ::testing::TempDir() + "mws-tls-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string file = path_ + "/" + name;
  std::ofstream(file, std::ios::trunc) << content;
  return file;
}

SSL_CTX* newClientContext(int min_version, int max_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The client keeps sessions only when asked (SSL_get1_session), like the load generator.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return ctx;
}

std::string peerCommonName(SSL* client) {
  X509* peer = SSL_get1_peer_certificate(client);
  if (!peer) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
  X509_free(peer);
  return cn;
}

Link::Link(Acceptor& acceptor, SSL_CTX* client_ctx, SSL_SESSION* session) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::runtime_error("socketpair failed");
  }
  server_fd = fds[0];
  client_fd = fds[1];
  server = acceptor.open(server_fd);
  client = SSL_new(client_ctx);
  if (!server || !client) throw std::runtime_error("SSL_new failed");
  SSL_set_fd(client, client_fd);
  SSL_set_connect_state(client);
  static char kServerName[] = "localhost";
  SSL_ctrl(client, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, kServerName);
  if (session) SSL_set_session(client, session);
}

Link::~Link() {
  release(server);
  // An SSL freed without close_notify marks its session not resumable (OpenSSL's
  // ssl_clear_bad_session): a client that resumes must end with SSL_shutdown.
  if (client && SSL_is_init_finished(client)) SSL_shutdown(client);
  ERR_clear_error();
  SSL_free(client);
  ::close(server_fd);
  ::close(client_fd);
}

IoResult Link::handshake() {
  IoResult r{Io::kWantRead, Failure::kNone, 0};
  bool client_done = false;
  for (int round = 0; round < 50; ++round) {
    if (!client_done) {
      const int ret = SSL_do_handshake(client);
      if (ret == 1) {
        client_done = true;
      } else {
        const int err = SSL_get_error(client, ret);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) client_done = true;
        ERR_clear_error();
      }
    }
    r = tls::handshake(*server);
    if (r.status == Io::kDone || r.status == Io::kFailed) break;
  }
  if (r.status == Io::kDone) {
    std::string ignored;
    clientRead(ignored);  // takes in the session ticket
  }
  return r;
}

long Link::clientRead(std::string& out) {
  char buf[16384];
  long total = 0;
  for (;;) {
    size_t got = 0;
    const int ret = SSL_read_ex(client, buf, sizeof buf, &got);
    if (ret == 1) {
      out.append(buf, got);
      total += static_cast<long>(got);
      continue;
    }
    const int err = SSL_get_error(client, ret);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return total;
    return total > 0 ? total : -1;
  }
}

IoResult Link::serverRead(std::string& out, bool to_eof) {
  std::vector<uint8_t> buf(kReadRoom);
  const IoResult r = read(*server, buf, to_eof);
  out.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
  return r;
}

bool Link::serverSend(std::string_view text) {
  const auto plain = std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::vector<uint8_t> out(sealedBound(*server, plain.size()));
  const Sealed sealed = seal(*server, plain, out);
  if (!sealed.ok || sealed.consumed != plain.size()) return false;
  return ::send(server_fd, out.data(), sealed.produced, MSG_NOSIGNAL) ==
         static_cast<ssize_t>(sealed.produced);
}

}  // namespace mws::tls::testing
