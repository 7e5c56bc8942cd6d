// llhttp adapter for the opening handshake. Feeds request bytes as they arrive
// (one byte at a time is fine), captures the few headers RFC 6455 needs into fixed
// slots and stops at the end of the header block, where WebSocket bytes may begin.
// Lives in a pooled block only while a connection is handshaking; never allocates.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace mws::http {

// A header value or path captured into a fixed slot. Longer values set `overflow`.
template <size_t N>
struct Slot {
  char bytes[N];
  uint16_t length = 0;
  bool overflow = false;

  std::string_view view() const noexcept { return {bytes, length}; }
  void append(const char* at, size_t len) noexcept {
    const size_t room = N - length;
    const size_t n = len < room ? len : room;
    for (size_t i = 0; i < n; ++i) bytes[length + i] = at[i];
    length = static_cast<uint16_t>(length + n);
    if (n < len) overflow = true;
  }
};

// What the handshake validation needs from a request.
struct UpgradeRequest {
  uint8_t method = 0;  // llhttp_method_t
  uint8_t http_major = 0;
  uint8_t http_minor = 0;
  uint8_t host_count = 0;
  uint8_t key_count = 0;
  bool has_body = false;  // Content-Length above 0, or any Transfer-Encoding
  Slot<512> target;       // request-target, query included; longer is 414
  Slot<128> upgrade;      // repeated headers are joined with ","
  Slot<256> connection;
  Slot<64> key;
  Slot<32> version;
  Slot<256> origin;
};

class UpgradeParser {
 public:
  enum class Status : uint8_t {
    kNeedMore,  // header block not complete yet
    kComplete,  // request() is ready for validate(): the header block ended, and bytes after
                // `consumed` are not HTTP; or the request-target outgrew its slot, which
                // validate() answers with 414 before looking at anything else
    kInvalid,   // not a well-formed HTTP/1.x request, a bare CR or obsolete line folding (400)
    kTooLarge,  // header block longer than the limit (431)
  };

  explicit UpgradeParser(size_t max_header_bytes) noexcept;
  UpgradeParser(const UpgradeParser&) = delete;
  UpgradeParser& operator=(const UpgradeParser&) = delete;

  // Parses `data`; on kComplete, `consumed` is the number of bytes of `data` that
  // belonged to the request.
  Status feed(std::span<const uint8_t> data, size_t& consumed) noexcept;

  const UpgradeRequest& request() const noexcept { return request_; }

 private:
  enum class Field : uint8_t { kOther, kHost, kUpgrade, kConnection, kKey, kVersion, kOrigin };

  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onUrlComplete(llhttp_t* p);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static const llhttp_settings_t& settings() noexcept;

  llhttp_t parser_;
  UpgradeRequest request_;
  size_t max_header_bytes_;
  size_t bytes_seen_ = 0;
  const char* overflow_at_ = nullptr;  // the first target byte beyond the slot, in this feed
  Slot<24> field_name_;                // long enough for every name we look for
  Field field_ = Field::kOther;
  bool value_started_ = false;
  bool url_done_ = false;
  bool headers_done_ = false;
  char last_byte_ = 0;  // of the previous feed: a CR or LF there ends a line in this one
};

}  // namespace mws::http
