// tls::Session, first half (session.h): the handshake through OpenSSL, the classification
// of its failures, and the take-over of the negotiated keys once it is done, after which the
// SSL object is freed. The record layer half is session.cpp.
#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "mws/tls/session_pool.h"
#include "mws/tls/socket_bio.h"
#include "session_state.h"

namespace mws::tls {

namespace {

Failure classifySslError(unsigned long e) noexcept {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
    return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? Failure::kInternal : Failure::kMalformed;
  }
  const int reason = ERR_GET_REASON(e);
  switch (reason) {
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return Failure::kPlainHttp;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_UNKNOWN_PROTOCOL:
      return Failure::kVersion;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
      return Failure::kNoSharedCipher;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return Failure::kEof;
    case ERR_R_MALLOC_FAILURE:
    case ERR_R_INTERNAL_ERROR:
      return Failure::kInternal;
    default:
      // Alerts from the peer arrive as SSL_AD_REASON_OFFSET + the alert's code.
      if (reason > SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
        return Failure::kPeerAlert;
      }
      return Failure::kMalformed;
  }
}

// A failed SSL_do_handshake as a status; leaves the error queue empty.
IoResult handshakeError(const SSL* ssl, int ret) noexcept {
  const int saved_errno = errno;
  IoResult r{Io::kFailed, Failure::kInternal, 0};
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      return {Io::kWantRead, Failure::kNone, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Io::kWantWrite, Failure::kNone, 0};
    case SSL_ERROR_ZERO_RETURN:
      r.failure = Failure::kEof;
      break;
    case SSL_ERROR_SYSCALL:
      r.failure = saved_errno == 0 ? Failure::kEof : Failure::kReset;
      break;
    case SSL_ERROR_SSL:
      r.failure = classifySslError(ERR_peek_error());
      break;
    default:
      break;
  }
  ERR_clear_error();
  return r;
}

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The AEAD of a negotiated suite (only AEAD suites are configured), by IANA id.
bool aeadOf(const SSL_CIPHER* cipher, Aead& aead, bool& sha384) noexcept {
  switch (SSL_CIPHER_get_protocol_id(cipher)) {
    case 0x1301:  // TLS_AES_128_GCM_SHA256
    case 0xC02B:  // ECDHE-ECDSA-AES128-GCM-SHA256
    case 0xC02F:  // ECDHE-RSA-AES128-GCM-SHA256
      aead = Aead::kAes128Gcm;
      sha384 = false;
      return true;
    case 0x1302:  // TLS_AES_256_GCM_SHA384
    case 0xC02C:  // ECDHE-ECDSA-AES256-GCM-SHA384
    case 0xC030:  // ECDHE-RSA-AES256-GCM-SHA384
      aead = Aead::kAes256Gcm;
      sha384 = true;
      return true;
    case 0x1303:  // TLS_CHACHA20_POLY1305_SHA256
    case 0xCCA9:  // ECDHE-ECDSA-CHACHA20-POLY1305
    case 0xCCA8:  // ECDHE-RSA-CHACHA20-POLY1305
      aead = Aead::kChaCha20Poly1305;
      sha384 = false;
      return true;
    default:
      return false;
  }
}

// The handshake is over: take the keys and let the SSL go.
bool takeOver(Session& s) noexcept {
  SSL* ssl = s.ssl;
  Aead aead;
  bool sha384;
  if (!aeadOf(SSL_get_current_cipher(ssl), aead, sha384)) return false;
  if (SSL_session_reused(ssl)) s.flags |= Session::kResumed;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn_len == 8) s.flags |= Session::kAlpnHttp11;
  bool ok = false;
  if (SSL_version(ssl) == TLS1_3_VERSION) {
    const size_t len = sha384 ? 48 : 32;
    const uint8_t need = Session::kHaveClientSecret | Session::kHaveServerSecret;
    if ((s.flags & need) == need) {
      uint8_t client[48], server[48];
      std::memcpy(client, s.keys.read.secret, len);
      std::memcpy(server, s.keys.write.secret, len);
      ok = deriveTls13(s.keys, aead, std::span(client, len), std::span(server, len));
      // Nothing of the client's was read under its application key (no read-ahead: OpenSSL
      // stopped at its Finished); ours protected the session tickets, one record each.
      s.keys.write.seq = s.tickets;
      OPENSSL_cleanse(client, sizeof client);
      OPENSSL_cleanse(server, sizeof server);
    }
  } else if (SSL_version(ssl) == TLS1_2_VERSION) {
    s.flags |= Session::kTls12;
    uint8_t master[48], client_random[32], server_random[32];
    const size_t master_len = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, 48);
    ok = master_len == 48 && SSL_get_client_random(ssl, client_random, 32) == 32 &&
         SSL_get_server_random(ssl, server_random, 32) == 32 &&
         deriveTls12(s.keys, aead, sha384, master, client_random, server_random);
    // Each side's Finished was the first record under the new keys.
    s.keys.read.seq = s.keys.write.seq = 1;
    OPENSSL_cleanse(master, sizeof master);
  }
  // Not SSL_shutdown: the connection goes on, without OpenSSL.
  SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl);
  ERR_clear_error();
  s.partial = nullptr;  // the union's other member from here on
  return ok;
}

}  // namespace

std::string_view failureName(Failure failure) noexcept {
  switch (failure) {
    case Failure::kNone:
      return "none";
    case Failure::kPlainHttp:
      return "plain_http";
    case Failure::kVersion:
      return "protocol_version";
    case Failure::kNoSharedCipher:
      return "no_shared_cipher";
    case Failure::kPeerAlert:
      return "peer_alert";
    case Failure::kMalformed:
      return "malformed";
    case Failure::kEof:
      return "eof";
    case Failure::kReset:
      return "reset";
    case Failure::kInternal:
      return "internal_error";
    case Failure::kTimeout:
      return "timeout";
  }
  return "?";
}

std::string_view versionName(Version version) noexcept {
  switch (version) {
    case Version::kTls12:
      return "TLSv1.2";
    case Version::kTls13:
      return "TLSv1.3";
    case Version::kOther:
      return "other";
  }
  return "?";
}

namespace detail {

Session* create(SSL* ssl, int fd) noexcept {
  BIO* bio = newSocketBio(fd);
  void* slot = allocateSessionSlot();
  auto* s = slot ? new (slot) Session : nullptr;
  if (!bio || !s) {
    BIO_free(bio);
    releaseSessionSlot(slot);
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);  // one BIO for both directions; the SSL owns it
  SSL_set_app_data(ssl, s);
  SSL_set_accept_state(ssl);
  s->ssl = ssl;
  s->fd = fd;
  return s;
}

void onKeylog(const SSL* ssl, const char* line) noexcept {
  // "LABEL <client random, 64 hex> <secret, hex>": the application traffic secrets are the
  // two the record layer needs (rfc8446#section-7.1); OpenSSL has no other public way out.
  auto* s = static_cast<Session*>(SSL_get_app_data(ssl));
  if (!s) return;
  uint8_t* dest = nullptr;
  uint8_t bit = 0;
  if (std::strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
    dest = s->keys.read.secret;
    bit = Session::kHaveClientSecret;
  } else if (std::strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
    dest = s->keys.write.secret;
    bit = Session::kHaveServerSecret;
  } else {
    return;
  }
  const char* hex = std::strchr(line + 24, ' ');
  if (!hex) return;
  ++hex;
  size_t n = 0;
  while (n < sizeof s->keys.read.secret && hex[2 * n] && hex[2 * n + 1]) {
    const int hi = hexValue(hex[2 * n]), lo = hexValue(hex[2 * n + 1]);
    if (hi < 0 || lo < 0) return;
    dest[n++] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (n == 32 || n == 48) s->flags |= bit;
}

void onTicketSealed(SSL* ssl) noexcept {
  auto* s = static_cast<Session*>(SSL_get_app_data(ssl));
  if (s && SSL_version(ssl) == TLS1_3_VERSION) ++s->tickets;
}

}  // namespace detail

IoResult handshake(Session& s) noexcept {
  if (s.state != Session::State::kHandshaking) {
    return {s.state == Session::State::kFailed ? Io::kFailed : Io::kDone, Failure::kNone, 0};
  }
  const int ret = SSL_do_handshake(s.ssl);
  if (ret != 1) {
    const IoResult r = handshakeError(s.ssl, ret);
    if (r.status == Io::kFailed) s.state = Session::State::kFailed;
    return r;
  }
  if (!takeOver(s)) {
    s.state = Session::State::kFailed;
    return {Io::kFailed, Failure::kInternal, 0};
  }
  s.state = Session::State::kOpen;
  s.flags |= Session::kEstablished;
  return {};
}

}  // namespace mws::tls
