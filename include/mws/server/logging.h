// spdlog set-up: text for people, JSON lines for log pipelines. Called once at
// start-up, before any thread starts.
#pragma once

#include <string>
#include <string_view>

namespace mws::server {

void setupLogging(const std::string& level, const std::string& format);

// `text` as the inside of a JSON string (quotes, backslashes, control characters escaped).
std::string jsonEscape(std::string_view text);

}  // namespace mws::server
