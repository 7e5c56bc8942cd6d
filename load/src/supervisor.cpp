#include "mws/load/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "mws/base/check.h"
#include "mws/base/clock.h"
#include "mws/load/progress.h"
#include "mws/load/shared_control.h"
#include "mws/load/source_addresses.h"
#include "mws/load/summary.h"
#include "mws/load/worker.h"
#include "mws/load/worker_plan.h"

namespace mws::load {

namespace {

constexpr uint64_t kSecond = 1'000'000'000;
// Workers stop themselves at the deadline and close within a few seconds; this
// is the backstop for one that does not.
constexpr uint64_t kKillGraceNs = 15 * kSecond;

volatile std::sig_atomic_t g_signal = 0;

extern "C" void onStopSignal(int signo) { g_signal = signo; }

struct Child {
  pid_t pid = -1;
  int pipe_fd = -1;
  bool exited = true;
  bool clean_exit = false;
  std::string output;
};

bool writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void runChild(const LoadConfig& config, SharedControl& shared, uint32_t index,
                           int report_fd, pid_t parent) {
  // Die with the parent; leave SIGINT/SIGTERM to it (it sets the shared stop flag).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(3);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  // Open-loop sends are timed by epoll_pwait2; the default 50 us slack would blur them.
  prctl(PR_SET_TIMERSLACK, 1000UL);
  int status = 0;
  try {
    const WorkerPlan plan = makeWorkerPlan(config, index);
    Worker worker(config, plan, shared);
    status = writeAll(report_fd, worker.run().toJson() + "\n") ? 0 : 4;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "millionws-load: worker %u: %s\n", index, e.what());
    status = 5;
  }
  _exit(status);
}

double unixNow() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string hostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// Sleeps until the wall clock reads `unix_seconds` (0: no wait). The pods of one run share
// wall-clock time (their nodes keep it with NTP), not a monotonic origin, so this is what lets
// them ramp together. A stop signal ends the wait early.
void waitForStart(double unix_seconds, bool quiet) {
  if (unix_seconds <= 0) return;
  const double ahead = unix_seconds - unixNow();
  if (ahead <= 0) {
    // A pod scheduled late (or restarted) starts at once; its summary says how late.
    if (ahead < -1) {
      std::fprintf(stderr, "millionws-load: --start-at passed %.1f s ago; starting now\n", -ahead);
    }
    return;
  }
  if (!quiet) std::fprintf(stderr, "millionws-load: waiting %.1f s for --start-at\n", ahead);
  const double whole = std::floor(unix_seconds);
  timespec until{};
  until.tv_sec = static_cast<time_t>(whole);
  until.tv_nsec = static_cast<long>((unix_seconds - whole) * 1e9);
  // No SA_RESTART on our handlers: a signal ends the sleep with EINTR.
  while (g_signal == 0) {
    const int rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, nullptr);
    if (rc != EINTR) return;
  }
}

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop notices
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void forkWorkers(const LoadConfig& config, SharedControl& shared, std::vector<Child>& children) {
  const pid_t parent = getpid();
  for (uint32_t i = 0; i < children.size(); ++i) {
    int fds[2];
    MWS_CHECK(pipe2(fds, O_CLOEXEC) == 0);
    const pid_t pid = fork();
    if (pid == 0) {
      ::close(fds[0]);
      for (uint32_t j = 0; j < i; ++j) {
        if (children[j].pipe_fd >= 0) ::close(children[j].pipe_fd);
      }
      runChild(config, shared, i, fds[1], parent);
    }
    ::close(fds[1]);
    if (pid < 0) {
      std::perror("millionws-load: fork");
      ::close(fds[0]);
      shared.requestStop();
      continue;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    children[i].pid = pid;
    children[i].pipe_fd = fds[0];
    children[i].exited = false;
  }
}

void drainPipe(Child& child) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(child.pipe_fd, buf, sizeof buf);
    if (n > 0) {
      child.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    ::close(child.pipe_fd);  // EOF or error: the child is done writing
    child.pipe_fd = -1;
    return;
  }
}

void reapChildren(std::vector<Child>& children, SharedControl& shared) {
  for (size_t i = 0; i < children.size(); ++i) {
    Child& child = children[i];
    if (child.exited) continue;
    int status = 0;
    if (waitpid(child.pid, &status, WNOHANG) != child.pid) continue;
    child.exited = true;
    child.clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!child.clean_exit) {
      std::fprintf(stderr, "\nmillionws-load: worker %zu (pid %d) died (%s %d); stopping\n", i,
                   static_cast<int>(child.pid), WIFSIGNALED(status) ? "signal" : "status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      shared.requestStop();
    }
  }
}

bool anyRunning(const std::vector<Child>& children) {
  for (const Child& child : children) {
    if (!child.exited || child.pipe_fd >= 0) return true;
  }
  return false;
}

WorkerReport mergeReports(const LoadConfig& config, const std::vector<Child>& children) {
  WorkerReport merged;
  for (uint32_t i = 0; i < children.size(); ++i) {
    std::optional<WorkerReport> report;
    if (children[i].clean_exit) report = WorkerReport::fromJson(children[i].output);
    if (report) {
      merged.merge(*report);
      continue;
    }
    const uint64_t lost = splitEvenly(config.connections, config.procs, i).count;
    std::fprintf(stderr, "millionws-load: no report from worker %u; %llu connections lost\n", i,
                 static_cast<unsigned long long>(lost));
    merged.requested += lost;
    merged.addFailure(FailReason::kWorkerLost, lost);
    merged.verify_failed += splitEvenly(config.verify_sample, config.procs, i).count;
    merged.aborted = true;
  }
  return merged;
}

}  // namespace

int runSupervisor(const LoadConfig& config) {
  SharedControl shared(config.procs);
  installSignalHandlers();
  waitForStart(config.start_at_unix, config.quiet);
  // Stopped while waiting: the workers still run, stop at once and report every connection
  // as aborted, so the summary says what happened.
  if (g_signal != 0) shared.requestStop();
  const RunInfo run{hostName(), unixNow()};
  const uint64_t start = monotonicNanos();
  shared.setStartNs(start);
  std::vector<Child> children(config.procs);
  forkWorkers(config, shared, children);

  const uint64_t kill_at =
      start + static_cast<uint64_t>(config.deadline_seconds * 1e9) + kKillGraceNs;
  const bool tty = isatty(STDERR_FILENO) == 1;
  bool stop_sent = false;
  bool killed = false;
  uint64_t last_tick = start;
  ProgressTotals before;
  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  while (anyRunning(children)) {
    fds.clear();
    owners.clear();
    for (size_t i = 0; i < children.size(); ++i) {
      if (children[i].pipe_fd < 0) continue;
      fds.push_back({children[i].pipe_fd, POLLIN, 0});
      owners.push_back(i);
    }
    // Short waits: children that exit without closing a pipe are reaped promptly.
    ::poll(fds.data(), fds.size(), 100);
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents != 0) drainPipe(children[owners[k]]);
    }
    reapChildren(children, shared);

    const uint64_t now = monotonicNanos();
    if (g_signal != 0 && !stop_sent) {
      std::fprintf(stderr, "\nmillionws-load: signal %d: stopping workers\n",
                   static_cast<int>(g_signal));
      shared.requestStop();
      stop_sent = true;
    }
    if (now >= kill_at && !killed) {
      for (const Child& child : children) {
        if (!child.exited) kill(child.pid, SIGKILL);
      }
      std::fprintf(stderr, "\nmillionws-load: workers overran the deadline; killed\n");
      killed = true;
    }
    if (!config.quiet && now - last_tick >= kSecond) {
      const ProgressTotals totals = sumLiveCounters(shared);
      const std::string line =
          formatProgress(static_cast<double>(now - start) / 1e9, config.connections, totals, before,
                         static_cast<double>(now - last_tick) / 1e9);
      std::fprintf(stderr, tty ? "\r%s\x1b[K" : "%s\n", line.c_str());
      before = totals;
      last_tick = now;
    }
  }
  if (!config.quiet && tty) std::fputc('\n', stderr);

  const WorkerReport merged = mergeReports(config, children);
  if (merged.aborted) std::fprintf(stderr, "millionws-load: run stopped before completion\n");
  // The schedule never waits, so messages it could not send in time were dropped;
  // latency covers only those sent. Say so rather than let the rate look met.
  if (merged.echo_scheduled > 0 && merged.echo_sent * 100 < merged.echo_scheduled * 99) {
    std::fprintf(stderr,
                 "millionws-load: warning: open loop fell behind: sent %llu of %llu scheduled "
                 "messages (generator CPU-bound; add --procs or lower --echo-rate)\n",
                 static_cast<unsigned long long>(merged.echo_sent),
                 static_cast<unsigned long long>(merged.echo_scheduled));
  }
  std::printf("%s\n", renderSummary(config, merged, run).c_str());
  std::fflush(stdout);
  return exitStatusFor(merged);
}

}  // namespace mws::load
