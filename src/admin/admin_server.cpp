#include "mws/admin/admin_server.h"

#include <prometheus/text_serializer.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include "mws/base/clock.h"
#include "mws/net/socket.h"

#ifndef MWS_VERSION
#define MWS_VERSION "unknown"
#endif

namespace mws::admin {

namespace {

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kStopTag = 2;
// The kernel's largest accept queue: a flood of connects waits there (taken at about 10 µs
// each, 64 per wake-up) instead of having SYNs dropped, which would delay a probe's connect
// by the 1 s SYN retransmission.
constexpr int kBacklog = 4096;
// Accepts per wake-up, so that a flood cannot keep the loop from the connections it holds.
constexpr int kAcceptBatch = 64;
// Out of descriptors, the listener stays readable: a level-triggered loop would spin on it.
// Accepting pauses for this long instead.
constexpr uint64_t kAcceptPauseMs = 100;
constexpr size_t kReadChunk = 4096;
constexpr uint64_t kWarnEveryMs = 10'000;

UniqueFd listenAdmin(const std::string& bind, uint16_t port, uint16_t& bound) {
  net::Endpoint endpoint;
  if (!net::parseEndpoint(bind, port, endpoint)) {
    throw std::invalid_argument("--admin-bind: not a numeric IPv4/IPv6 address: " + bind);
  }
  UniqueFd fd(::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw std::system_error(errno, std::generic_category(), "admin socket");
  // SO_REUSEADDR only: unlike the WebSocket port, a second process on the admin port is a
  // mistake to report, not a listener to share (SO_REUSEPORT would split the probes).
  const int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.len) != 0 ||
      ::listen(fd.get(), kBacklog) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "admin listener on " + endpoint.toString());
  }
  net::Endpoint local;
  if (!net::localEndpoint(fd.get(), local)) {
    throw std::system_error(errno, std::generic_category(), "getsockname");
  }
  bound = local.port();
  return fd;
}

}  // namespace

enum class ClientPhase : uint8_t { kReading, kWriting, kLingering, kClosed };

struct AdminServer::Client {
  UniqueFd fd;
  HeldConnection held;
  ClientPhase phase = ClientPhase::kReading;
  uint32_t events = 0;       // the epoll interest set now
  uint64_t deadline_ms = 0;  // of the phase: request head in, response out, FIN in
  bool partial = false;      // bytes of a request head have come in
  bool served = false;       // answered a request already: its idle expiry is routine
  bool close_after = false;  // of the response in flight
  std::unique_ptr<http::UpgradeParser> parser;  // while a request head comes in
  std::string in;                               // read, not parsed yet (pipelined requests)
  std::string out;                              // the response in flight
  size_t out_sent = 0;
};

ptrdiff_t pickEvictee(std::span<const HeldConnection> held, uint64_t now_ms,
                      uint64_t stall_ms) noexcept {
  ptrdiff_t idle = -1, stalled = -1;
  for (size_t i = 0; i < held.size(); ++i) {
    const HeldConnection& h = held[i];
    const auto index = static_cast<ptrdiff_t>(i);
    if (!h.responding) {
      if (idle < 0 || h.accepted_seq < held[static_cast<size_t>(idle)].accepted_seq) idle = index;
    } else if (now_ms >= h.last_progress_ms + stall_ms) {
      if (stalled < 0 || h.accepted_seq < held[static_cast<size_t>(stalled)].accepted_seq)
        stalled = index;
    }
  }
  return idle >= 0 ? idle : stalled;
}

AdminServer::AdminServer(const std::string& bind, uint16_t port, std::vector<ReactorView> reactors,
                         const server::SharedState& shared, AdminLimits limits)
    : reactors_(std::move(reactors)),
      shared_(shared),
      limits_(limits),
      started_ms_(monotonicMillis()),
      // Each scrape holds one descriptor of its own while it counts: its connection.
      collector_(reactors_, &stats_, /*scrape_descriptors=*/1, &shared),
      endpoints_{[this] { return health(); }, [this] { return metrics(); }} {
  listen_fd_ = listenAdmin(bind, port, port_);
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  stop_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_fd_.valid() || !stop_fd_.valid()) {
    throw std::system_error(errno, std::generic_category(), "admin epoll/eventfd");
  }
  epoll_event listen_ev{EPOLLIN, {.u64 = kListenTag}};
  epoll_event stop_ev{EPOLLIN, {.u64 = kStopTag}};
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &listen_ev) != 0 ||
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, stop_fd_.get(), &stop_ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "admin epoll_ctl");
  }
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "mws-admin");
}

AdminServer::~AdminServer() {
  const uint64_t one = 1;
  if (::write(stop_fd_.get(), &one, sizeof(one)) != sizeof(one)) {
    // An eventfd write fails only on overflow, which one write cannot cause.
    spdlog::error("admin listener: eventfd write: {}", std::strerror(errno));
  }
  thread_.join();
}

Health AdminServer::health() const {
  const uint64_t now = monotonicMillis();
  uint64_t active = 0;
  int stalled = 0;
  for (const ReactorView& r : reactors_) {
    active += r.stats->active.get();
    if (now > r.stats->heartbeat_ms.get() + kStallMillis) ++stalled;
  }
  const bool draining = shared_.phase.load() == server::Phase::kDraining;
  const char* status = draining ? "draining" : stalled ? "stalled" : "serving";
  nlohmann::json body = {
      {"status", status},
      {"connections", active},
      {"reactors", reactors_.size()},
      {"stalled_reactors", stalled},
      {"uptime_seconds", static_cast<double>(now - started_ms_) / 1000.0},
      {"version", MWS_VERSION},
  };
  if (shared_.tls_serving) {
    const int64_t expiry = shared_.tls_certificate_expiry.load();
    body["tls"] = {
        {"serving", true},
        {"certificate_expiry_unix", expiry},
        {"certificate_expires_in_seconds", expiry - static_cast<int64_t>(::time(nullptr))}};
  } else {
    body["tls"] = {{"serving", false}};
  }
  return Health{draining || stalled ? 503 : 200, body.dump()};
}

std::string AdminServer::metrics() const {
  return prometheus::TextSerializer().Serialize(collector_.Collect());
}

void AdminServer::run() noexcept {
  std::array<epoll_event, 64> events;
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()),
                               nextTimeout(monotonicMillis()));
    if (n < 0 && errno != EINTR) {
      spdlog::error("admin listener stops: epoll_wait: {}", std::strerror(errno));
      return;
    }
    const uint64_t now = monotonicMillis();
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events[static_cast<size_t>(i)];
      if (ev.data.u64 == kStopTag) return;
      if (ev.data.u64 == kListenTag) {
        acceptSome(now);
        continue;
      }
      // Clients are freed only after the batch: a pointer in it is never dangling.
      Client& c = *static_cast<Client*>(ev.data.ptr);
      if (c.phase == ClientPhase::kWriting) {
        onWritable(c, now);
      } else if (c.phase != ClientPhase::kClosed) {
        onReadable(c);
      }
      serve(c, now);
    }
    if (accept_paused_until_ != 0 && now >= accept_paused_until_) {
      accept_paused_until_ = 0;
      epoll_event ev{EPOLLIN, {.u64 = kListenTag}};
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, listen_fd_.get(), &ev);
    }
    expire(now);
    std::erase_if(clients_, [](const auto& c) { return c->phase == ClientPhase::kClosed; });
  }
}

int AdminServer::nextTimeout(uint64_t now) const noexcept {
  uint64_t next = accept_paused_until_ ? accept_paused_until_ : UINT64_MAX;
  for (const auto& c : clients_) {
    if (c->phase != ClientPhase::kClosed && c->deadline_ms < next) next = c->deadline_ms;
  }
  if (next == UINT64_MAX) return -1;
  // The coarse clock ticks every few ms: wake at the tick after the deadline, not before it.
  return next <= now ? 0 : static_cast<int>(next - now) + 1;
}

void AdminServer::acceptSome(uint64_t now) noexcept {
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd = net::acceptNonBlocking(listen_fd_.get());
    if (fd >= 0) {
      admit(fd, now);
      continue;
    }
    if (fd == -EINTR || fd == -ECONNABORTED) continue;
    if (fd == -EAGAIN) return;
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: try again shortly.
    if (now >= last_warn_ms_ + kWarnEveryMs) {
      last_warn_ms_ = now;
      spdlog::warn("admin listener: accept: {}; pausing {} ms", std::strerror(-fd), kAcceptPauseMs);
    }
    accept_paused_until_ = now + kAcceptPauseMs;
    epoll_event ev{0, {.u64 = kListenTag}};
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, listen_fd_.get(), &ev);
    return;
  }
}

void AdminServer::admit(int fd, uint64_t now) noexcept {
  stats_.accepted.add();
  if (open_clients_ >= limits_.max_connections) {
    // Scratch kept across calls: a flood meets this once per connection.
    held_.clear();
    who_.clear();
    for (const auto& c : clients_) {
      if (c->phase == ClientPhase::kClosed) continue;
      held_.push_back(c->held);
      who_.push_back(c.get());
    }
    const ptrdiff_t victim = pickEvictee(held_, now, limits_.stall_ms);
    if (now >= last_warn_ms_ + kWarnEveryMs) {
      last_warn_ms_ = now;
      spdlog::warn("admin listener at its cap of {} connections: {}", limits_.max_connections,
                   victim >= 0 ? "closing the oldest idle one" : "refusing new ones");
    }
    if (victim < 0) {
      // Best effort: a fresh socket's send buffer always takes a short answer.
      const AdminReply reply = errorReply(503, "admin connection limit reached");
      (void)::send(fd, reply.bytes.data(), reply.bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      stats_.responses[adminStatusSlot(503)].add();
      stats_.dropped_over_cap.add();
      ::close(fd);
      return;
    }
    stats_.dropped_evicted.add();
    close(*who_[static_cast<size_t>(victim)]);
  }
  // A fixed send buffer: /metrics (about 12 KB) fits it many times over, and a client that
  // never reads pins 128 KiB of kernel memory (the kernel doubles the figure) instead of
  // the up to 4 MiB that autotuning (tcp_wmem) would let it grow to.
  const int sndbuf = 64 << 10;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  auto c = std::make_unique<Client>();
  c->fd.reset(fd);
  c->held.accepted_seq = next_seq_++;
  c->events = EPOLLIN | EPOLLRDHUP;
  c->deadline_ms = now + limits_.request_timeout_ms;
  epoll_event ev{c->events, {.ptr = c.get()}};
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return;  // closes fd
  ++open_clients_;
  stats_.open.add();
  clients_.push_back(std::move(c));
}

void AdminServer::onReadable(Client& c) noexcept {
  char buf[kReadChunk];
  const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
  if (n == 0) return close(c);  // the client is done (when lingering: its FIN, as hoped)
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) close(c);
    return;
  }
  if (c.phase == ClientPhase::kLingering) return;  // dropped
  c.in.append(buf, static_cast<size_t>(n));
}

void AdminServer::serve(Client& c, uint64_t now) noexcept {
  // Requests already read are answered in order, one response in flight at a time.
  while (c.phase == ClientPhase::kReading && !c.in.empty()) {
    if (!c.parser) c.parser = std::make_unique<http::UpgradeParser>(limits_.max_header_bytes);
    c.partial = true;
    size_t consumed = 0;
    const auto status =
        c.parser->feed({reinterpret_cast<const uint8_t*>(c.in.data()), c.in.size()}, consumed);
    switch (status) {
      case http::UpgradeParser::Status::kNeedMore:
        c.in.clear();  // the parser keeps what it needs of it
        return;
      case http::UpgradeParser::Status::kInvalid:
        return respond(c, errorReply(400, "malformed request"), now);
      case http::UpgradeParser::Status::kTooLarge:
        return respond(c, errorReply(431, "request header fields too large"), now);
      case http::UpgradeParser::Status::kComplete:
        break;
    }
    AdminReply reply = answer(c.parser->request(), endpoints_);
    c.parser.reset();
    c.in.erase(0, consumed);
    respond(c, std::move(reply), now);
  }
}

void AdminServer::respond(Client& c, AdminReply reply, uint64_t now) noexcept {
  stats_.responses[adminStatusSlot(reply.status)].add();
  c.out = std::move(reply.bytes);
  c.out_sent = 0;
  c.close_after = reply.close;
  c.served = true;
  c.partial = false;
  c.parser.reset();
  c.phase = ClientPhase::kWriting;
  c.held.responding = true;
  c.held.last_progress_ms = now;
  c.deadline_ms = now + limits_.write_timeout_ms;
  onWritable(c, now);
}

void AdminServer::onWritable(Client& c, uint64_t now) noexcept {
  while (c.out_sent < c.out.size()) {
    const ssize_t n =
        ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      c.held.last_progress_ms = now;
    } else if (n < 0 && errno == EAGAIN) {
      return watch(c, EPOLLOUT);
    } else if (n < 0 && errno != EINTR) {
      return close(c);  // EPIPE, ECONNRESET: the client is gone
    }
  }
  std::string().swap(c.out);  // give the response's memory back
  c.held.responding = false;
  if (c.close_after) return startLingering(c, now);
  startReading(c, now);
}

void AdminServer::startReading(Client& c, uint64_t now) noexcept {
  c.phase = ClientPhase::kReading;
  c.deadline_ms = now + limits_.request_timeout_ms;
  watch(c, EPOLLIN | EPOLLRDHUP);
}

void AdminServer::startLingering(Client& c, uint64_t now) noexcept {
  // Closing with unread input would reset the connection, and a reset can destroy the
  // answer before the client reads it: half-close, and wait for the client's FIN.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.phase = ClientPhase::kLingering;
  c.deadline_ms = now + limits_.linger_ms;
  c.in.clear();
  watch(c, EPOLLIN | EPOLLRDHUP);
}

void AdminServer::expire(uint64_t now) noexcept {
  for (const auto& p : clients_) {
    Client& c = *p;
    if (c.phase == ClientPhase::kClosed || c.deadline_ms > now) continue;
    switch (c.phase) {
      case ClientPhase::kReading:
        if (c.partial) {
          stats_.dropped_timeout.add();
          respond(c, errorReply(408, "request not complete in time"), now);
        } else {
          // Nothing asked: close quietly. After an answer that is the keep-alive running out.
          if (!c.served) stats_.dropped_timeout.add();
          close(c);
        }
        break;
      case ClientPhase::kWriting:
        stats_.dropped_timeout.add();
        close(c);
        break;
      default:
        close(c);
    }
  }
}

void AdminServer::watch(Client& c, uint32_t events) noexcept {
  if (c.phase == ClientPhase::kClosed || c.events == events) return;
  epoll_event ev{events, {.ptr = &c}};
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) return close(c);
  c.events = events;
}

void AdminServer::close(Client& c) noexcept {
  if (c.phase == ClientPhase::kClosed) return;
  c.phase = ClientPhase::kClosed;
  c.fd.reset();  // leaves the epoll set by itself
  c.parser.reset();
  --open_clients_;
  stats_.open.sub();
}

}  // namespace mws::admin
