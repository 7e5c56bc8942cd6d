// The server's TLS configuration: one OpenSSL SSL_CTX (TLS 1.2 and 1.3 only, server cipher
// preference, ALPN http/1.1, stateless session tickets under rotated keys, released record
// buffers) built from a PEM certificate chain and key. Built and reloaded on the main thread
// (may throw at start-up, never after); reactors open connections through their own Acceptor,
// which costs one relaxed atomic load per connection and takes a lock only after a reload.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "mws/tls/session.h"

namespace mws::tls {

struct ContextOptions {
  std::string cert_file;  // PEM: the leaf certificate first, then the chain
  std::string key_file;   // PEM private key matching the leaf
  // How long a ticket key encrypts new tickets; it decrypts them one period longer, so a
  // ticket resumes for at least one period (its advertised lifetime) and at most two.
  std::chrono::seconds ticket_key_period{std::chrono::hours(1)};
};

// What the operator and /metrics want to know about the certificate in use.
struct CertificateInfo {
  int64_t not_after_unix = 0;  // expiry, seconds since the epoch
  std::string subject;         // one line, e.g. "CN=localhost"
};

class ServerContext {
 public:
  // Loads and checks the pair; throws std::runtime_error naming the file and the problem
  // (unreadable, not PEM, expired, not yet valid, key does not match the certificate).
  explicit ServerContext(ContextOptions options);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // Reads the same files again (SIGHUP). On success new handshakes use the new pair and
  // connections already open keep theirs; on failure the current pair stays and `error`
  // says why. Main thread only (serialised against itself, not against reactors: they
  // never block on it).
  bool reload(std::string& error);

  // Expiry of the certificate in use: readable from any thread.
  int64_t notAfterUnix() const noexcept { return not_after_.load(std::memory_order_relaxed); }
  CertificateInfo certificate() const;

  // Starts the next ticket-key period now (tests; production rotates by the clock).
  void rotateTicketKeys() noexcept;

  // For Acceptor: the generation in use (bumped by every successful reload), and a new
  // reference to the current SSL_CTX together with its generation.
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  SSL_CTX* acquire(uint64_t& generation) noexcept;

 private:
  struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
  };
  static int ticketKeyCallback(SSL* ssl, unsigned char* name, unsigned char* iv,
                               EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt);
  SSL_CTX* build(std::string& error);  // a new SSL_CTX with the files' pair, or nullptr
  bool ticketKeys(TicketKey& current, TicketKey& previous) noexcept;
  void rotateLocked(int64_t now) noexcept;

  const ContextOptions options_;
  mutable std::mutex ctx_mutex_;  // guards ctx_ and info_ (reload vs. an Acceptor catching up)
  SSL_CTX* ctx_ = nullptr;
  CertificateInfo info_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> not_after_{0};

  // Shared by every SSL_CTX generation, so tickets survive a certificate reload.
  std::mutex keys_mutex_;
  TicketKey current_key_, previous_key_;
  bool have_previous_ = false;
  int64_t period_end_ = 0;  // monotonic seconds at which current_key_ becomes previous_key_
};

// One reactor's view of the ServerContext: a reference to the SSL_CTX generation it opens
// connections with. Owned and used by one thread; noexcept.
class Acceptor {
 public:
  explicit Acceptor(ServerContext& context) noexcept;
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // A session for the connected, non-blocking socket `fd`, about to handshake, or nullptr if
  // OpenSSL could not allocate it. The caller owns it (tls::release).
  Session* open(int fd) noexcept;

 private:
  ServerContext& context_;
  SSL_CTX* ctx_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace mws::tls
