#include "mws/admin/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <vector>

namespace mws::admin {

namespace {

std::optional<uint64_t> toU64(std::string_view s) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

std::string_view nextToken(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t' && s[n] != '\n') ++n;
  std::string_view tok = s.substr(0, n);
  s.remove_prefix(n);
  return tok;
}

// The value after `key` on its line ("VmRSS:\t  1234 kB" -> 1234).
std::optional<uint64_t> fieldAfter(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while ((pos = text.find(key, pos)) != std::string_view::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      std::string_view rest = text.substr(pos + key.size());
      return toU64(nextToken(rest));
    }
    pos += key.size();
  }
  return std::nullopt;
}

}  // namespace

std::string readFile(const char* path) {
  std::string out;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::optional<ProcessSample> parseStat(std::string_view stat, double clock_ticks,
                                       uint64_t page_size, double boot_time) {
  // The command name (field 2) may contain spaces and parentheses: skip to the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // Fields from 3 (state) on, 1-based as in proc(5).
  std::vector<std::string_view> f(3);
  for (int i = 3; i <= 24; ++i) f.push_back(nextToken(rest));
  const auto utime = toU64(f[14]), stime = toU64(f[15]), threads = toU64(f[20]),
             start = toU64(f[22]), vsize = toU64(f[23]), rss = toU64(f[24]);
  if (!utime || !stime || !threads || !start || !vsize || !rss) return std::nullopt;
  ProcessSample s;
  s.cpu_seconds = static_cast<double>(*utime + *stime) / clock_ticks;
  s.start_time_seconds = boot_time + static_cast<double>(*start) / clock_ticks;
  s.virtual_bytes = *vsize;
  s.resident_bytes = *rss * page_size;
  s.threads = *threads;
  return s;
}

bool parseStatus(std::string_view status, ProcessSample& out) {
  const auto rss = fieldAfter(status, "VmRSS:");
  const auto anon = fieldAfter(status, "RssAnon:");
  if (!rss || !anon) return false;
  out.resident_bytes = *rss * 1024;
  out.resident_anon_bytes = *anon * 1024;
  return true;
}

std::optional<uint64_t> parseMaxOpenFiles(std::string_view limits) {
  const size_t pos = limits.find("Max open files");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = limits.substr(pos + 14);
  return toU64(nextToken(rest));  // the soft limit
}

std::optional<double> parseBootTime(std::string_view proc_stat) {
  const auto v = fieldAfter(proc_stat, "btime");
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

std::optional<SockstatSample> parseSockstat(std::string_view text) {
  SockstatSample s;
  const auto used = fieldAfter(text, "sockets: used");
  const size_t tcp = text.find("\nTCP:");
  if (!used || tcp == std::string_view::npos) return std::nullopt;
  s.sockets_used = *used;
  std::string_view line = text.substr(tcp + 5);
  line = line.substr(0, line.find('\n'));
  // "TCP: inuse 5 orphan 0 tw 0 alloc 8 mem 1"
  for (;;) {
    const std::string_view key = nextToken(line);
    if (key.empty()) break;
    const auto value = toU64(nextToken(line));
    if (!value) return std::nullopt;
    if (key == "inuse")
      s.tcp_inuse = *value;
    else if (key == "orphan")
      s.tcp_orphan = *value;
    else if (key == "tw")
      s.tcp_tw = *value;
    else if (key == "alloc")
      s.tcp_alloc = *value;
    else if (key == "mem")
      s.tcp_mem_pages = *value;
  }
  return s;
}

std::optional<uint64_t> parseSlabBytes(std::string_view meminfo) {
  const auto kib = fieldAfter(meminfo, "Slab:");
  if (!kib) return std::nullopt;
  return *kib * 1024;
}

std::optional<uint64_t> readSlabBytes() { return parseSlabBytes(readFile("/proc/meminfo")); }

uint64_t countOpenFds() {
  struct stat st {};
  if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<uint64_t>(st.st_size);
  return countOpenFdsByWalk();
}

uint64_t countOpenFdsByWalk() {
  uint64_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // not counting the descriptor of the walk itself
}

std::optional<ProcessSample> readProcess() {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  static const double boot = parseBootTime(readFile("/proc/stat")).value_or(0);
  auto s = parseStat(readFile("/proc/self/stat"), ticks, page, boot);
  if (!s) return std::nullopt;
  parseStatus(readFile("/proc/self/status"), *s);
  s->max_fds = parseMaxOpenFiles(readFile("/proc/self/limits")).value_or(0);
  s->open_fds = countOpenFds();
  return s;
}

std::optional<SockstatSample> readSockstat() {
  return parseSockstat(readFile("/proc/net/sockstat"));
}

}  // namespace mws::admin
