// One TLS connection on its non-blocking socket: the handshake through OpenSSL, then the
// record layer of tls/record.h with OpenSSL's SSL object freed. What a connection record
// holds is one pointer to its Session: ~240 bytes of keys while idle, no record buffers.
// Runs on the connection's reactor thread; returns codes, never throws, and leaves OpenSSL's
// per-thread error queue empty.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "mws/tls/record.h"

namespace mws::tls {

class Session;  // defined in session.cpp; made by Acceptor::open, freed by release()

enum class Io : uint8_t {
  kDone,       // handshake finished, or `into` is full (more may be waiting: read again)
  kWantRead,   // nothing more until the socket becomes readable (it is drained now)
  kWantWrite,  // handshake only: nothing more until the socket becomes writable
  kClosed,     // the peer closed: close_notify or EOF (after the handshake)
  kFailed,     // fatal: `failure` says why; sealClose() has the alert to send, if any
};

// Why a TLS connection failed. The server counts them by name; kTimeout is its own (the
// handshake timeout covers the TLS handshake) and never comes from these functions.
enum class Failure : uint8_t {
  kNone,
  kPlainHttp,       // an HTTP request on the TLS port (the peer speaks no TLS: no alert)
  kVersion,         // below TLS 1.2, or no common version: protocol_version alert sent
  kNoSharedCipher,  // no common cipher suite, group or signature scheme: handshake_failure
  kPeerAlert,       // the peer sent a fatal alert (e.g. it does not trust the certificate)
  kMalformed,       // not TLS, a broken message or a record that fails to decrypt
  kEof,             // the peer closed before the handshake finished
  kReset,           // the socket failed (ECONNRESET, EPIPE, ...)
  kInternal,        // out of memory, an OpenSSL internal error, an unsupported suite
  kTimeout,         // the handshake took longer than the handshake timeout
};
inline constexpr size_t kFailureCount = 10;
std::string_view failureName(Failure failure) noexcept;

struct IoResult {
  Io status = Io::kDone;
  Failure failure = Failure::kNone;
  size_t bytes = 0;  // plaintext read, valid with every status: consume it first
};

// Continues the handshake. kDone once finished: the keys are taken over and the SSL is freed;
// then the caller must read() at once (the client's first records may already be waiting,
// and their edge is spent).
IoResult handshake(Session& s) noexcept;

// `into` must hold at least kReadRoom bytes.
inline constexpr size_t kReadRoom = 2 * kMaxRecordBytes;
// One recv into `into`, then every whole record in it opened; the plaintext ends up at the
// front of `into`. A record cut short stays in the session (a heap block only until the
// rest comes). `to_eof` after a hangup: no edge follows, so a short read is not taken as
// "drained". Status: kWantRead (drained), kDone (full: read again), kClosed, kFailed.
IoResult read(Session& s, std::span<uint8_t> into, bool to_eof = false) noexcept;

// Seals `plain` into records in `out` (a KeyUpdate first, if the peer asked for one).
// Whatever fits: returns the plaintext bytes taken and the record bytes produced.
struct Sealed {
  size_t consumed = 0;
  size_t produced = 0;
  bool ok = true;  // false: the cipher failed (internal error); close the connection
};
Sealed seal(Session& s, std::span<const uint8_t> plain, std::span<uint8_t> out) noexcept;
// Record bytes at most for `plain` bytes of plaintext in one seal() call.
size_t sealedBound(const Session& s, size_t plain) noexcept;

// The last record of a connection: the fatal alert behind a kFailed read, or close_notify.
// Returns its size (0 before the handshake finished: no keys, nothing to say).
inline constexpr size_t kCloseRecordBytes = 64;
size_t sealClose(Session& s, std::span<uint8_t> out) noexcept;

// Frees the session (and the SSL, during a handshake). The caller closes the descriptor.
void release(Session* s) noexcept;

enum class Version : uint8_t { kTls12, kTls13, kOther };
inline constexpr size_t kVersionCount = 3;
std::string_view versionName(Version version) noexcept;

struct HandshakeInfo {
  Version version = Version::kOther;
  bool resumed = false;  // a session ticket was accepted: no certificate, no signature
  bool alpn_http11 = false;
};
HandshakeInfo info(const Session& s) noexcept;
bool established(const Session& s) noexcept;  // the handshake has finished

// The caller's clock at accept (32-bit microseconds: wraps after 71 minutes, differences
// stay right), kept for the handshake duration histogram.
void setAcceptedMicros(Session& s, uint32_t micros) noexcept;
uint32_t acceptedMicros(const Session& s) noexcept;

// What an idle established session costs on the heap, malloc's chunk header included.
size_t idleSessionBytes() noexcept;

namespace detail {
// For the SSL_CTX callbacks set by ServerContext (context.cpp).
Session* create(SSL* ssl, int fd) noexcept;  // takes ownership of `ssl`
void onKeylog(const SSL* ssl, const char* line) noexcept;
void onTicketSealed(SSL* ssl) noexcept;
}  // namespace detail

}  // namespace mws::tls
