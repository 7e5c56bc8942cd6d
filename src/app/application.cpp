#include "mws/app/application.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "mws/admin/admin_server.h"
#include "mws/base/unique_fd.h"
#include "mws/net/socket.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker.h"

namespace mws::app {

using server::Phase;
using server::SharedState;
using server::Worker;

namespace {

// Descriptors kept for things other than connections: stdio, epoll, listeners,
// reserve descriptors, eventfd, admin listener and scrapes, logs.
constexpr uint64_t kReservedFdsBase = 32;
constexpr uint64_t kReservedFdsPerReactor = 3;

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
  spdlog::info("config: {}", config_.describe());
  spdlog::info("descriptor limit {}: room for {} connections; serving at most {}", fd_limit,
               fd_room, shared.max_websockets);

  // Signals are taken synchronously by this thread only; reactors never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0)
    throw std::runtime_error("pthread_sigmask");
  ::signal(SIGPIPE, SIG_IGN);  // a write to a reset socket must fail with EPIPE, not kill us

  net::Endpoint endpoint;
  if (!net::parseEndpoint(config_.bind, config_.port, endpoint)) {
    throw std::invalid_argument("--bind: not a numeric IPv4/IPv6 address: " + config_.bind);
  }
  // One listener per reactor on the same port: the kernel spreads new connections.
  // With port 0 the first listener picks the port and the others follow it.
  std::vector<UniqueFd> listeners;
  for (unsigned i = 0; i < threads; ++i) {
    const int fd = net::listenTcp(endpoint, 65535);
    if (fd < 0) {
      throw std::system_error(-fd, std::generic_category(), "listen on " + endpoint.toString());
    }
    listeners.emplace_back(fd);
    if (i == 0 && !net::localEndpoint(fd, endpoint)) {
      throw std::system_error(errno, std::generic_category(), "getsockname");
    }
  }

  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  shared.wake_fd = wake.get();

  const auto capacity = static_cast<uint32_t>(std::min<uint64_t>(fd_limit, 0x7FFFFFFF));
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; ++i) {
    workers.push_back(
        std::make_unique<Worker>(config_, i, std::move(listeners[i]), shared, capacity));
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

  bool draining = false;
  const timespec poll_interval{0, 100'000'000};
  while (shared.workers_done.load() < threads) {
    const int sig = ::sigtimedwait(&signals, nullptr, &poll_interval);
    if (sig < 0) continue;  // timeout or EINTR: look at the workers again
    if (draining) {
      spdlog::warn("second {}: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
    draining = true;
    spdlog::info("{}: draining {} connections for up to {} ms",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", shared.open_websockets.load(),
                 config_.drain_timeout.count());
    shared.phase.store(Phase::kDraining);
    const uint64_t one = 1;
    if (::write(shared.wake_fd, &one, sizeof(one)) != sizeof(one)) {
      throw std::system_error(errno, std::generic_category(), "eventfd write");
    }
  }
  for (auto& t : threads_running) t.join();
  admin.reset();
  spdlog::info("drained; exiting");
  return 0;
}

}  // namespace mws::app
