#include "mws/http/upgrade_parser.h"

#include <strings.h>

namespace mws::http {

namespace {

UpgradeParser& self(llhttp_t* p) { return *static_cast<UpgradeParser*>(p->data); }

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// llhttp requires the settings to outlive every parser that uses them: one static object.
const llhttp_settings_t& UpgradeParser::settings() noexcept {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = &UpgradeParser::onUrl;
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
  parser_.data = this;
}

int UpgradeParser::onUrl(llhttp_t* p, const char* at, size_t len) {
  self(p).request_.target.append(at, len);
  return 0;
}

int UpgradeParser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
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
  s.headers_done_ = true;
  // 2: no body; make llhttp_execute() stop here with HPE_PAUSED_UPGRADE for every
  // request, so what follows the header block is left to the caller.
  return 2;
}

UpgradeParser::Status UpgradeParser::feed(std::span<const uint8_t> data,
                                          size_t& consumed) noexcept {
  consumed = 0;
  const char* begin = reinterpret_cast<const char*>(data.data());
  const llhttp_errno_t err = llhttp_execute(&parser_, begin, data.size());
  if (err == HPE_PAUSED_UPGRADE && headers_done_) {
    consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - begin);
    if (bytes_seen_ + consumed > max_header_bytes_) return Status::kTooLarge;
    return Status::kComplete;
  }
  if (err != HPE_OK) return Status::kInvalid;
  bytes_seen_ += data.size();
  consumed = data.size();
  if (bytes_seen_ > max_header_bytes_) return Status::kTooLarge;
  return Status::kNeedMore;
}

}  // namespace mws::http
