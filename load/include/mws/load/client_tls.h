// TLS for the load generator's connections (wss://): one client SSL_CTX per worker process
// (TLS 1.2-1.3, SNI, ALPN http/1.1, released record buffers), an SSL per connection driven by
// the worker's edge-triggered loop, and the newest session ticket kept so that later
// connections can resume (--tls-resume). Single-threaded; the constructor may throw (start-up:
// an unreadable --ca-file), nothing else does.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "mws/load/pending_output.h"

namespace mws::load {

struct TlsClientOptions {
  bool enabled = false;     // the URL is wss://
  bool insecure = false;    // accept any certificate (self-signed test pairs)
  std::string ca_file;      // else trust these PEM certificates (default: the system's)
  bool resume = false;      // offer the newest session ticket on each new connection
  std::string server_name;  // SNI and the name the certificate must carry
};

enum class TlsStep : uint8_t {
  kDone,
  kWantRead,
  kWantWrite,
  kFailed,  // see failureErrno(): 0 for a TLS failure (alert, certificate), else the socket's
};

class ClientTls {
 public:
  explicit ClientTls(const TlsClientOptions& options);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  // An SSL in connect state on `fd`, offering the newest session when resuming; nullptr if
  // OpenSSL could not allocate one.
  SSL* open(int fd) noexcept;
  // Continues the handshake. On kFailed, *err is the socket errno (0: a TLS-level failure).
  TlsStep handshake(SSL* ssl, int* err) noexcept;
  // Decrypted bytes: > 0; 0 when the server closed (close_notify or EOF); -1 with errno set
  // (EAGAIN: nothing more now; anything else: the connection is broken).
  ssize_t read(SSL* ssl, uint8_t* buf, size_t len) noexcept;
  // close_notify if the socket takes it now, then frees the SSL (the session stays usable).
  void close(SSL* ssl) noexcept;

  bool resumes() const noexcept { return options_.resume; }

 private:
  static int onNewSession(SSL* ssl, SSL_SESSION* session);

  TlsClientOptions options_;
  SSL_CTX* ctx_ = nullptr;
  SSL_SESSION* newest_ = nullptr;  // owned reference
};

// The plain path's sendOrQueue/flushPending over TLS: plaintext is queued, and what OpenSSL
// could not write is presented again, unchanged, from the front of the queue.
bool tlsSendOrQueue(SSL* ssl, std::unique_ptr<PendingOutput>& pending, const uint8_t* data,
                    size_t len) noexcept;
bool tlsFlushPending(SSL* ssl, std::unique_ptr<PendingOutput>& pending) noexcept;

}  // namespace mws::load
