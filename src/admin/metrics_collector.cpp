#include "mws/admin/metrics_collector.h"

#include <unistd.h>

#include <array>
#include <limits>
#include <string>

#include "mws/admin/process_stats.h"
#include "mws/base/clock.h"
#include "mws/server/worker_stats.h"
#include "mws/ws/frame.h"

namespace mws::admin {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using server::WorkerStats;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

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

  auto accepted = family("millionws_connections_accepted_total", "WebSocket upgrades completed",
                         MetricType::Counter);
  add(accepted, sum([](const ReactorView& r) { return r.stats->upgrades.get(); }));
  out.push_back(std::move(accepted));

  auto active =
      family("millionws_connections_active", "WebSocket connections open now", MetricType::Gauge);
  add(active, sum([](const ReactorView& r) { return r.stats->active.get(); }));
  out.push_back(std::move(active));

  auto per_reactor = family("millionws_reactor_connections_active",
                            "WebSocket connections open now, by reactor thread", MetricType::Gauge);
  auto heartbeat =
      family("millionws_reactor_heartbeat_age_seconds",
             "Time since the reactor last finished a loop iteration", MetricType::Gauge);
  const double now_ms = static_cast<double>(monotonicMillis());
  for (size_t i = 0; i < rs.size(); ++i) {
    add(per_reactor, static_cast<double>(rs[i].stats->active.get()),
        {{"reactor", std::to_string(i)}});
    const double age = (now_ms - static_cast<double>(rs[i].stats->heartbeat_ms.get())) / 1000.0;
    add(heartbeat, age > 0 ? age : 0, {{"reactor", std::to_string(i)}});
  }
  out.push_back(std::move(per_reactor));
  out.push_back(std::move(heartbeat));

  auto disconnections = family("millionws_disconnections_total",
                               "WebSocket connections ended, by reason", MetricType::Counter);
  for (size_t k = 0; k < static_cast<size_t>(server::DisconnectReason::kCount); ++k) {
    add(disconnections, sum([k](const ReactorView& r) { return r.stats->disconnections[k].get(); }),
        {{"reason", server::disconnectReasonName(static_cast<server::DisconnectReason>(k))}});
  }
  out.push_back(std::move(disconnections));

  auto sockets_accepted =
      family("millionws_tcp_connections_accepted_total",
             "TCP connections accepted on the WebSocket port", MetricType::Counter);
  add(sockets_accepted, sum([](const ReactorView& r) { return r.stats->tcp_accepted.get(); }));
  out.push_back(std::move(sockets_accepted));

  auto sockets_open =
      family("millionws_tcp_connections_open",
             "TCP connections held now, handshaking and closing included", MetricType::Gauge);
  add(sockets_open, sum([](const ReactorView& r) { return r.stats->tcp_open.get(); }));
  out.push_back(std::move(sockets_open));

  auto rejected = family("millionws_handshakes_rejected_total",
                         "Upgrade requests refused, by HTTP status", MetricType::Counter);
  for (size_t k = 0; k < server::kRejectStatuses.size(); ++k) {
    add(rejected, sum([k](const ReactorView& r) { return r.stats->rejected[k].get(); }),
        {{"status", std::to_string(server::kRejectStatuses[k])}});
  }
  out.push_back(std::move(rejected));

  auto timeouts =
      family("millionws_handshake_timeouts_total",
             "Sockets closed for not completing the upgrade in time", MetricType::Counter);
  add(timeouts, sum([](const ReactorView& r) { return r.stats->handshake_timeouts.get(); }));
  out.push_back(std::move(timeouts));

  auto health = family("millionws_health_requests_total",
                       "GET /health requests served on the WebSocket port", MetricType::Counter);
  add(health, sum([](const ReactorView& r) { return r.stats->health_requests.get(); }));
  out.push_back(std::move(health));

  auto msgs_in = family("millionws_messages_received_total", "Data messages received, by opcode",
                        MetricType::Counter);
  add(msgs_in, sum([](const ReactorView& r) { return r.stats->messages_in_text.get(); }),
      {{"opcode", "text"}});
  add(msgs_in, sum([](const ReactorView& r) { return r.stats->messages_in_binary.get(); }),
      {{"opcode", "binary"}});
  out.push_back(std::move(msgs_in));

  auto msgs_out =
      family("millionws_messages_sent_total", "Data messages sent, by opcode", MetricType::Counter);
  add(msgs_out, sum([](const ReactorView& r) { return r.stats->messages_out_text.get(); }),
      {{"opcode", "text"}});
  add(msgs_out, sum([](const ReactorView& r) { return r.stats->messages_out_binary.get(); }),
      {{"opcode", "binary"}});
  out.push_back(std::move(msgs_out));

  auto bytes_in = family("millionws_received_payload_bytes_total",
                         "Payload bytes of data messages received", MetricType::Counter);
  add(bytes_in, sum([](const ReactorView& r) { return r.stats->bytes_in.get(); }));
  out.push_back(std::move(bytes_in));

  auto bytes_out = family("millionws_sent_payload_bytes_total", "Payload bytes of all frames sent",
                          MetricType::Counter);
  add(bytes_out, sum([](const ReactorView& r) { return r.stats->bytes_out.get(); }));
  out.push_back(std::move(bytes_out));

  auto control_in = family("millionws_control_frames_received_total",
                           "Ping and pong frames received", MetricType::Counter);
  add(control_in, sum([](const ReactorView& r) { return r.stats->pings_in.get(); }),
      {{"opcode", "ping"}});
  add(control_in, sum([](const ReactorView& r) { return r.stats->pongs_in.get(); }),
      {{"opcode", "pong"}});
  out.push_back(std::move(control_in));

  auto pings_out = family("millionws_pings_sent_total", "Keep-alive pings sent (--ping-interval)",
                          MetricType::Counter);
  add(pings_out, sum([](const ReactorView& r) { return r.stats->pings_out.get(); }));
  out.push_back(std::move(pings_out));

  auto closes =
      family("millionws_close_frames_total",
             "Close frames by status code and direction (1005: no code)", MetricType::Counter);
  for (size_t k = 0; k < server::kCountedCloseCodes.size(); ++k) {
    const uint16_t code = server::kCountedCloseCodes[k];
    const std::string label = code ? std::to_string(code) : "other";
    add(closes, sum([k](const ReactorView& r) { return r.stats->closes_sent[k].get(); }),
        {{"code", label}, {"direction", "sent"}});
    add(closes, sum([k](const ReactorView& r) { return r.stats->closes_received[k].get(); }),
        {{"code", label}, {"direction", "received"}});
  }
  out.push_back(std::move(closes));

  auto pool =
      family("millionws_buffer_pool_bytes",
             "Pooled buffer memory: lent to connections (in_use) or kept for reuse (cached)",
             MetricType::Gauge);
  add(pool, sum([](const ReactorView& r) { return r.pool->bytes_in_use.get(); }),
      {{"state", "in_use"}});
  add(pool, sum([](const ReactorView& r) { return r.pool->bytes_cached.get(); }),
      {{"state", "cached"}});
  out.push_back(std::move(pool));

  auto blocks = family("millionws_buffer_pool_blocks_in_use",
                       "Pooled buffers lent to connections now", MetricType::Gauge);
  add(blocks, sum([](const ReactorView& r) { return r.pool->blocks_in_use.get(); }));
  out.push_back(std::move(blocks));

  auto borrowed = family("millionws_buffer_pool_acquires_total",
                         "Pooled buffers lent to connections since start", MetricType::Counter);
  add(borrowed, sum([](const ReactorView& r) { return r.pool->acquires_total.get(); }));
  out.push_back(std::move(borrowed));

  auto pending = family("millionws_pending_output_bytes",
                        "Output queued because the kernel did not take it yet", MetricType::Gauge);
  add(pending, sum([](const ReactorView& r) { return r.stats->pending_bytes.get(); }));
  out.push_back(std::move(pending));

  auto paused = family("millionws_connections_paused",
                       "Connections whose reads are paused by backpressure", MetricType::Gauge);
  add(paused, sum([](const ReactorView& r) { return r.stats->paused.get(); }));
  out.push_back(std::move(paused));

  auto accept_errors = family("millionws_accept_errors_total",
                              "accept(2) failures, e.g. out of descriptors", MetricType::Counter);
  add(accept_errors, sum([](const ReactorView& r) { return r.stats->accept_errors.get(); }));
  out.push_back(std::move(accept_errors));

  std::vector<const server::BucketCounts<server::kMessageSizeBounds.size()>*> sizes;
  std::vector<const server::BucketCounts<server::kLoopMicrosBounds.size()>*> loops;
  for (const ReactorView& r : rs) {
    sizes.push_back(&r.stats->message_sizes);
    loops.push_back(&r.stats->loop_micros);
  }
  auto size_hist = family("millionws_message_size_bytes", "Sizes of data messages received",
                          MetricType::Histogram);
  addHistogram(size_hist, server::kMessageSizeBounds, 1.0, sizes);
  out.push_back(std::move(size_hist));

  auto loop_hist = family("millionws_reactor_loop_duration_seconds",
                          "Work per reactor loop iteration, between two epoll_wait calls",
                          MetricType::Histogram);
  addHistogram(loop_hist, server::kLoopMicrosBounds, 1e-6, loops);
  out.push_back(std::move(loop_hist));
  return out;
}

std::vector<MetricFamily> collectProcess() {
  std::vector<MetricFamily> out;
  if (const auto p = readProcess()) {
    auto gauge = [&](const char* name, const char* help, double v) {
      auto f = family(name, help, MetricType::Gauge);
      add(f, v);
      out.push_back(std::move(f));
    };
    auto cpu = family("process_cpu_seconds_total", "User and system CPU time spent in seconds",
                      MetricType::Counter);
    add(cpu, p->cpu_seconds);
    out.push_back(std::move(cpu));
    gauge("process_resident_memory_bytes", "Resident memory size in bytes",
          static_cast<double>(p->resident_bytes));
    gauge("process_resident_anonymous_memory_bytes",
          "Resident anonymous memory (heap, stacks) in bytes: what connections cost in user space",
          static_cast<double>(p->resident_anon_bytes));
    gauge("process_virtual_memory_bytes", "Virtual memory size in bytes",
          static_cast<double>(p->virtual_bytes));
    gauge("process_threads", "Number of OS threads in the process",
          static_cast<double>(p->threads));
    gauge("process_open_fds", "Number of open file descriptors", static_cast<double>(p->open_fds));
    gauge("process_max_fds", "Maximum number of open file descriptors",
          static_cast<double>(p->max_fds));
    gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds",
          p->start_time_seconds);
  }
  if (const auto k = readSockstat()) {
    static const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    auto mem = family("millionws_kernel_tcp_memory_bytes",
                      "Socket buffer memory of all TCP sockets on the host (/proc/net/sockstat)",
                      MetricType::Gauge);
    add(mem, static_cast<double>(k->tcp_mem_pages) * page);
    out.push_back(std::move(mem));
    auto socks = family("millionws_kernel_tcp_sockets",
                        "TCP sockets on the host by state (/proc/net/sockstat)", MetricType::Gauge);
    add(socks, static_cast<double>(k->tcp_inuse), {{"state", "inuse"}});
    add(socks, static_cast<double>(k->tcp_orphan), {{"state", "orphan"}});
    add(socks, static_cast<double>(k->tcp_tw), {{"state", "time_wait"}});
    add(socks, static_cast<double>(k->tcp_alloc), {{"state", "alloc"}});
    out.push_back(std::move(socks));
    auto used = family("millionws_kernel_sockets_used", "Sockets of all kinds on the host",
                       MetricType::Gauge);
    add(used, static_cast<double>(k->sockets_used));
    out.push_back(std::move(used));
  }
  if (const auto slab = readSlabBytes()) {
    auto f =
        family("millionws_kernel_slab_bytes",
               "Kernel slab memory on the host (/proc/meminfo Slab): socket structures live here",
               MetricType::Gauge);
    add(f, static_cast<double>(*slab));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  std::vector<MetricFamily> out = collectServer();
  std::vector<MetricFamily> process = collectProcess();
  out.insert(out.end(), std::make_move_iterator(process.begin()),
             std::make_move_iterator(process.end()));
  return out;
}

}  // namespace mws::admin
