// The server's configuration: every flag, its environment variable and its
// default, parsed once at start-up (CLI11; exceptions allowed here only) and then
// read-only, shared by all threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mws::server {

struct Config {
  std::string bind = "0.0.0.0";
  uint16_t port = 8080;
  unsigned threads = 0;          // 0: one reactor per online CPU
  uint64_t max_connections = 0;  // 0: as many as the descriptor limit allows
  uint32_t max_message_bytes = 1u << 20;
  uint32_t max_header_bytes = 8u << 10;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{0};          // 0: off
  std::chrono::milliseconds ping_interval{0};         // 0: off
  static constexpr uint32_t kMinPendingBytes = 4096;  // --max-pending-bytes at least
  // ... and with --tls-port: reads resume at half the cap, where a TLS read (two records
  // decrypted in place, tls::kReadRoom) must fit (static_assert in session.cpp).
  static constexpr uint32_t kMinTlsPendingBytes = 96 * 1024;
  uint32_t max_pending_bytes = 1u << 20;
  // Pooled buffer memory of the whole process (split evenly between reactors); 0: no
  // limit; unset: half the memory the process may use (RAM or its cgroup's limit).
  std::optional<uint64_t> max_buffer_memory;
  std::chrono::milliseconds drain_timeout{10'000};
  std::vector<std::string> allowed_origins;  // empty: any origin
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::string admin_bind = "0.0.0.0";
  uint16_t admin_port = 9090;  // 0: no admin listener
  // wss:// (issue 15): off unless a port is given (0 picks one); then both files are needed.
  std::optional<uint16_t> tls_port;
  std::string tls_cert;  // PEM chain, leaf first
  std::string tls_key;   // PEM private key

  // Parses argv (and MILLIONWS_* variables). Returns the exit code to use if the
  // process should stop now (--help, bad flags), or nullopt to run.
  std::optional<int> parse(int argc, char** argv);

  // One line with every effective setting, for the start-up log.
  std::string describe() const;
};

// "250ms", "10s", "2m", "1h"; a bare number is seconds; "0" or "off" is zero.
// Returns nullopt if malformed.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) noexcept;

}  // namespace mws::server
