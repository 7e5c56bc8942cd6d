// Readers for what the kernel knows about this process and its sockets
// (/proc/self/stat, /proc/self/status, /proc/self/fd, /proc/self/limits,
// /proc/net/sockstat). prometheus-cpp has no process collector; this is ours.
// Runs on the admin thread at scrape time; parsing is split from reading so the
// parsers can be tested on fixtures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mws::admin {

struct ProcessSample {
  double cpu_seconds = 0;         // utime + stime
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t virtual_bytes = 0;
  uint64_t resident_bytes = 0;
  uint64_t resident_anon_bytes = 0;  // RssAnon: heap and stacks, what connections cost us
  uint64_t threads = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
};

struct SockstatSample {
  uint64_t tcp_inuse = 0;
  uint64_t tcp_orphan = 0;
  uint64_t tcp_tw = 0;
  uint64_t tcp_alloc = 0;
  uint64_t tcp_mem_pages = 0;  // pages of socket buffer memory, all TCP sockets
  uint64_t sockets_used = 0;
};

// Parsers over file contents. `clock_ticks` is sysconf(_SC_CLK_TCK), `page_size` in
// bytes and `boot_time` the btime of /proc/stat.
std::optional<ProcessSample> parseStat(std::string_view stat, double clock_ticks,
                                       uint64_t page_size, double boot_time);
bool parseStatus(std::string_view status, ProcessSample& out);
std::optional<uint64_t> parseMaxOpenFiles(std::string_view limits);
std::optional<double> parseBootTime(std::string_view proc_stat);
std::optional<SockstatSample> parseSockstat(std::string_view sockstat);
// "Slab:" of /proc/meminfo in bytes: where the kernel keeps every socket's structures.
std::optional<uint64_t> parseSlabBytes(std::string_view meminfo);

// Live readers.
std::optional<ProcessSample> readProcess();
std::optional<SockstatSample> readSockstat();
std::optional<uint64_t> readSlabBytes();
// Open descriptors: the size that stat(2) reports for /proc/self/fd (Linux >= 6.2,
// a bitmap count, not a directory walk), else countOpenFdsByWalk(). Neither counts a
// descriptor of its own; the caller leaves out what it holds to ask (a scrape's connection).
uint64_t countOpenFds();
// The entries of /proc/self/fd, less the one the walk itself opens.
uint64_t countOpenFdsByWalk();

std::string readFile(const char* path);

}  // namespace mws::admin
