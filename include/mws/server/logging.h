// spdlog set-up: text for people, JSON lines for log pipelines. Called once at
// start-up, before any thread starts.
//
// WarnThrottle: a reactor's rate limit on warnings (one every 5 s, with the count of those
// it swallowed), so that a flood of bad clients cannot turn into a flood of log lines.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace mws::server {

void setupLogging(const std::string& level, const std::string& format);

// `text` as the inside of a JSON string (quotes, backslashes, control characters escaped).
std::string jsonEscape(std::string_view text);

// One per reactor thread; not shared.
class WarnThrottle {
 public:
  template <typename... Args>
  void warn(uint64_t now_ms, unsigned reactor, fmt::format_string<Args...> format,
            Args&&... args) noexcept {
    if (last_ms_ != 0 && now_ms - last_ms_ < kIntervalMs) {
      ++suppressed_;
      return;
    }
    last_ms_ = now_ms;
    spdlog::warn("reactor {}: {} ({} similar warnings suppressed)", reactor,
                 fmt::format(format, std::forward<Args>(args)...), suppressed_);
    suppressed_ = 0;
  }

 private:
  static constexpr uint64_t kIntervalMs = 5000;
  uint64_t last_ms_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace mws::server
