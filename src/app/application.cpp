#include "mws/app/application.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "mws/admin/admin_server.h"
#include "mws/base/clock.h"
#include "mws/base/unique_fd.h"
#include "mws/net/socket.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker.h"
#include "mws/tls/context.h"

namespace mws::app {

using server::Phase;
using server::SharedState;
using server::Worker;

namespace {

// Descriptors kept for things other than connections: stdio, epoll, listeners,
// reserve descriptors, eventfd, admin listener and scrapes, logs.
constexpr uint64_t kReservedFdsBase = 32;
constexpr uint64_t kReservedFdsPerReactor = 4;  // + the wss:// listener

rlim_t raiseDescriptorLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    throw std::system_error(errno, std::generic_category(), "getrlimit");
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("could not raise the descriptor limit from {}: {}", before,
                   std::strerror(errno));
      lim.rlim_cur = before;
    }
  }
  return lim.rlim_cur;
}

// One SO_REUSEPORT listener per reactor on the endpoint's port; with port 0 the first picks
// the port and the others follow it (the endpoint is updated to the one bound).
std::vector<UniqueFd> listenAll(net::Endpoint& endpoint, unsigned count) {
  std::vector<UniqueFd> listeners;
  for (unsigned i = 0; i < count; ++i) {
    const int fd = net::listenTcp(endpoint, 65535);
    if (fd < 0) {
      throw std::system_error(-fd, std::generic_category(), "listen on " + endpoint.toString());
    }
    listeners.emplace_back(fd);
    if (i == 0 && !net::localEndpoint(fd, endpoint)) {
      throw std::system_error(errno, std::generic_category(), "getsockname");
    }
  }
  return listeners;
}

std::string formatUnixTime(int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// SIGHUP: the certificate and key files again; a broken pair keeps the one in use.
void reloadTls(tls::ServerContext& context, SharedState& shared) {
  std::string error;
  if (context.reload(error)) {
    shared.tls_certificate_expiry.store(context.notAfterUnix());
    shared.tls_reloads_ok.fetch_add(1);
    const tls::CertificateInfo info = context.certificate();
    spdlog::info("SIGHUP: TLS certificate reloaded ({}, expires {}); new handshakes use it",
                 info.subject, formatUnixTime(info.not_after_unix));
  } else {
    shared.tls_reloads_failed.fetch_add(1);
    spdlog::error("SIGHUP: TLS reload failed, keeping the certificate in use: {}", error);
  }
}

// What the process may use: RAM, or less where a cgroup (a container's limit) says so.
uint64_t memoryAvailable() {
  const auto pages = ::sysconf(_SC_PHYS_PAGES);
  const auto page = ::sysconf(_SC_PAGESIZE);
  uint64_t limit = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
  for (const char* path : {"/sys/fs/cgroup/memory.max",                       // cgroup v2
                           "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {  // v1
    std::ifstream in(path);
    uint64_t bytes = 0;
    if (in >> bytes && bytes > 0 && (limit == 0 || bytes < limit)) limit = bytes;  // "max": no
  }
  return limit;
}

}  // namespace

int Application::run() {
  const rlim_t fd_limit = raiseDescriptorLimit();
  const unsigned threads =
      config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t reserved = kReservedFdsBase + kReservedFdsPerReactor * threads;
  const uint64_t fd_room = fd_limit > reserved ? fd_limit - reserved : 1;
  SharedState shared;
  shared.max_websockets = config_.max_connections ? config_.max_connections : fd_room;
  shared.max_sockets = fd_room;
  if (shared.max_websockets > fd_room) {
    spdlog::warn("--max-connections {} exceeds what {} descriptors allow; about {} will fit",
                 shared.max_websockets, fd_limit, fd_room);
  }
  // --max-buffer-memory: by default half of what the process may use, so that the buffers
  // of clients that do not read cannot take the process (or the pod) down with them.
  shared.max_buffer_memory =
      config_.max_buffer_memory ? *config_.max_buffer_memory : memoryAvailable() / 2;
  shared.buffer_budget_per_reactor = shared.max_buffer_memory / threads;
  spdlog::info("config: {}", config_.describe());
  spdlog::info("pooled buffer memory: at most {} bytes ({} per reactor){}",
               shared.max_buffer_memory, shared.buffer_budget_per_reactor,
               shared.max_buffer_memory ? "" : " (no limit)");
  spdlog::info("descriptor limit {}: room for {} connections; serving at most {}", fd_limit,
               fd_room, shared.max_websockets);

  // Signals are taken synchronously by this thread only; reactors never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0)
    throw std::runtime_error("pthread_sigmask");
  ::signal(SIGPIPE, SIG_IGN);  // a write to a reset socket must fail with EPIPE, not kill us

  net::Endpoint endpoint;
  if (!net::parseEndpoint(config_.bind, config_.port, endpoint)) {
    throw std::invalid_argument("--bind: not a numeric IPv4/IPv6 address: " + config_.bind);
  }
  // One listener per reactor on the same port: the kernel spreads new connections.
  std::vector<UniqueFd> listeners = listenAll(endpoint, threads);
  // wss:// beside it, on the same reactors: the pair is checked before anything listens.
  std::unique_ptr<tls::ServerContext> tls_context;
  std::vector<UniqueFd> tls_listeners;
  net::Endpoint tls_endpoint;
  if (config_.tls_port) {
    tls_context = std::make_unique<tls::ServerContext>(
        tls::ContextOptions{config_.tls_cert, config_.tls_key, std::chrono::hours(1)});
    if (!net::parseEndpoint(config_.bind, *config_.tls_port, tls_endpoint)) {
      throw std::invalid_argument("--bind: not a numeric IPv4/IPv6 address: " + config_.bind);
    }
    tls_listeners = listenAll(tls_endpoint, threads);
    shared.tls_serving = true;
    shared.tls_certificate_expiry.store(tls_context->notAfterUnix());
  }

  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  shared.wake_fd = wake.get();

  const auto capacity = static_cast<uint32_t>(std::min<uint64_t>(fd_limit, 0x7FFFFFFF));
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(
        config_, i, std::move(listeners[i]), shared, capacity,
        tls_context ? std::move(tls_listeners[i]) : UniqueFd(), tls_context.get()));
  }
  std::unique_ptr<admin::AdminServer> admin;
  if (config_.admin_port) {
    std::vector<admin::ReactorView> views;
    for (auto& w : workers) views.push_back({&w->stats(), &w->poolStats()});
    admin = std::make_unique<admin::AdminServer>(config_.admin_bind, config_.admin_port,
                                                 std::move(views), shared);
    spdlog::info("admin endpoints /health and /metrics on {}:{}", config_.admin_bind,
                 admin->port());
  }
  std::vector<std::thread> threads_running;
  for (auto& w : workers) threads_running.emplace_back([&w] { w->run(); });
  spdlog::info("listening on {} ({} reactors)", endpoint.toString(), threads);
  if (tls_context) {
    const tls::CertificateInfo info = tls_context->certificate();
    spdlog::info("TLS listening on {} (wss://; certificate {}, expires {})",
                 tls_endpoint.toString(), info.subject, formatUnixTime(info.not_after_unix));
  }

  bool draining = false;
  uint64_t drain_open = 0, drain_started_ms = 0;
  const timespec poll_interval{0, 100'000'000};
  // While draining, the reactors' exit is noticed within 5 ms: the process leaves by the
  // deadline (--drain-timeout), which Kubernetes' grace period is sized against.
  const timespec drain_poll_interval{0, 5'000'000};
  while (shared.workers_done.load() < threads) {
    const int sig =
        ::sigtimedwait(&signals, nullptr, draining ? &drain_poll_interval : &poll_interval);
    if (sig < 0) continue;  // timeout or EINTR: look at the workers again
    if (sig == SIGHUP) {
      if (tls_context) {
        reloadTls(*tls_context, shared);
      } else {
        spdlog::info("SIGHUP: nothing to reload (no --tls-port)");
      }
      continue;
    }
    if (draining) {
      spdlog::warn("second {}: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
    draining = true;
    drain_open = shared.open_websockets.load();
    drain_started_ms = monotonicMillis();
    spdlog::info("{}: draining {} connections for up to {} ms",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", drain_open, config_.drain_timeout.count());
    shared.phase.store(Phase::kDraining);
    const uint64_t one = 1;
    if (::write(shared.wake_fd, &one, sizeof(one)) != sizeof(one)) {
      throw std::system_error(errno, std::generic_category(), "eventfd write");
    }
  }
  for (auto& t : threads_running) t.join();
  admin.reset();
  if (draining) {
    // The truth about the drain: who answered our 1001, who was cut at the deadline.
    const uint64_t cut = shared.drain_cut.load();
    const uint64_t clean_shown = std::min(shared.drain_clean.load(), drain_open);
    const uint64_t other = drain_open > clean_shown + cut ? drain_open - clean_shown - cut : 0;
    const uint64_t took = monotonicMillis() - drain_started_ms;
    if (cut == 0) {
      spdlog::info("drained in {} ms: {} connections closed cleanly, {} ended without a close",
                   took, clean_shown, other);
    } else {
      spdlog::warn(
          "drain deadline reached after {} ms: {} connections closed cleanly, {} ended "
          "without a close, {} cut off",
          took, clean_shown, other, cut);
    }
  }
  spdlog::info("exiting");
  return 0;
}

}  // namespace mws::app
