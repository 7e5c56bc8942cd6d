#include "mws/load/client_tls.h"

#include <openssl/err.h>

#include <cerrno>
#include <stdexcept>

namespace mws::load {

namespace {

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// The index under which each SSL_CTX keeps its ClientTls (for the new-session callback).
int contextIndex() noexcept {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

ClientTls::ClientTls(const TlsClientOptions& options) : options_(options) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw std::runtime_error("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
  // Record buffers only while a record is in flight: thousands of idle connections per
  // process would otherwise keep ~34 KiB each. PARTIAL_WRITE + MOVING_WRITE_BUFFER: a write
  // the socket cannot take whole resumes from the front of the pending queue, wherever the
  // queue's bytes have moved.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_protos(ctx_, kAlpnHttp11, sizeof kAlpnHttp11);
  if (options_.insecure) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    const bool loaded =
        options_.ca_file.empty()
            ? SSL_CTX_set_default_verify_paths(ctx_) == 1
            : SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      SSL_CTX_free(ctx_);
      ERR_clear_error();
      throw std::runtime_error(
          "cannot load trusted certificates from " +
          (options_.ca_file.empty() ? std::string("the system store") : options_.ca_file));
    }
  }
  // Sessions reach us through the callback only (no internal cache: nothing per connection).
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_set_ex_data(ctx_, contextIndex(), this);
  if (options_.resume) SSL_CTX_sess_set_new_cb(ctx_, &ClientTls::onNewSession);
}

ClientTls::~ClientTls() {
  SSL_SESSION_free(newest_);
  SSL_CTX_free(ctx_);
}

int ClientTls::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<ClientTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), contextIndex()));
  SSL_SESSION_free(self->newest_);
  self->newest_ = session;
  return 1;  // we keep the reference OpenSSL handed us
}

SSL* ClientTls::open(int fd) noexcept {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  if (!options_.server_name.empty()) {
    // SNI (the macro hides an old-style cast) and the name the certificate must match.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(options_.server_name.c_str()));
    if (!options_.insecure) SSL_set1_host(ssl, options_.server_name.c_str());
  }
  if (options_.resume && newest_ && SSL_SESSION_is_resumable(newest_)) {
    SSL_set_session(ssl, newest_);
  }
  return ssl;
}

TlsStep ClientTls::handshake(SSL* ssl, int* err) noexcept {
  const int ret = SSL_do_handshake(ssl);
  if (ret == 1) return TlsStep::kDone;
  const int saved_errno = errno;
  const int code = SSL_get_error(ssl, ret);
  ERR_clear_error();
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return TlsStep::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsStep::kWantWrite;
    case SSL_ERROR_SYSCALL:
      *err = saved_errno == 0 ? ECONNRESET : saved_errno;
      return TlsStep::kFailed;
    default:
      *err = 0;
      return TlsStep::kFailed;
  }
}

ssize_t ClientTls::read(SSL* ssl, uint8_t* buf, size_t len) noexcept {
  size_t got = 0;
  const int ret = SSL_read_ex(ssl, buf, len, &got);
  if (ret == 1) return static_cast<ssize_t>(got);
  const int saved_errno = errno;
  const int code = SSL_get_error(ssl, ret);
  ERR_clear_error();
  switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // a write pending inside OpenSSL: EPOLLOUT brings us back
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      if (saved_errno == 0) return 0;  // EOF without close_notify: closed all the same
      errno = saved_errno;
      return -1;
    default:
      errno = EPROTO;
      return -1;
  }
}

void ClientTls::close(SSL* ssl) noexcept {
  if (!ssl) return;
  // An SSL freed without close_notify marks its session not resumable.
  if (SSL_is_init_finished(ssl)) (void)SSL_shutdown(ssl);
  ERR_clear_error();
  SSL_free(ssl);
}

bool tlsSendOrQueue(SSL* ssl, std::unique_ptr<PendingOutput>& pending, const uint8_t* data,
                    size_t len) noexcept {
  if (pending) {  // keep order behind what is already queued
    pending->bytes.insert(pending->bytes.end(), data, data + len);
    return true;
  }
  size_t done = 0;
  while (done < len) {
    size_t n = 0;
    if (SSL_write_ex(ssl, data + done, len - done, &n) == 1) {
      done += n;
      continue;
    }
    const int code = SSL_get_error(ssl, 0);
    ERR_clear_error();
    if (code != SSL_ERROR_WANT_WRITE && code != SSL_ERROR_WANT_READ) return false;
    pending = std::make_unique<PendingOutput>();
    pending->bytes.assign(data + done, data + len);
    return true;
  }
  return true;
}

bool tlsFlushPending(SSL* ssl, std::unique_ptr<PendingOutput>& pending) noexcept {
  if (!pending) return true;
  PendingOutput& out = *pending;
  while (out.sent < out.bytes.size()) {
    size_t n = 0;
    if (SSL_write_ex(ssl, out.bytes.data() + out.sent, out.bytes.size() - out.sent, &n) == 1) {
      out.sent += n;
      continue;
    }
    const int code = SSL_get_error(ssl, 0);
    ERR_clear_error();
    if (code != SSL_ERROR_WANT_WRITE && code != SSL_ERROR_WANT_READ) return false;
    if (out.sent > out.bytes.size() / 2) {  // drop the sent front so the queue stays small
      out.bytes.erase(out.bytes.begin(), out.bytes.begin() + static_cast<ptrdiff_t>(out.sent));
      out.sent = 0;
    }
    return true;
  }
  pending.reset();
  return true;
}

}  // namespace mws::load
