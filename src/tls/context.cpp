#include "mws/tls/context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace mws::tls {

namespace {

// Mozilla's "intermediate" list (AEAD with forward secrecy only); AES-GCM first because
// this machine class has AES-NI, ChaCha20 first for clients that prefer it (no AES-NI).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr unsigned char kSessionContext[] = "millionws";

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;

// The oldest queued OpenSSL error as text (and the queue emptied), for start-up messages.
std::string opensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

std::string formatTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (!ASN1_TIME_to_tm(t, &tm)) return "an unreadable date";
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

int64_t toUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (!ASN1_TIME_to_tm(t, &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string subjectOf(X509* cert) {
  char text[256];
  if (!X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text)) return "?";
  return text;
}

BioPtr openFile(const std::string& path, std::string_view what, std::string& error) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    error = std::string("cannot read the TLS ") + std::string(what) + " file " + path + ": " +
            std::strerror(errno);
  }
  return bio;
}

// ALPN (rfc7301): a WebSocket handshake is HTTP/1.1 (rfc6455#section-4.1). A client that
// offers only other protocols (h2) still gets the handshake, without ALPN, rather than an
// alert: it will find out from the HTTP exchange.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof kHttp11, in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

int64_t monotonicSeconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ServerContext::ServerContext(ContextOptions options) : options_(std::move(options)) {
  if (options_.ticket_key_period.count() <= 0) {
    throw std::runtime_error("TLS ticket key period must be positive");
  }
  rotateLocked(monotonicSeconds());
  std::string error;
  ctx_ = build(error);
  if (!ctx_) throw std::runtime_error(error);
  X509* cert = SSL_CTX_get0_certificate(ctx_);
  info_ = {toUnix(X509_get0_notAfter(cert)), subjectOf(cert)};
  not_after_.store(info_.not_after_unix, std::memory_order_relaxed);
}

ServerContext::~ServerContext() { SSL_CTX_free(ctx_); }

bool ServerContext::reload(std::string& error) {
  SSL_CTX* fresh = build(error);
  if (!fresh) return false;
  X509* cert = SSL_CTX_get0_certificate(fresh);
  CertificateInfo info{toUnix(X509_get0_notAfter(cert)), subjectOf(cert)};
  SSL_CTX* old = nullptr;
  {
    std::lock_guard lock(ctx_mutex_);
    old = ctx_;
    ctx_ = fresh;
    info_ = info;
    not_after_.store(info.not_after_unix, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // Acceptors and open connections hold their own references to the old generation.
  SSL_CTX_free(old);
  return true;
}

CertificateInfo ServerContext::certificate() const {
  std::lock_guard lock(ctx_mutex_);
  return info_;
}

SSL_CTX* ServerContext::acquire(uint64_t& generation) noexcept {
  std::lock_guard lock(ctx_mutex_);
  SSL_CTX_up_ref(ctx_);
  generation = generation_.load(std::memory_order_relaxed);
  return ctx_;
}

SSL_CTX* ServerContext::build(std::string& error) {
  BioPtr cert_bio = openFile(options_.cert_file, "certificate", error);
  if (!cert_bio) return nullptr;
  X509Ptr cert(PEM_read_bio_X509_AUX(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    error = "no PEM certificate in " + options_.cert_file + " (" + opensslError() + ")";
    return nullptr;
  }
  // A certificate outside its validity period makes every client refuse the handshake: say so
  // at start-up (or at reload) rather than serve handshakes that all fail.
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    error = "the TLS certificate in " + options_.cert_file + " (" + subjectOf(cert.get()) +
            ") expired on " + formatTime(X509_get0_notAfter(cert.get()));
    return nullptr;
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
    error = "the TLS certificate in " + options_.cert_file + " (" + subjectOf(cert.get()) +
            ") is not valid before " + formatTime(X509_get0_notBefore(cert.get()));
    return nullptr;
  }
  BioPtr key_bio = openFile(options_.key_file, "key", error);
  if (!key_bio) return nullptr;
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    error = "no PEM private key in " + options_.key_file + " (" + opensslError() + ")";
    return nullptr;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    error = "the private key in " + options_.key_file + " does not match the certificate in " +
            options_.cert_file + " (" + subjectOf(cert.get()) + ")";
    return nullptr;
  }

  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    error = "SSL_CTX_new failed: " + opensslError();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                             SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // RELEASE_BUFFERS: the 16.7 KiB read and write record buffers are freed as soon as they are
  // empty (OpenSSL's default keeps both for the SSL's lifetime). The SSL itself lives only
  // through the handshake: the record layer then runs without it.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // No read-ahead: OpenSSL must not read past the client's Finished, so that the records
  // after it stay in the socket for the session's own record layer (tls/session.cpp).
  SSL_CTX_set_read_ahead(c, 0);
  // The application traffic secrets reach the record layer through the key log hook.
  SSL_CTX_set_keylog_callback(c, detail::onKeylog);
  // Stateless tickets only: a server-side session cache would keep an SSL_SESSION per
  // client, the per-connection memory this design exists to avoid. One ticket per
  // handshake (OpenSSL's default is two) halves the ticket encryption work.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 1);
  SSL_CTX_set_timeout(c, static_cast<long>(options_.ticket_key_period.count()));
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_app_data(c, this);
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(c, &ServerContext::ticketKeyCallback) != 1 ||
      SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1 || SSL_CTX_set1_groups_list(c, kGroups) != 1) {
    error = "TLS context configuration failed: " + opensslError();
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(c, selectAlpn, nullptr);

  if (SSL_CTX_use_certificate(c, cert.get()) != 1) {
    error = "the TLS certificate in " + options_.cert_file + " was refused: " + opensslError();
    return nullptr;
  }
  // The rest of the file is the chain, sent to clients after the leaf.
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(c, extra) != 1) {
      X509_free(extra);
      error = "a chain certificate in " + options_.cert_file + " was refused: " + opensslError();
      return nullptr;
    }
  }
  ERR_clear_error();  // the loop above ends on "no start line"
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    error = "the private key in " + options_.key_file + " was refused: " + opensslError();
    return nullptr;
  }
  return ctx.release();
}

void ServerContext::rotateLocked(int64_t now) noexcept {
  previous_key_ = current_key_;
  have_previous_ = period_end_ != 0;
  // RAND_bytes from the default DRBG only fails if it cannot be seeded: no safe way on.
  if (RAND_bytes(current_key_.name.data(), sizeof current_key_.name) != 1 ||
      RAND_bytes(current_key_.aes.data(), sizeof current_key_.aes) != 1 ||
      RAND_bytes(current_key_.hmac.data(), sizeof current_key_.hmac) != 1) {
    std::abort();
  }
  period_end_ = now + options_.ticket_key_period.count();
}

void ServerContext::rotateTicketKeys() noexcept {
  std::lock_guard lock(keys_mutex_);
  rotateLocked(monotonicSeconds());
}

bool ServerContext::ticketKeys(TicketKey& current, TicketKey& previous) noexcept {
  // A lock per full or resumed handshake, held to copy 160 bytes: noise next to the
  // handshake's own public-key work (tens of microseconds at least).
  std::lock_guard lock(keys_mutex_);
  const int64_t now = monotonicSeconds();
  if (now >= period_end_) {
    // No handshake for a whole period or more: the old key's tickets are past their lifetime.
    const bool skipped = now >= period_end_ + options_.ticket_key_period.count();
    rotateLocked(now);
    if (skipped) have_previous_ = false;
  }
  current = current_key_;
  previous = previous_key_;
  return have_previous_;
}

int ServerContext::ticketKeyCallback(SSL* ssl, unsigned char* name, unsigned char* iv,
                                     EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  auto* self = static_cast<ServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  TicketKey current, previous;
  const bool have_previous = self->ticketKeys(current, previous);
  const TicketKey* key = &current;
  // Accepted tickets are always renewed (2): clients use a TLS 1.3 ticket once (rfc8446
  // appendix C.4), and OpenSSL sends a resumed client a new one only when asked to.
  const int ok = encrypt ? 1 : 2;
  if (encrypt) {
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(name, current.name.data(), current.name.size());
    detail::onTicketSealed(ssl);  // one NewSessionTicket record: the record layer counts it
  } else if (std::memcmp(name, current.name.data(), current.name.size()) != 0) {
    if (!have_previous || std::memcmp(name, previous.name.data(), previous.name.size()) != 0) {
      return 0;  // unknown or expired key: a full handshake
    }
    key = &previous;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac.data()), key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int init =
      encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
              : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  return init == 1 ? ok : -1;
}

Acceptor::Acceptor(ServerContext& context) noexcept : context_(context) {
  ctx_ = context_.acquire(generation_);
}

Acceptor::~Acceptor() { SSL_CTX_free(ctx_); }

Session* Acceptor::open(int fd) noexcept {
  if (context_.generation() != generation_) {
    SSL_CTX* fresh = context_.acquire(generation_);
    SSL_CTX_free(ctx_);
    ctx_ = fresh;
  }
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) {
    ERR_clear_error();
    return nullptr;
  }
  return detail::create(ssl, fd);
}

}  // namespace mws::tls
