#include "mws/admin/process_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mws/admin/metrics_collector.h"

namespace mws::admin {
namespace {

// Field layout per proc(5); the command name holds spaces and parentheses on purpose.
constexpr const char* kStat =
    "4242 (mws (worker) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 "
    "360000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ParseStat, ReadsCpuThreadsStartAndMemory) {
  const auto s = parseStat(kStat, /*clock_ticks=*/100, /*page_size=*/4096, /*boot_time=*/1000);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);  // (250 + 150) / 100
  EXPECT_EQ(s->threads, 7u);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 4600.0);  // 1000 + 360000 / 100
  EXPECT_EQ(s->virtual_bytes, 104857600u);
  EXPECT_EQ(s->resident_bytes, 2560u * 4096u);
}

TEST(ParseStat, RejectsTruncatedInput) {
  EXPECT_FALSE(parseStat("4242 (cat) R 1 2 3", 100, 4096, 0).has_value());
  EXPECT_FALSE(parseStat("no parenthesis here", 100, 4096, 0).has_value());
}

TEST(ParseStatus, ReadsResidentAndAnonymousMemory) {
  ProcessSample s;
  ASSERT_TRUE(
      parseStatus("Name:\tmillionws\nVmRSS:\t    1700 kB\nRssAnon:\t     116 kB\n"
                  "RssFile:\t 1584 kB\n",
                  s));
  EXPECT_EQ(s.resident_bytes, 1700u * 1024u);
  EXPECT_EQ(s.resident_anon_bytes, 116u * 1024u);
  EXPECT_FALSE(parseStatus("Name:\tx\n", s));
}

TEST(ParseLimits, ReadsSoftOpenFileLimit) {
  const char* limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max processes             95344                95344                processes \n"
      "Max open files            20000                40000                files     \n";
  EXPECT_EQ(parseMaxOpenFiles(limits), 20000u);
  EXPECT_FALSE(parseMaxOpenFiles("Max processes 1 1\n").has_value());
}

TEST(ParseBootTime, ReadsBtimeLine) {
  EXPECT_EQ(parseBootTime("cpu  1 2 3\nctxt 99\nbtime 1795887670\nprocesses 7\n"), 1795887670.0);
  EXPECT_FALSE(parseBootTime("cpu 1 2 3\n").has_value());
}

TEST(ParseSockstat, ReadsTcpLine) {
  const auto s = parseSockstat(
      "sockets: used 2014\nTCP: inuse 2005 orphan 3 tw 1097 alloc 2010 mem 428\n"
      "UDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->sockets_used, 2014u);
  EXPECT_EQ(s->tcp_inuse, 2005u);
  EXPECT_EQ(s->tcp_orphan, 3u);
  EXPECT_EQ(s->tcp_tw, 1097u);
  EXPECT_EQ(s->tcp_alloc, 2010u);
  EXPECT_EQ(s->tcp_mem_pages, 428u);
  EXPECT_FALSE(parseSockstat("sockets: used 1\nUDP: inuse 0 mem 0\n").has_value());
}

TEST(ParseMeminfo, ReadsSlab) {
  EXPECT_EQ(parseSlabBytes("MemTotal:       24000000 kB\nSlab:             123456 kB\n"
                           "SReclaimable:      1000 kB\n"),
            123456u * 1024u);
  EXPECT_FALSE(parseSlabBytes("MemTotal: 1 kB\n").has_value());
}

TEST(LiveProcess, MatchesWhatTheKernelSaysAboutUs) {
  const auto p = readProcess();
  ASSERT_TRUE(p.has_value());
  EXPECT_GE(p->threads, 1u);
  EXPECT_GT(p->resident_bytes, 0u);
  EXPECT_GT(p->max_fds, 0u);
  const uint64_t before = countOpenFds();
  const int fd = ::dup(0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(countOpenFds(), before + 1);
  ::close(fd);
  EXPECT_EQ(countOpenFds(), before);
}

// Descriptors open now, by asking the kernel about each number: opens nothing itself.
uint64_t probeOpenFds() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  uint64_t n = 0;
  for (rlim_t fd = 0; fd < lim.rlim_cur && fd < 65536; ++fd) {
    if (::fcntl(static_cast<int>(fd), F_GETFD) != -1) ++n;
  }
  return n;
}

TEST(OpenFds, CountsWhatIsOpenAndNothingOfItsOwn) {
  EXPECT_EQ(countOpenFds(), probeOpenFds());
  EXPECT_EQ(countOpenFdsByWalk(), probeOpenFds());
}

double openFdsSample(uint64_t scrape_descriptors) {
  for (const auto& f : collectProcess(scrape_descriptors)) {
    if (f.name == "process_open_fds") return f.metric.at(0).gauge.value;
  }
  return -1;
}

// A scrape holds its own connection while it counts: process_open_fds leaves it out, so it
// reads what `ls /proc/PID/fd` shows between scrapes.
TEST(OpenFds, TheScrapesOwnConnectionIsLeftOut) {
  const int scrape = ::dup(0);  // stands for the scrape's connection
  ASSERT_GE(scrape, 0);
  const double with_it = openFdsSample(0);
  const double without_it = openFdsSample(1);
  ::close(scrape);
  EXPECT_EQ(without_it, with_it - 1);
  EXPECT_EQ(without_it, static_cast<double>(probeOpenFds()));
}

}  // namespace
}  // namespace mws::admin
