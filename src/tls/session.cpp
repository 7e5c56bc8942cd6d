// tls::Session, second half (session.h): the record layer of an established session (read,
// seal, close, release). The handshake half is handshake.cpp.
#include "mws/tls/session.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "mws/base/check.h"
#include "mws/tls/session_pool.h"
#include "session_state.h"

namespace mws::tls {

namespace {

IoResult fail(Session& s, IoResult r, Failure failure, Alert alert) noexcept {
  s.state = Session::State::kFailed;
  s.alert = alert;
  r.status = Io::kFailed;
  r.failure = failure;
  return r;
}

// Post-handshake handshake messages (rfc8446#section-4.6): only KeyUpdate is acceptable from
// a client. Each must be whole within its record (a KeyUpdate is 5 bytes; fragmenting it is
// legal but no client does, and it is refused with decode_error).
bool onHandshakeRecord(Session& s, std::span<const uint8_t> msgs, Alert& alert) noexcept {
  if (!s.keys.tls13) {
    alert = Alert::kUnexpectedMessage;  // TLS 1.2: renegotiation, which is off
    return false;
  }
  while (!msgs.empty()) {
    if (msgs.size() < 4) {
      alert = Alert::kDecodeError;
      return false;
    }
    const size_t len = (size_t{msgs[1]} << 16) | (size_t{msgs[2]} << 8) | msgs[3];
    if (msgs[0] != 24 /* key_update */) {
      alert = Alert::kUnexpectedMessage;
      return false;
    }
    if (len != 1 || msgs.size() < 5 || msgs[4] > 1) {
      alert = Alert::kDecodeError;
      return false;
    }
    if (!updateTls13(s.keys.read, s.keys.aead)) {
      alert = Alert::kInternalError;
      return false;
    }
    if (msgs[4] == 1) s.flags |= Session::kKeyUpdateDue;  // update_requested
    msgs = msgs.subspan(5);
  }
  return true;
}

size_t sealAlertRecord(Session& s, uint8_t level, Alert alert, uint8_t* out) noexcept {
  const uint8_t body[2] = {level, static_cast<uint8_t>(alert)};
  return tls::seal(s.keys, ContentType::kAlert, body, out);
}

}  // namespace

IoResult read(Session& s, std::span<uint8_t> into, bool to_eof) noexcept {
  MWS_ASSERT(into.size() >= kReadRoom);
  IoResult r;
  if (s.state != Session::State::kOpen) {
    r.status = s.state == Session::State::kClosed ? Io::kClosed : Io::kFailed;
    return r;
  }
  size_t have = 0;
  if (s.partial) {
    std::memcpy(into.data(), s.partial, s.partial_len);
    have = s.partial_len;
    std::free(s.partial);
    s.partial = nullptr;
    s.partial_len = 0;
  }
  const size_t room = into.size() - have;
  ssize_t n;
  do {
    n = ::recv(s.fd, into.data() + have, room, 0);
  } while (n < 0 && errno == EINTR);
  bool eof = false;
  // A short read means the socket is empty for now: a new edge comes with new bytes. Not so
  // after a hangup (no edge follows): then only EOF ends it.
  r.status = Io::kWantRead;
  if (n > 0) {
    have += static_cast<size_t>(n);
    if (static_cast<size_t>(n) == room || to_eof) r.status = Io::kDone;
  } else if (n == 0) {
    eof = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    return fail(s, r, Failure::kReset, Alert::kCloseNotify);
  }

  size_t pos = 0;
  while (pos < have) {
    const std::span<uint8_t> rest = into.subspan(pos, have - pos);
    const size_t size = recordSize(rest);
    if (size > kMaxRecordBytes) return fail(s, r, Failure::kMalformed, Alert::kRecordOverflow);
    if (size == 0 || size > rest.size()) break;  // not whole yet
    const Opened o = open(s.keys, rest.first(size));
    if (!o.ok) return fail(s, r, Failure::kMalformed, o.error);
    pos += size;
    switch (o.type) {
      case ContentType::kApplicationData:
        std::memmove(into.data() + r.bytes, o.plain.data(), o.plain.size());
        r.bytes += o.plain.size();
        break;
      case ContentType::kAlert:
        if (o.plain.size() != 2) return fail(s, r, Failure::kMalformed, Alert::kDecodeError);
        if (o.plain[1] == static_cast<uint8_t>(Alert::kCloseNotify)) {
          s.state = Session::State::kClosed;  // whatever follows it is ignored
          r.status = Io::kClosed;
          return r;
        }
        // TLS 1.3 treats every other alert as fatal (rfc8446#section-6.2), except
        // user_canceled; TLS 1.2 warnings (level 1) go on.
        if (o.plain[0] == 2 || (s.keys.tls13 && o.plain[1] != 90)) {
          return fail(s, r, Failure::kPeerAlert, Alert::kCloseNotify);
        }
        break;
      case ContentType::kHandshake: {
        Alert alert;
        if (!onHandshakeRecord(s, o.plain, alert)) {
          return fail(s, r, Failure::kMalformed, alert);
        }
        break;
      }
      default:
        return fail(s, r, Failure::kMalformed, Alert::kUnexpectedMessage);
    }
  }
  if (pos < have) {
    if (eof) {  // a record cut off by EOF: the peer is gone all the same
      s.state = Session::State::kClosed;
      r.status = Io::kClosed;
      return r;
    }
    const size_t left = have - pos;
    s.partial = static_cast<uint8_t*>(std::malloc(left));
    if (!s.partial) return fail(s, r, Failure::kInternal, Alert::kInternalError);
    std::memcpy(s.partial, into.data() + pos, left);
    s.partial_len = static_cast<uint16_t>(left);
  }
  if (eof) {
    s.state = Session::State::kClosed;
    r.status = Io::kClosed;
  }
  return r;
}

size_t sealedBound(const Session& s, size_t plain) noexcept {
  const size_t records = (plain + kMaxPlaintextBytes - 1) / kMaxPlaintextBytes + 1;
  return plain + records * sealOverhead(s.keys) + 5 + sealOverhead(s.keys);  // + KeyUpdate
}

Sealed seal(Session& s, std::span<const uint8_t> plain, std::span<uint8_t> out) noexcept {
  Sealed r;
  const size_t overhead = sealOverhead(s.keys);
  if (s.flags & Session::kKeyUpdateDue) {
    // Our KeyUpdate (update_not_requested) under the old key, then the new key
    // (rfc8446#section-4.6.3).
    static constexpr uint8_t kKeyUpdate[5] = {24, 0, 0, 1, 0};
    if (out.size() < sizeof kKeyUpdate + overhead) return r;
    const size_t n = tls::seal(s.keys, ContentType::kHandshake, kKeyUpdate, out.data());
    if (n == 0 || !updateTls13(s.keys.write, s.keys.aead)) {
      r.ok = false;
      return r;
    }
    s.flags &= static_cast<uint8_t>(~Session::kKeyUpdateDue);
    r.produced += n;
  }
  while (r.consumed < plain.size() && out.size() - r.produced > overhead) {
    size_t chunk = std::min(plain.size() - r.consumed, kMaxPlaintextBytes);
    chunk = std::min(chunk, out.size() - r.produced - overhead);
    const size_t n = tls::seal(s.keys, ContentType::kApplicationData,
                               plain.subspan(r.consumed, chunk), out.data() + r.produced);
    if (n == 0) {
      r.ok = false;
      return r;
    }
    r.consumed += chunk;
    r.produced += n;
  }
  return r;
}

size_t sealClose(Session& s, std::span<uint8_t> out) noexcept {
  if (!(s.flags & Session::kEstablished) || out.size() < kCloseRecordBytes) return 0;
  const bool fatal = s.alert != Alert::kCloseNotify;
  return sealAlertRecord(s, fatal ? 2 : 1, s.alert, out.data());
}

void release(Session* s) noexcept {
  if (!s) return;
  if (s->flags & Session::kEstablished) {
    std::free(s->partial);
  } else if (s->ssl) {
    SSL_free(s->ssl);
    ERR_clear_error();
  }
  OPENSSL_cleanse(&s->keys, sizeof s->keys);
  s->~Session();
  releaseSessionSlot(s);
}

HandshakeInfo info(const Session& s) noexcept {
  HandshakeInfo out;
  if (!(s.flags & Session::kEstablished)) return out;
  out.version = (s.flags & Session::kTls12) ? Version::kTls12 : Version::kTls13;
  out.resumed = (s.flags & Session::kResumed) != 0;
  out.alpn_http11 = (s.flags & Session::kAlpnHttp11) != 0;
  return out;
}

bool established(const Session& s) noexcept { return (s.flags & Session::kEstablished) != 0; }

void setAcceptedMicros(Session& s, uint32_t micros) noexcept { s.accepted_us = micros; }

uint32_t acceptedMicros(const Session& s) noexcept { return s.accepted_us; }

size_t idleSessionBytes() noexcept { return kSessionSlotBytes; }

}  // namespace mws::tls
