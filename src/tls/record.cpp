#include "mws/tls/record.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>

namespace mws::tls {

namespace {

size_t keyBytes(Aead aead) noexcept { return aead == Aead::kAes128Gcm ? 16 : 32; }
size_t hashBytes(Aead aead) noexcept { return aead == Aead::kAes256Gcm ? 48 : 32; }
const char* hashName(Aead aead) noexcept { return aead == Aead::kAes256Gcm ? "SHA384" : "SHA256"; }
// TLS 1.2 GCM keeps a 4-byte implicit salt and sends 8 explicit nonce bytes (rfc5288#section-3).
bool explicitNonce(const RecordKeys& keys) noexcept {
  return !keys.tls13 && keys.aead != Aead::kChaCha20Poly1305;
}

void putBe64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// One cipher context per AEAD and direction, per thread: created once with the cipher, then
// given each record's key and nonce. A per-connection context would keep ~1.1 KiB per
// direction (960 B of AES-GCM state + 184 B of EVP_CIPHER_CTX, measured with OpenSSL 3.0.19);
// here the connection keeps its 16-32 key bytes. Setting a key costs the AES key schedule
// and GHASH table (~0.2 us a record pair at 32 B, measured): skipped when the context
// already holds that very key (compared byte for byte), as for a run of records of one
// connection, or an echo (reads and writes use different contexts).
class ThreadCiphers {
 public:
  struct Slot {
    EVP_CIPHER_CTX* ctx = nullptr;
    uint8_t key[32] = {};
    bool keyed = false;
  };
  ~ThreadCiphers() {
    for (auto& pair : slots_) {
      for (Slot& slot : pair) {
        EVP_CIPHER_CTX_free(slot.ctx);
        OPENSSL_cleanse(slot.key, sizeof slot.key);
      }
    }
  }
  Slot* get(Aead aead, bool encrypt) noexcept {
    Slot& slot = slots_[static_cast<size_t>(aead)][encrypt ? 1 : 0];
    if (slot.ctx) return &slot;
    static constexpr const char* kNames[] = {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"};
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, kNames[static_cast<size_t>(aead)], nullptr);
    EVP_CIPHER_CTX* fresh = EVP_CIPHER_CTX_new();
    if (!cipher || !fresh ||
        EVP_CipherInit_ex(fresh, cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
      EVP_CIPHER_free(cipher);
      EVP_CIPHER_CTX_free(fresh);
      return nullptr;
    }
    EVP_CIPHER_free(cipher);  // the context keeps its own reference
    slot.ctx = fresh;
    return &slot;
  }

 private:
  Slot slots_[3][2];
};

thread_local ThreadCiphers t_ciphers;

// The per-record nonce: TLS 1.3 and ChaCha20 XOR the sequence number into the IV's last 8
// bytes (rfc8446#section-5.3, rfc7905#section-2); TLS 1.2 GCM is salt + explicit part.
void makeNonce(const RecordKeys& keys, const TrafficKeys& dir, const uint8_t* explicit_part,
               uint8_t nonce[12]) noexcept {
  if (explicitNonce(keys)) {
    std::memcpy(nonce, dir.iv, 4);
    std::memcpy(nonce + 4, explicit_part, 8);
    return;
  }
  std::memcpy(nonce, dir.iv, 12);
  uint8_t seq[8];
  putBe64(seq, dir.seq);
  for (int i = 0; i < 8; ++i) nonce[4 + i] ^= seq[i];
}

// AEAD over `data` in place; with encrypt the tag is written to `tag`, else checked against it.
bool aead(Aead kind, const TrafficKeys& dir, const uint8_t nonce[12], std::span<const uint8_t> ad,
          std::span<uint8_t> data, uint8_t* tag, bool encrypt) noexcept {
  ThreadCiphers::Slot* slot = t_ciphers.get(kind, encrypt);
  if (!slot) return false;
  EVP_CIPHER_CTX* c = slot->ctx;
  const size_t key_len = keyBytes(kind);
  const bool same_key = slot->keyed && CRYPTO_memcmp(slot->key, dir.key, key_len) == 0;
  slot->keyed = false;  // until the init below succeeds
  int len = 0;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, same_key ? nullptr : dir.key, nonce,
                        encrypt ? 1 : 0) != 1) {
    return false;
  }
  if (!same_key) std::memcpy(slot->key, dir.key, key_len);
  slot->keyed = true;
  if (EVP_CipherUpdate(c, nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1) return false;
  if (!data.empty() &&
      EVP_CipherUpdate(c, data.data(), &len, data.data(), static_cast<int>(data.size())) != 1) {
    return false;
  }
  if (!encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) != 1) return false;
  if (EVP_CipherFinal_ex(c, data.data() + data.size(), &len) != 1) return false;
  return !encrypt || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kTagBytes, tag) == 1;
}

bool kdf(const char* name, const char* digest, std::span<const uint8_t> secret,
         std::span<const uint8_t> info_or_seed, std::span<uint8_t> out) noexcept {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, name, nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  const bool hkdf = std::strcmp(name, "HKDF") == 0;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0);
  params[n++] =
      OSSL_PARAM_construct_octet_string(hkdf ? OSSL_KDF_PARAM_KEY : OSSL_KDF_PARAM_SECRET,
                                        const_cast<uint8_t*>(secret.data()), secret.size());
  params[n++] = OSSL_PARAM_construct_octet_string(hkdf ? OSSL_KDF_PARAM_INFO : OSSL_KDF_PARAM_SEED,
                                                  const_cast<uint8_t*>(info_or_seed.data()),
                                                  info_or_seed.size());
  if (hkdf) params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n] = OSSL_PARAM_construct_end();
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

// HKDF-Expand-Label(secret, label, "", length) (rfc8446#section-7.1).
bool expandLabel(Aead aead, std::span<const uint8_t> secret, const char* label,
                 std::span<uint8_t> out) noexcept {
  uint8_t info[2 + 1 + 255 + 1];
  const size_t label_len = std::strlen(label);
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(out.size() >> 8);
  info[n++] = static_cast<uint8_t>(out.size());
  info[n++] = static_cast<uint8_t>(6 + label_len);
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = 0;  // empty context
  return kdf("HKDF", hashName(aead), secret, std::span<const uint8_t>(info, n), out);
}

bool keysFromSecret(TrafficKeys& dir, Aead aead) noexcept {
  const std::span<const uint8_t> secret(dir.secret, hashBytes(aead));
  dir.seq = 0;
  return expandLabel(aead, secret, "key", std::span<uint8_t>(dir.key, keyBytes(aead))) &&
         expandLabel(aead, secret, "iv", std::span<uint8_t>(dir.iv, 12));
}

}  // namespace

size_t sealOverhead(const RecordKeys& keys) noexcept {
  return kRecordHeaderBytes + kTagBytes + (keys.tls13 ? 1 : 0) + (explicitNonce(keys) ? 8 : 0);
}

bool deriveTls13(RecordKeys& keys, Aead aead, std::span<const uint8_t> client_secret,
                 std::span<const uint8_t> server_secret) noexcept {
  if (client_secret.size() != hashBytes(aead) || server_secret.size() != hashBytes(aead)) {
    return false;
  }
  keys.aead = aead;
  keys.tls13 = true;
  std::memcpy(keys.read.secret, client_secret.data(), client_secret.size());
  std::memcpy(keys.write.secret, server_secret.data(), server_secret.size());
  return keysFromSecret(keys.read, aead) && keysFromSecret(keys.write, aead);
}

bool updateTls13(TrafficKeys& dir, Aead aead) noexcept {
  uint8_t next[48];
  const size_t len = hashBytes(aead);
  if (!expandLabel(aead, std::span<const uint8_t>(dir.secret, len), "traffic upd",
                   std::span<uint8_t>(next, len))) {
    return false;
  }
  std::memcpy(dir.secret, next, len);
  return keysFromSecret(dir, aead);
}

bool deriveTls12(RecordKeys& keys, Aead aead, bool sha384, std::span<const uint8_t> master,
                 std::span<const uint8_t> client_random,
                 std::span<const uint8_t> server_random) noexcept {
  if (client_random.size() != 32 || server_random.size() != 32) return false;
  keys.aead = aead;
  keys.tls13 = false;
  // key_block = PRF(master, "key expansion", server_random + client_random): client key,
  // server key, client IV, server IV (AEAD suites have no MAC keys).
  uint8_t seed[13 + 64];
  std::memcpy(seed, "key expansion", 13);
  std::memcpy(seed + 13, server_random.data(), 32);
  std::memcpy(seed + 45, client_random.data(), 32);
  const size_t key_len = keyBytes(aead);
  const size_t iv_len = aead == Aead::kChaCha20Poly1305 ? 12 : 4;
  uint8_t block[2 * 32 + 2 * 12];
  const size_t block_len = 2 * key_len + 2 * iv_len;
  if (!kdf("TLS1-PRF", sha384 ? "SHA384" : "SHA256", master, seed,
           std::span<uint8_t>(block, block_len))) {
    return false;
  }
  std::memcpy(keys.read.key, block, key_len);
  std::memcpy(keys.write.key, block + key_len, key_len);
  std::memcpy(keys.read.iv, block + 2 * key_len, iv_len);
  std::memcpy(keys.write.iv, block + 2 * key_len + iv_len, iv_len);
  keys.read.seq = keys.write.seq = 0;
  return true;
}

size_t seal(RecordKeys& keys, ContentType type, std::span<const uint8_t> plain,
            uint8_t* out) noexcept {
  if (plain.size() > kMaxPlaintextBytes) return 0;
  const size_t body = plain.size() + sealOverhead(keys) - kRecordHeaderBytes;
  uint8_t* header = out;
  header[0] =
      keys.tls13 ? static_cast<uint8_t>(ContentType::kApplicationData) : static_cast<uint8_t>(type);
  header[1] = 3;
  header[2] = 3;
  header[3] = static_cast<uint8_t>(body >> 8);
  header[4] = static_cast<uint8_t>(body);
  uint8_t* payload = out + kRecordHeaderBytes;
  uint8_t nonce[12];
  uint8_t ad[13];
  std::span<const uint8_t> aad;
  if (keys.tls13) {
    aad = std::span<const uint8_t>(header, kRecordHeaderBytes);
  } else {
    // additional_data = seq_num + type + version + length (rfc5246#section-6.2.3.3)
    putBe64(ad, keys.write.seq);
    ad[8] = static_cast<uint8_t>(type);
    ad[9] = 3;
    ad[10] = 3;
    ad[11] = static_cast<uint8_t>(plain.size() >> 8);
    ad[12] = static_cast<uint8_t>(plain.size());
    aad = ad;
    if (explicitNonce(keys)) {
      putBe64(payload, keys.write.seq);  // unique per key: the sequence number itself
      makeNonce(keys, keys.write, payload, nonce);
      payload += 8;
    }
  }
  if (keys.tls13 || !explicitNonce(keys)) makeNonce(keys, keys.write, nullptr, nonce);
  if (!plain.empty() && payload != plain.data()) std::memmove(payload, plain.data(), plain.size());
  size_t inner = plain.size();
  if (keys.tls13) payload[inner++] = static_cast<uint8_t>(type);  // TLSInnerPlaintext, no padding
  if (!aead(keys.aead, keys.write, nonce, aad, std::span<uint8_t>(payload, inner), payload + inner,
            true)) {
    return 0;
  }
  ++keys.write.seq;
  return kRecordHeaderBytes + body;
}

size_t recordSize(std::span<const uint8_t> data) noexcept {
  if (data.size() < kRecordHeaderBytes) return 0;
  return kRecordHeaderBytes + ((size_t{data[3]} << 8) | data[4]);
}

Opened open(RecordKeys& keys, std::span<uint8_t> record) noexcept {
  Opened r;
  const uint8_t outer = record[0];
  size_t body = record.size() - kRecordHeaderBytes;
  uint8_t* payload = record.data() + kRecordHeaderBytes;
  const size_t min_body = kTagBytes + (explicitNonce(keys) ? 8 : 0) + (keys.tls13 ? 1 : 0);
  if (body > kMaxPlaintextBytes + 256) {
    r.error = Alert::kRecordOverflow;
    return r;
  }
  // After the handshake TLS 1.3 protects everything as application_data (rfc8446#section-5);
  // TLS 1.2 keeps the real type outside, and renegotiation is off, so no handshake either.
  const bool type_ok = keys.tls13 ? outer == static_cast<uint8_t>(ContentType::kApplicationData)
                                  : outer == static_cast<uint8_t>(ContentType::kApplicationData) ||
                                        outer == static_cast<uint8_t>(ContentType::kAlert);
  if (!type_ok) {
    r.error = Alert::kUnexpectedMessage;
    return r;
  }
  // TLS 1.3 authenticates the header (it is the additional data); TLS 1.2 does not, and its
  // record version must be the negotiated one (rfc5246#section-6.2.1).
  if (!keys.tls13 && (record[1] != 3 || record[2] != 3)) {
    r.error = Alert::kProtocolVersion;
    return r;
  }
  if (body < min_body) {
    r.error = Alert::kDecodeError;
    return r;
  }
  uint8_t nonce[12];
  uint8_t ad[13];
  std::span<const uint8_t> aad;
  size_t text = body - kTagBytes;
  if (keys.tls13) {
    aad = std::span<const uint8_t>(record.data(), kRecordHeaderBytes);
    makeNonce(keys, keys.read, nullptr, nonce);
  } else {
    if (explicitNonce(keys)) {
      makeNonce(keys, keys.read, payload, nonce);
      payload += 8;
      text -= 8;
    } else {
      makeNonce(keys, keys.read, nullptr, nonce);
    }
    putBe64(ad, keys.read.seq);
    ad[8] = outer;
    ad[9] = 3;
    ad[10] = 3;
    ad[11] = static_cast<uint8_t>(text >> 8);
    ad[12] = static_cast<uint8_t>(text);
    aad = ad;
  }
  if (!aead(keys.aead, keys.read, nonce, aad, std::span<uint8_t>(payload, text), payload + text,
            false)) {
    r.error = Alert::kBadRecordMac;
    return r;
  }
  ++keys.read.seq;
  r.type = static_cast<ContentType>(outer);
  if (keys.tls13) {
    // The content type is the last non-zero byte; zeros after it are padding.
    while (text > 0 && payload[text - 1] == 0) --text;
    if (text == 0) {
      r.error = Alert::kUnexpectedMessage;
      return r;
    }
    r.type = static_cast<ContentType>(payload[--text]);
  }
  if (text > kMaxPlaintextBytes) {
    r.error = Alert::kRecordOverflow;
    return r;
  }
  r.plain = std::span<uint8_t>(payload, text);
  r.ok = true;
  return r;
}

}  // namespace mws::tls
