#include "mws/server/config.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace mws::server {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) noexcept {
  if (text == "off") return std::chrono::milliseconds(0);
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  uint64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (value > (uint64_t{1} << 40)) return std::nullopt;
  return std::chrono::milliseconds(value * scale);
}

namespace {

// Timer wheel ticks are seconds kept in 16 bits: stay well inside the wrap.
constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(12);

// Adds a duration option stored into `target`.
void addDuration(CLI::App& app, const std::string& name, const std::string& env,
                 std::chrono::milliseconds& target, const std::string& help) {
  app.add_option_function<std::string>(
         name,
         [&target, name](const std::string& text) {
           const auto d = parseDuration(text);
           if (!d || *d > kMaxTimeout) {
             throw CLI::ValidationError(name, "expected a duration up to 12h like 500ms, 10s, 2m");
           }
           target = *d;
         },
         help)
      ->envname(env)
      ->type_name("DURATION");
}

template <typename T>
void addSize(CLI::App& app, const std::string& name, const std::string& env, T& target,
             uint64_t min, uint64_t max, const std::string& help) {
  app.add_option_function<std::string>(
         name,
         [&target, name, min, max](const std::string& text) {
           std::string value = text;
           CLI::AsSizeValue(false)(value);  // "64KiB" -> "65536"; throws on junk
           const uint64_t n = std::stoull(value);
           if (n < min || n > max) {
             throw CLI::ValidationError(
                 name, "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
           }
           target = static_cast<T>(n);
         },
         help)
      ->envname(env)
      ->type_name("BYTES");
}

std::string seconds(std::chrono::milliseconds d) {
  if (d.count() == 0) return "off";
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

std::optional<int> Config::parse(int argc, char** argv) {
  CLI::App app{"MillionWS: a WebSocket echo server built to hold a million connections"};
  app.option_defaults()->always_capture_default();
  app.add_option("--bind", bind, "address the WebSocket listener binds")->envname("MILLIONWS_BIND");
  app.add_option("--port", port, "WebSocket port (0: pick one); shared across processes")
      ->envname("MILLIONWS_PORT");
  app.add_option("--threads", threads, "reactor threads (0: one per online CPU)")
      ->envname("MILLIONWS_THREADS")
      ->check(CLI::Range(0u, 1024u));
  app.add_option("--max-connections", max_connections,
                 "WebSocket connections held at most, then 503 (0: descriptor limit)")
      ->envname("MILLIONWS_MAX_CONNECTIONS");
  addSize(app, "--max-message-bytes", "MILLIONWS_MAX_MESSAGE_BYTES", max_message_bytes, 1,
          uint64_t{1} << 30, "largest message echoed; larger ones close with 1009 (default 1MiB)");
  addSize(app, "--max-header-bytes", "MILLIONWS_MAX_HEADER_BYTES", max_header_bytes, 256, 1u << 20,
          "largest handshake header block; larger gets 431 (default 8KiB)");
  addDuration(app, "--handshake-timeout", "MILLIONWS_HANDSHAKE_TIMEOUT", handshake_timeout,
              "time allowed to complete the HTTP upgrade (default 10s)");
  addDuration(app, "--idle-timeout", "MILLIONWS_IDLE_TIMEOUT", idle_timeout,
              "close connections silent for this long (default off)");
  addDuration(app, "--ping-interval", "MILLIONWS_PING_INTERVAL", ping_interval,
              "ping connections silent for this long (default off)");
  addSize(app, "--max-pending-bytes", "MILLIONWS_MAX_PENDING_BYTES", max_pending_bytes,
          kMinPendingBytes, uint64_t{1} << 30,
          "unsent output per connection before reads pause (default 1MiB)");
  app.add_option_function<std::string>(
         "--max-buffer-memory",
         [this](const std::string& text) {
           std::string value = text;
           CLI::AsSizeValue(false)(value);  // "4GiB" -> "4294967296"; throws on junk
           max_buffer_memory = std::stoull(value);
         },
         "pooled buffer memory of the process; past it the connections holding the most are "
         "reset (0: no limit; default: half of RAM or of the cgroup's memory limit)")
      ->envname("MILLIONWS_MAX_BUFFER_MEMORY")
      ->type_name("BYTES");
  addDuration(app, "--drain-timeout", "MILLIONWS_DRAIN_TIMEOUT", drain_timeout,
              "on SIGTERM, how long clients get to close (default 10s)");
  app.add_option("--allowed-origins", allowed_origins,
                 "comma-separated Origin allowlist (empty: any)")
      ->envname("MILLIONWS_ALLOWED_ORIGINS")
      ->delimiter(',');
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
      ->envname("MILLIONWS_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-format", log_format, "text or json (JSON lines)")
      ->envname("MILLIONWS_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--admin-bind", admin_bind, "address of the /health and /metrics listener")
      ->envname("MILLIONWS_ADMIN_BIND");
  app.add_option("--admin-port", admin_port, "admin port (0: disabled)")
      ->envname("MILLIONWS_ADMIN_PORT");
  app.add_option_function<std::string>(
         "--tls-port",
         [this](const std::string& text) {
           if (text == "off") {
             tls_port.reset();
             return;
           }
           unsigned value = 0;
           const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
           if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
             throw CLI::ValidationError("--tls-port", "expected a port (0: pick one) or off");
           }
           tls_port = static_cast<uint16_t>(value);
         },
         "wss:// port beside --port (0: pick one; default off); needs --tls-cert and --tls-key")
      ->envname("MILLIONWS_TLS_PORT")
      ->type_name("PORT");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain for wss://, leaf first")
      ->envname("MILLIONWS_TLS_CERT");
  app.add_option("--tls-key", tls_key, "PEM private key of the --tls-cert leaf")
      ->envname("MILLIONWS_TLS_KEY");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (tls_port && (tls_cert.empty() || tls_key.empty())) {
    std::fprintf(stderr, "--tls-port needs --tls-cert and --tls-key\n");
    return 2;
  }
  if (tls_port && max_pending_bytes < kMinTlsPendingBytes) {
    std::fprintf(stderr,
                 "--max-pending-bytes must be at least %u with --tls-port (a TLS read "
                 "needs room for two whole records)\n",
                 kMinTlsPendingBytes);
    return 2;
  }
  if (!tls_port && (!tls_cert.empty() || !tls_key.empty())) {
    std::fprintf(stderr, "--tls-cert and --tls-key need --tls-port\n");
    return 2;
  }
  return std::nullopt;
}

std::string Config::describe() const {
  std::ostringstream out;
  out << "bind=" << bind << " port=" << port
      << " threads=" << (threads ? std::to_string(threads) : std::string("auto"))
      << " max_connections=" << max_connections << " max_message_bytes=" << max_message_bytes
      << " max_header_bytes=" << max_header_bytes
      << " handshake_timeout=" << seconds(handshake_timeout)
      << " idle_timeout=" << seconds(idle_timeout) << " ping_interval=" << seconds(ping_interval)
      << " max_pending_bytes=" << max_pending_bytes << " max_buffer_memory="
      << (max_buffer_memory ? std::to_string(*max_buffer_memory) : std::string("auto"))
      << " drain_timeout=" << seconds(drain_timeout) << " allowed_origins=";
  if (allowed_origins.empty()) out << "any";
  for (size_t i = 0; i < allowed_origins.size(); ++i) {
    out << (i ? "," : "") << allowed_origins[i];
  }
  out << " log_level=" << log_level << " log_format=" << log_format
      << " admin=" << (admin_port ? admin_bind + ":" + std::to_string(admin_port) : "off")
      << " tls=" << (tls_port ? std::to_string(*tls_port) : std::string("off"));
  return out.str();
}

}  // namespace mws::server
