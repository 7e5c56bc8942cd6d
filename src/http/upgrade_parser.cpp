#include "mws/http/upgrade_parser.h"

#include <strings.h>

namespace mws::http {

namespace {

UpgradeParser& self(llhttp_t* p) { return *static_cast<UpgradeParser*>(p->data); }

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Line breaks llhttp 8.1.0 lets through and RFC 9112 does not. Returns the index of the first
// byte of `p` that makes one, or `len`; `prev` carries the byte before `p` across feeds.
//  - A bare CR: llhttp's loose mode ends the header block at a CR followed by any byte (the
//    request smuggling of CVE-2023-30589, fixed in later llhttp releases), so
//    "...\n\rHost: ..." would end the request early and the rest be read as WebSocket frames.
//    2.2: "A recipient of such a bare CR MUST consider that element to be invalid or replace
//    each bare CR with SP"; we reject it (400).
//  - Obsolete line folding (5.2: obs-fold = OWS CRLF RWS), a line that begins with a space
//    or tab: "A server that receives an obs-fold in a request message ... MUST either reject
//    the message by sending a 400 (Bad Request) ... or replace each received obs-fold with one
//    or more SP". llhttp splices the folded line into the value; we reject. The same test
//    catches whitespace between the request line and the first header (2.2 allows rejecting).
size_t findBadLineBreak(const char* p, size_t len, char& prev) noexcept {
  for (size_t i = 0; i < len; ++i) {
    const char c = p[i];
    if ((prev == '\r' && c != '\n') || (prev == '\n' && (c == ' ' || c == '\t'))) return i;
    prev = c;
  }
  return len;
}

}  // namespace

// llhttp requires the settings to outlive every parser that uses them: one static object.
const llhttp_settings_t& UpgradeParser::settings() noexcept {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = &UpgradeParser::onUrl;
    s.on_url_complete = &UpgradeParser::onUrlComplete;
    s.on_header_field = &UpgradeParser::onHeaderField;
    s.on_header_field_complete = &UpgradeParser::onHeaderFieldComplete;
    s.on_header_value = &UpgradeParser::onHeaderValue;
    s.on_header_value_complete = &UpgradeParser::onHeaderValueComplete;
    s.on_headers_complete = &UpgradeParser::onHeadersComplete;
    return s;
  }();
  return kSettings;
}

UpgradeParser::UpgradeParser(size_t max_header_bytes) noexcept
    : max_header_bytes_(max_header_bytes) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  // llhttp v8 refuses versions other than 0.9, 1.0, 1.1 and 2.0 as malformed, and lets
  // "HTTP/2.0" through as if it were HTTP/1.x. Any DIGIT "." DIGIT is well-formed (RFC 9112
  // 2.3); which versions we serve is decided in validate(): 505 for a major version other
  // than 1, HTTP/1.x above 1.1 treated as 1.1 (RFC 9110 2.5). v8.1 checks the flag but has
  // no setter for it.
  parser_.lenient_flags |= LENIENT_VERSION;
  parser_.data = this;
}

int UpgradeParser::onUrl(llhttp_t* p, const char* at, size_t len) {
  UpgradeParser& s = self(p);
  Slot<512>& target = s.request_.target;
  const size_t room = sizeof(target.bytes) - target.length;
  target.append(at, len);
  if (!target.overflow) return 0;
  // Longer than we serve: stop at the first byte that did not fit, wherever the reads were
  // cut; validate() answers 414 (RFC 9110 15.5.15) without waiting for the header block.
  s.overflow_at_ = at + room;
  return HPE_USER;
}

int UpgradeParser::onUrlComplete(llhttp_t* p) {
  self(p).url_done_ = true;
  return 0;
}

int UpgradeParser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  self(p).url_done_ = true;
  self(p).field_name_.append(at, len);
  return 0;
}

int UpgradeParser::onHeaderFieldComplete(llhttp_t* p) {
  UpgradeParser& s = self(p);
  const std::string_view name = s.field_name_.overflow ? std::string_view() : s.field_name_.view();
  Field f = Field::kOther;
  if (equalsIgnoreCase(name, "host")) {
    f = Field::kHost;
    s.request_.host_count++;
  } else if (equalsIgnoreCase(name, "upgrade")) {
    f = Field::kUpgrade;
  } else if (equalsIgnoreCase(name, "connection")) {
    f = Field::kConnection;
  } else if (equalsIgnoreCase(name, "sec-websocket-key")) {
    f = Field::kKey;
    s.request_.key_count++;
  } else if (equalsIgnoreCase(name, "sec-websocket-version")) {
    f = Field::kVersion;
  } else if (equalsIgnoreCase(name, "origin")) {
    f = Field::kOrigin;
  }
  s.field_ = f;
  s.field_name_.length = 0;
  s.field_name_.overflow = false;
  s.value_started_ = false;
  return 0;
}

int UpgradeParser::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  UpgradeParser& s = self(p);
  auto add = [&](auto& slot, bool list) {
    // A header repeated on several lines is one comma-separated list (RFC 9110 5.3).
    if (!s.value_started_ && list && slot.length > 0) slot.append(",", 1);
    slot.append(at, len);
  };
  UpgradeRequest& r = s.request_;
  switch (s.field_) {
    case Field::kUpgrade:
      add(r.upgrade, true);
      break;
    case Field::kConnection:
      add(r.connection, true);
      break;
    case Field::kKey:
      add(r.key, false);
      break;
    case Field::kVersion:
      add(r.version, true);
      break;
    case Field::kOrigin:
      add(r.origin, true);
      break;
    case Field::kHost:
    case Field::kOther:
      break;
  }
  s.value_started_ = true;
  return 0;
}

int UpgradeParser::onHeaderValueComplete(llhttp_t* p) {
  self(p).value_started_ = false;
  return 0;
}

int UpgradeParser::onHeadersComplete(llhttp_t* p) {
  UpgradeParser& s = self(p);
  s.request_.method = static_cast<uint8_t>(llhttp_get_method(p));
  s.request_.http_major = llhttp_get_http_major(p);
  s.request_.http_minor = llhttp_get_http_minor(p);
  // A body on the upgrade request would be read as WebSocket frames: what follows the header
  // block must be frames only. llhttp has already refused an invalid or repeated
  // Content-Length and one next to Transfer-Encoding (RFC 9112 6.3).
  s.request_.has_body = (p->flags & F_TRANSFER_ENCODING) != 0 ||
                        ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
  s.headers_done_ = true;
  // 2: no body; make llhttp_execute() stop here with HPE_PAUSED_UPGRADE for every
  // request, so what follows the header block is left to the caller.
  return 2;
}

UpgradeParser::Status UpgradeParser::feed(std::span<const uint8_t> data,
                                          size_t& consumed) noexcept {
  consumed = 0;
  const char* const begin = reinterpret_cast<const char*>(data.data());
  // Each verdict is reached at the byte that calls for it, however the request is cut into
  // reads (tests/fuzz/upgrade_fuzz.cpp holds the parser to that): llhttp never sees a byte
  // past the first one over the header limit, nor a bad line break, nor, while the target is
  // open, a byte past the one that overflows the target's slot.
  const size_t room = max_header_bytes_ - bytes_seen_ + 1;
  const size_t cap = data.size() < room ? data.size() : room;
  const size_t bad = findBadLineBreak(begin, cap, last_byte_);
  for (size_t pos = 0; pos < bad;) {
    size_t n = bad - pos;
    // llhttp reports the target (on_url) where it ends or where a call ends: cut the call
    // at the byte that would overflow the slot.
    const size_t target_room = sizeof(request_.target.bytes) + 1 - request_.target.length;
    if (!url_done_ && target_room < n) n = target_room;
    const llhttp_errno_t err = llhttp_execute(&parser_, begin + pos, n);
    if (err == HPE_OK) {
      pos += n;
      continue;
    }
    const bool ended = err == HPE_PAUSED_UPGRADE && headers_done_;
    const bool target_too_long = err == HPE_USER && request_.target.overflow;
    if (!ended && !target_too_long) return Status::kInvalid;
    const char* end = target_too_long ? overflow_at_ + 1 : llhttp_get_error_pos(&parser_);
    consumed = static_cast<size_t>(end - begin);
    return bytes_seen_ + consumed > max_header_bytes_ ? Status::kTooLarge : Status::kComplete;
  }
  if (bad < cap) return Status::kInvalid;  // a bare CR or obs-fold, see findBadLineBreak
  bytes_seen_ += cap;
  consumed = cap;
  return bytes_seen_ > max_header_bytes_ ? Status::kTooLarge : Status::kNeedMore;
}

}  // namespace mws::http
