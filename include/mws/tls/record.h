// The TLS record layer after the handshake (rfc8446#section-5, rfc5246#section-6.2 with
// rfc5288/rfc7905 AEAD): sealing and opening application_data, alert and handshake records
// with the keys OpenSSL negotiated, so that the connection keeps ~200 bytes of key state
// instead of OpenSSL's ~14 KiB SSL object. What the kernel's kTLS does, in user space: the
// handshake stays OpenSSL's. Sans-I/O and allocation-free: callers hand in whole records and
// output room. Runs on any one thread at a time per state; each thread keeps its own cipher
// contexts (keys are set per record, never stored in them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mws::tls {

enum class Aead : uint8_t { kAes128Gcm, kAes256Gcm, kChaCha20Poly1305 };

enum class ContentType : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};

// Alert descriptions we send (rfc8446#section-6).
enum class Alert : uint8_t {
  kCloseNotify = 0,
  kUnexpectedMessage = 10,
  kBadRecordMac = 20,
  kRecordOverflow = 22,
  kDecodeError = 50,
  kProtocolVersion = 70,
  kInternalError = 80,
};

inline constexpr size_t kRecordHeaderBytes = 5;
inline constexpr size_t kMaxPlaintextBytes = 16384;  // 2^14 per record, both versions
inline constexpr size_t kTagBytes = 16;
// The largest record a peer may send us (TLS 1.3: 2^14 + 256 of ciphertext; TLS 1.2 AEAD
// with its explicit nonce fits under the same bound), header included.
inline constexpr size_t kMaxRecordBytes = kRecordHeaderBytes + kMaxPlaintextBytes + 256;

// One direction's protection: 104 bytes.
struct TrafficKeys {
  uint8_t key[32];     // 16 or 32 bytes used
  uint8_t iv[12];      // TLS 1.3 and ChaCha20: the nonce base; TLS 1.2 GCM: the 4-byte salt
  uint64_t seq;        // records protected so far (the implicit sequence number)
  uint8_t secret[48];  // TLS 1.3: the traffic secret, the root of the next KeyUpdate
};

struct RecordKeys {
  TrafficKeys read;   // client to server
  TrafficKeys write;  // server to client
  Aead aead;
  bool tls13;
};
static_assert(sizeof(RecordKeys) <= 216, "key state budget");

// Bytes a sealed record adds to its plaintext: header, TLS 1.3's inner content type, TLS 1.2
// GCM's explicit nonce, the tag.
size_t sealOverhead(const RecordKeys& keys) noexcept;

// TLS 1.3 (rfc8446#section-7.3): keys and IVs from the application traffic secrets, whose
// length is the suite's hash length (32 or 48). Sequence numbers start at the given values.
bool deriveTls13(RecordKeys& keys, Aead aead, std::span<const uint8_t> client_secret,
                 std::span<const uint8_t> server_secret) noexcept;
// A KeyUpdate (rfc8446#section-7.2) of one direction: next secret, key and IV; seq 0.
bool updateTls13(TrafficKeys& keys, Aead aead) noexcept;
// TLS 1.2 (rfc5246#section-6.3): the key block from the master secret and both randoms.
bool deriveTls12(RecordKeys& keys, Aead aead, bool sha384, std::span<const uint8_t> master,
                 std::span<const uint8_t> client_random,
                 std::span<const uint8_t> server_random) noexcept;

// Seals one record of `type` carrying `plain` (at most kMaxPlaintextBytes) into `out`, which
// must have room for plain.size() + sealOverhead(). Returns the record's size, 0 on failure.
size_t seal(RecordKeys& keys, ContentType type, std::span<const uint8_t> plain,
            uint8_t* out) noexcept;

struct Opened {
  ContentType type = ContentType::kApplicationData;  // the inner type (TLS 1.3)
  std::span<uint8_t> plain;                          // inside the record, decrypted in place
  Alert error = Alert::kCloseNotify;                 // set when !ok
  bool ok = false;
};

// The size of the record starting at `data` (header included) once its header is there;
// 0 if fewer than 5 bytes are.
size_t recordSize(std::span<const uint8_t> data) noexcept;

// Opens one whole record (header included) in place.
Opened open(RecordKeys& keys, std::span<uint8_t> record) noexcept;

}  // namespace mws::tls
