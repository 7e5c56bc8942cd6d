#include "mws/admin/metrics_collector.h"

#include <unistd.h>

#include <array>
#include <limits>
#include <span>
#include <string>

#include "mws/admin/process_stats.h"
#include "mws/base/clock.h"
#include "mws/server/worker_stats.h"

namespace mws::admin {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using server::WorkerStats;

constexpr MetricType kCounter = MetricType::Counter;
constexpr MetricType kGauge = MetricType::Gauge;
constexpr MetricType kHistogram = MetricType::Histogram;

struct Label {
  std::string_view name;
  std::string_view value;
};

// A family that does not fit a table row: collected by hand below, declared here once.
struct FamilyDecl {
  std::string_view name;
  std::string_view help;
  MetricType type;
};

// Where a sample comes from: one counter of every reactor, summed, or of the admin listener.
struct Source {
  Counter WorkerStats::*stats = nullptr;
  Counter buf::PoolStats::*pool = nullptr;
  Counter AdminStats::*admin = nullptr;
};
constexpr Source reactors(Counter WorkerStats::*field) { return {field, nullptr, nullptr}; }
constexpr Source pools(Counter buf::PoolStats::*field) { return {nullptr, field, nullptr}; }
constexpr Source listener(Counter AdminStats::*field) { return {nullptr, nullptr, field}; }

// One sample per row. The rows of a family are consecutive: the first gives its help, the
// others leave the help empty (a unit test checks the table keeps to that).
template <typename Read>
struct Row {
  std::string_view name;
  std::string_view help;
  MetricType type;
  Read read;
  Label label = {};
};

// The counters and gauges: add a row here (and one to README's table) to add a metric.
constexpr Row<Source> kCounterRows[] = {
    {"millionws_connections_accepted_total", "WebSocket upgrades completed", kCounter,
     reactors(&WorkerStats::upgrades)},
    {"millionws_connections_active", "WebSocket connections open now", kGauge,
     reactors(&WorkerStats::active)},
    {"millionws_tcp_connections_accepted_total", "TCP connections accepted on the WebSocket port",
     kCounter, reactors(&WorkerStats::tcp_accepted)},
    {"millionws_tcp_connections_open", "TCP connections held now, handshaking and closing included",
     kGauge, reactors(&WorkerStats::tcp_open)},
    {"millionws_handshake_timeouts_total", "Sockets closed for not completing the upgrade in time",
     kCounter, reactors(&WorkerStats::handshake_timeouts)},
    {"millionws_close_timeouts_total",
     "Closes of ours (idle timeout, shutdown) the client never answered; counted by cause too",
     kCounter, reactors(&WorkerStats::close_timeouts)},
    {"millionws_health_requests_total", "GET /health requests served on the WebSocket port",
     kCounter, reactors(&WorkerStats::health_requests)},
    {"millionws_messages_received_total",
     "Data messages received, by opcode",
     kCounter,
     reactors(&WorkerStats::messages_in_text),
     {"opcode", "text"}},
    {"millionws_messages_received_total",
     "",
     kCounter,
     reactors(&WorkerStats::messages_in_binary),
     {"opcode", "binary"}},
    {"millionws_messages_sent_total",
     "Data messages sent, by opcode",
     kCounter,
     reactors(&WorkerStats::messages_out_text),
     {"opcode", "text"}},
    {"millionws_messages_sent_total",
     "",
     kCounter,
     reactors(&WorkerStats::messages_out_binary),
     {"opcode", "binary"}},
    {"millionws_received_payload_bytes_total", "Payload bytes of data messages received", kCounter,
     reactors(&WorkerStats::bytes_in)},
    {"millionws_sent_payload_bytes_total", "Payload bytes of all frames sent", kCounter,
     reactors(&WorkerStats::bytes_out)},
    {"millionws_control_frames_received_total",
     "Ping and pong frames received",
     kCounter,
     reactors(&WorkerStats::pings_in),
     {"opcode", "ping"}},
    {"millionws_control_frames_received_total",
     "",
     kCounter,
     reactors(&WorkerStats::pongs_in),
     {"opcode", "pong"}},
    {"millionws_pings_sent_total", "Keep-alive pings sent (--ping-interval)", kCounter,
     reactors(&WorkerStats::pings_out)},
    {"millionws_buffer_pool_bytes",
     "Pooled buffer memory: lent to connections (in_use) or kept for reuse (cached)",
     kGauge,
     pools(&buf::PoolStats::bytes_in_use),
     {"state", "in_use"}},
    {"millionws_buffer_pool_bytes",
     "",
     kGauge,
     pools(&buf::PoolStats::bytes_cached),
     {"state", "cached"}},
    {"millionws_buffer_pool_blocks_in_use", "Pooled buffers lent to connections now", kGauge,
     pools(&buf::PoolStats::blocks_in_use)},
    {"millionws_buffer_pool_acquires_total", "Pooled buffers lent to connections since start",
     kCounter, pools(&buf::PoolStats::acquires_total)},
    {"millionws_pending_output_bytes", "Output queued because the kernel did not take it yet",
     kGauge, reactors(&WorkerStats::pending_bytes)},
    {"millionws_connections_paused", "Connections whose reads are paused by backpressure", kGauge,
     reactors(&WorkerStats::paused)},
    {"millionws_accept_errors_total", "accept(2) failures, e.g. out of descriptors", kCounter,
     reactors(&WorkerStats::accept_errors)},
    {"millionws_admin_connections_open", "Connections held now by the admin listener", kGauge,
     listener(&AdminStats::open)},
    {"millionws_admin_connections_accepted_total", "Connections accepted by the admin listener",
     kCounter, listener(&AdminStats::accepted)},
    {"millionws_admin_connections_dropped_total",
     "Admin connections closed by the listener: refused over the cap (over_cap), closed to make "
     "room (evicted), or too slow (timeout)",
     kCounter,
     listener(&AdminStats::dropped_over_cap),
     {"reason", "over_cap"}},
    {"millionws_admin_connections_dropped_total",
     "",
     kCounter,
     listener(&AdminStats::dropped_evicted),
     {"reason", "evicted"}},
    {"millionws_admin_connections_dropped_total",
     "",
     kCounter,
     listener(&AdminStats::dropped_timeout),
     {"reason", "timeout"}},
};

using ProcessRead = double (*)(const ProcessSample&);
constexpr Row<ProcessRead> kProcessRows[] = {
    {"process_cpu_seconds_total", "User and system CPU time spent in seconds", kCounter,
     [](const ProcessSample& p) { return p.cpu_seconds; }},
    {"process_resident_memory_bytes", "Resident memory size in bytes", kGauge,
     [](const ProcessSample& p) { return static_cast<double>(p.resident_bytes); }},
    {"process_resident_anonymous_memory_bytes",
     "Resident anonymous memory (heap, stacks) in bytes: what connections cost in user space",
     kGauge, [](const ProcessSample& p) { return static_cast<double>(p.resident_anon_bytes); }},
    {"process_virtual_memory_bytes", "Virtual memory size in bytes", kGauge,
     [](const ProcessSample& p) { return static_cast<double>(p.virtual_bytes); }},
    {"process_threads", "Number of OS threads in the process", kGauge,
     [](const ProcessSample& p) { return static_cast<double>(p.threads); }},
    {"process_open_fds", "Number of open file descriptors", kGauge,
     [](const ProcessSample& p) { return static_cast<double>(p.open_fds); }},
    {"process_max_fds", "Maximum number of open file descriptors", kGauge,
     [](const ProcessSample& p) { return static_cast<double>(p.max_fds); }},
    {"process_start_time_seconds", "Start time of the process since the Unix epoch in seconds",
     kGauge, [](const ProcessSample& p) { return p.start_time_seconds; }},
};

double pageSize() {
  static const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  return page;
}

using SockstatRead = double (*)(const SockstatSample&);
constexpr Row<SockstatRead> kSockstatRows[] = {
    {"millionws_kernel_tcp_memory_bytes",
     "Socket buffer memory of all TCP sockets on the host (/proc/net/sockstat)", kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.tcp_mem_pages) * pageSize(); }},
    {"millionws_kernel_tcp_sockets",
     "TCP sockets on the host by state (/proc/net/sockstat)",
     kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.tcp_inuse); },
     {"state", "inuse"}},
    {"millionws_kernel_tcp_sockets",
     "",
     kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.tcp_orphan); },
     {"state", "orphan"}},
    {"millionws_kernel_tcp_sockets",
     "",
     kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.tcp_tw); },
     {"state", "time_wait"}},
    {"millionws_kernel_tcp_sockets",
     "",
     kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.tcp_alloc); },
     {"state", "alloc"}},
    {"millionws_kernel_sockets_used", "Sockets of all kinds on the host", kGauge,
     [](const SockstatSample& k) { return static_cast<double>(k.sockets_used); }},
};

// The families with a label per reactor, per array slot, or with buckets.
constexpr FamilyDecl kPerReactorActive = {"millionws_reactor_connections_active",
                                          "WebSocket connections open now, by reactor thread",
                                          kGauge};
constexpr FamilyDecl kHeartbeatAge = {"millionws_reactor_heartbeat_age_seconds",
                                      "Time since the reactor last finished a loop iteration",
                                      kGauge};
constexpr FamilyDecl kDisconnections = {"millionws_disconnections_total",
                                        "WebSocket connections ended, by reason", kCounter};
constexpr FamilyDecl kRejected = {"millionws_handshakes_rejected_total",
                                  "Upgrade requests refused, by HTTP status", kCounter};
constexpr FamilyDecl kCloseFrames = {"millionws_close_frames_total",
                                     "Close frames by status code and direction (1005: no code)",
                                     kCounter};
constexpr FamilyDecl kAdminResponses = {
    "millionws_admin_responses_total", "Responses of the admin listener, by HTTP status", kCounter};
constexpr FamilyDecl kMessageSizes = {"millionws_message_size_bytes",
                                      "Sizes of data messages received", kHistogram};
constexpr FamilyDecl kLoopDuration = {
    "millionws_reactor_loop_duration_seconds",
    "Work per reactor loop iteration, between two epoll_wait calls", kHistogram};
constexpr FamilyDecl kTlsHandshakes = {
    "millionws_tls_handshakes_total",
    "TLS handshakes completed, by version and whether a session ticket resumed them", kCounter};
constexpr FamilyDecl kTlsFailures = {"millionws_tls_handshake_failures_total",
                                     "TLS handshakes that failed, by reason", kCounter};
constexpr FamilyDecl kTlsActive = {"millionws_tls_connections_active",
                                   "Established TLS connections open now, by version", kGauge};
constexpr FamilyDecl kTlsDuration = {"millionws_tls_handshake_duration_seconds",
                                     "Time from accept to the end of the TLS handshake",
                                     kHistogram};
constexpr FamilyDecl kTlsExpiry = {
    "millionws_tls_certificate_expiry_seconds",
    "Expiry of the TLS certificate in use as a Unix time (0: no TLS)", kGauge};
constexpr FamilyDecl kTlsReloads = {"millionws_tls_reloads_total",
                                    "Certificate reloads on SIGHUP, by result", kCounter};
constexpr FamilyDecl kBufferLimit = {
    "millionws_buffer_memory_limit_bytes",
    "--max-buffer-memory in effect: pooled buffer memory of the process at most (0: no limit)",
    kGauge};
constexpr FamilyDecl kSlab = {
    "millionws_kernel_slab_bytes",
    "Kernel slab memory on the host (/proc/meminfo Slab): socket structures live here", kGauge};
constexpr FamilyDecl kByHand[] = {
    kPerReactorActive, kHeartbeatAge, kDisconnections, kRejected,    kCloseFrames, kAdminResponses,
    kMessageSizes,     kLoopDuration, kTlsHandshakes,  kTlsFailures, kTlsActive,   kTlsDuration,
    kTlsExpiry,        kTlsReloads,   kBufferLimit,    kSlab};

// The tables' shape, checked by the compiler: a family's rows are consecutive, the first
// (only) gives the help, all share its type, and no name is declared twice.
template <typename Read, size_t N>
constexpr bool wellFormed(const Row<Read> (&rows)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (rows[i].name.empty()) return false;
    if (rows[i].help.empty()) {
      if (i == 0 || rows[i - 1].name != rows[i].name || rows[i - 1].type != rows[i].type)
        return false;
    } else {
      for (size_t j = 0; j < i; ++j) {
        if (rows[j].name == rows[i].name) return false;
      }
    }
  }
  return true;
}
static_assert(wellFormed(kCounterRows));
static_assert(wellFormed(kProcessRows));
static_assert(wellFormed(kSockstatRows));

// collectServer() leaves the admin listener's rows out by cutting the table's tail.
constexpr bool adminRowsLast() {
  bool admin = false;
  for (const auto& row : kCounterRows) {
    if (admin && !row.read.admin) return false;
    admin = admin || row.read.admin;
  }
  return true;
}
static_assert(adminRowsLast());

MetricFamily family(std::string_view name, std::string_view help, MetricType type) {
  MetricFamily f;
  f.name = std::string(name);
  f.help = std::string(help);
  f.type = type;
  return f;
}

MetricFamily family(const FamilyDecl& d) { return family(d.name, d.help, d.type); }

void add(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

// Appends one sample per row, opening a family at each row that carries a help text.
template <typename Rows, typename Value>
void appendRows(std::vector<MetricFamily>& out, const Rows& rows, Value value) {
  for (const auto& row : rows) {
    if (!row.help.empty()) out.push_back(family(row.name, row.help, row.type));
    std::vector<ClientMetric::Label> labels;
    if (!row.label.name.empty())
      labels.push_back({std::string(row.label.name), std::string(row.label.value)});
    add(out.back(), value(row.read), std::move(labels));
  }
}

template <size_t N>
void addHistogram(MetricFamily& f, const std::array<double, N>& bounds, double scale,
                  const std::vector<const server::BucketCounts<N>*>& parts) {
  ClientMetric m;
  uint64_t cumulative = 0;
  double sum = 0;
  for (const auto* p : parts) sum += static_cast<double>(p->sum.get());
  for (size_t i = 0; i <= N; ++i) {
    for (const auto* p : parts) cumulative += p->buckets[i].get();
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < N ? bounds[i] * scale : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  // Reactors keep counting while buckets are read: take the count from the buckets
  // themselves so that +Inf and _count always agree.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum * scale;
  f.metric.push_back(std::move(m));
}

template <typename Get>
double total(const std::vector<ReactorView>& rs, Get get) {
  double sum = 0;
  for (const ReactorView& r : rs) sum += static_cast<double>(get(r));
  return sum;
}

}  // namespace

std::vector<MetricFamily> MetricsCollector::collectServer() const {
  const auto& rs = reactors_;
  std::vector<MetricFamily> out;
  auto sum = [&](auto get) { return total(rs, get); };

  // Without the admin listener's counters its rows are left out (they come last).
  std::span<const Row<Source>> rows = kCounterRows;
  if (!admin_) {
    while (!rows.empty() && rows.back().read.admin) rows = rows.first(rows.size() - 1);
  }
  appendRows(out, rows, [&](const Source& s) {
    if (s.stats) return sum([&](const ReactorView& r) { return (r.stats->*s.stats).get(); });
    if (s.pool) return sum([&](const ReactorView& r) { return (r.pool->*s.pool).get(); });
    return static_cast<double>((admin_->*s.admin).get());
  });

  auto per_reactor = family(kPerReactorActive);
  auto heartbeat = family(kHeartbeatAge);
  const double now_ms = static_cast<double>(monotonicMillis());
  for (size_t i = 0; i < rs.size(); ++i) {
    add(per_reactor, static_cast<double>(rs[i].stats->active.get()),
        {{"reactor", std::to_string(i)}});
    const double age = (now_ms - static_cast<double>(rs[i].stats->heartbeat_ms.get())) / 1000.0;
    add(heartbeat, age > 0 ? age : 0, {{"reactor", std::to_string(i)}});
  }
  out.push_back(std::move(per_reactor));
  out.push_back(std::move(heartbeat));

  auto disconnections = family(kDisconnections);
  for (size_t k = 0; k < static_cast<size_t>(server::DisconnectReason::kCount); ++k) {
    add(disconnections, sum([k](const ReactorView& r) { return r.stats->disconnections[k].get(); }),
        {{"reason", server::disconnectReasonName(static_cast<server::DisconnectReason>(k))}});
  }
  out.push_back(std::move(disconnections));

  auto rejected = family(kRejected);
  for (size_t k = 0; k < server::kRejectStatuses.size(); ++k) {
    add(rejected, sum([k](const ReactorView& r) { return r.stats->rejected[k].get(); }),
        {{"status", std::to_string(server::kRejectStatuses[k])}});
  }
  out.push_back(std::move(rejected));

  auto closes = family(kCloseFrames);
  for (size_t k = 0; k < server::kCountedCloseCodes.size(); ++k) {
    const uint16_t code = server::kCountedCloseCodes[k];
    const std::string label = code ? std::to_string(code) : "other";
    add(closes, sum([k](const ReactorView& r) { return r.stats->closes_sent[k].get(); }),
        {{"code", label}, {"direction", "sent"}});
    add(closes, sum([k](const ReactorView& r) { return r.stats->closes_received[k].get(); }),
        {{"code", label}, {"direction", "received"}});
  }
  out.push_back(std::move(closes));

  if (admin_) {
    auto responses = family(kAdminResponses);
    for (size_t k = 0; k < kAdminStatuses.size(); ++k) {
      add(responses, static_cast<double>(admin_->responses[k].get()),
          {{"status", std::to_string(kAdminStatuses[k])}});
    }
    out.push_back(std::move(responses));
  }

  std::vector<const server::BucketCounts<server::kMessageSizeBounds.size()>*> sizes;
  std::vector<const server::BucketCounts<server::kLoopMicrosBounds.size()>*> loops;
  for (const ReactorView& r : rs) {
    sizes.push_back(&r.stats->message_sizes);
    loops.push_back(&r.stats->loop_micros);
  }
  auto size_hist = family(kMessageSizes);
  addHistogram(size_hist, server::kMessageSizeBounds, 1.0, sizes);
  out.push_back(std::move(size_hist));
  auto loop_hist = family(kLoopDuration);
  addHistogram(loop_hist, server::kLoopMicrosBounds, 1e-6, loops);
  out.push_back(std::move(loop_hist));
  auto buffer_limit = family(kBufferLimit);
  add(buffer_limit, shared_ ? static_cast<double>(shared_->max_buffer_memory) : 0.0);
  out.push_back(std::move(buffer_limit));
  collectTls(out);
  return out;
}

void MetricsCollector::collectTls(std::vector<MetricFamily>& out) const {
  const auto& rs = reactors_;
  auto sum = [&](auto get) { return total(rs, get); };
  static constexpr const char* kVersions[] = {"TLSv1.2", "TLSv1.3"};
  auto handshakes = family(kTlsHandshakes);
  for (size_t v = 0; v < 2; ++v) {
    for (size_t resumed = 0; resumed < 2; ++resumed) {
      const size_t slot = v * 2 + resumed;
      add(handshakes,
          sum([slot](const ReactorView& r) { return r.stats->tls_handshakes[slot].get(); }),
          {{"version", kVersions[v]}, {"resumed", resumed ? "true" : "false"}});
    }
  }
  out.push_back(std::move(handshakes));
  auto failures = family(kTlsFailures);
  for (size_t k = 1; k < tls::kFailureCount; ++k) {  // 0 is kNone
    add(failures, sum([k](const ReactorView& r) { return r.stats->tls_failures[k].get(); }),
        {{"reason", std::string(tls::failureName(static_cast<tls::Failure>(k)))}});
  }
  out.push_back(std::move(failures));
  auto active = family(kTlsActive);
  for (size_t v = 0; v < 2; ++v) {
    add(active, sum([v](const ReactorView& r) { return r.stats->tls_active[v].get(); }),
        {{"version", kVersions[v]}});
  }
  out.push_back(std::move(active));
  std::vector<const server::BucketCounts<server::kTlsHandshakeMicrosBounds.size()>*> durations;
  for (const ReactorView& r : rs) durations.push_back(&r.stats->tls_handshake_micros);
  auto duration = family(kTlsDuration);
  addHistogram(duration, server::kTlsHandshakeMicrosBounds, 1e-6, durations);
  out.push_back(std::move(duration));
  auto expiry = family(kTlsExpiry);
  add(expiry, shared_ ? static_cast<double>(shared_->tls_certificate_expiry.load()) : 0.0);
  out.push_back(std::move(expiry));
  auto reloads = family(kTlsReloads);
  add(reloads, shared_ ? static_cast<double>(shared_->tls_reloads_ok.load()) : 0.0,
      {{"result", "ok"}});
  add(reloads, shared_ ? static_cast<double>(shared_->tls_reloads_failed.load()) : 0.0,
      {{"result", "failed"}});
  out.push_back(std::move(reloads));
}

std::vector<MetricFamily> collectProcess(uint64_t scrape_descriptors) {
  std::vector<MetricFamily> out;
  if (auto p = readProcess()) {
    p->open_fds = p->open_fds > scrape_descriptors ? p->open_fds - scrape_descriptors : 0;
    appendRows(out, kProcessRows, [&](ProcessRead read) { return read(*p); });
  }
  if (const auto k = readSockstat()) {
    appendRows(out, kSockstatRows, [&](SockstatRead read) { return read(*k); });
  }
  if (const auto slab = readSlabBytes()) {
    auto f = family(kSlab);
    add(f, static_cast<double>(*slab));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  std::vector<MetricFamily> out = collectServer();
  std::vector<MetricFamily> process = collectProcess(scrape_descriptors_);
  out.insert(out.end(), std::make_move_iterator(process.begin()),
             std::make_move_iterator(process.end()));
  return out;
}

std::vector<MetricInfo> metricCatalogue() {
  std::vector<MetricInfo> out;
  auto addRows = [&](const auto& rows) {
    for (const auto& row : rows) {
      if (!row.help.empty()) out.push_back({row.name, row.type});
    }
  };
  addRows(kCounterRows);
  addRows(kProcessRows);
  addRows(kSockstatRows);
  for (const FamilyDecl& d : kByHand) out.push_back({d.name, d.type});
  return out;
}

}  // namespace mws::admin
