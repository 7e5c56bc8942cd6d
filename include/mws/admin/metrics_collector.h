// The /metrics content: a prometheus::Collectable that, at scrape time, sums the
// reactors' own counters and reads /proc. Costs O(reactors) per scrape, nothing
// per message: reactors never call prometheus-cpp. Runs on the admin thread.
// Every family is declared once, in the tables of metrics_collector.cpp; metricCatalogue()
// lists them all (README's metrics table must match it: a unit test checks).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "mws/admin/admin_stats.h"
#include "mws/buf/buffer_pool.h"
#include "mws/server/shared_state.h"
#include "mws/server/worker_stats.h"

namespace mws::admin {

// What the admin thread may read of one reactor.
struct ReactorView {
  const server::WorkerStats* stats;
  const buf::PoolStats* pool;
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  // `admin` (may be null: no admin families) is the admin listener's own counters.
  // `scrape_descriptors` is how many descriptors the scrape itself holds open while it
  // counts (its HTTP connection): left out of process_open_fds, which should read the same
  // as `ls /proc/PID/fd | wc -l` taken between scrapes.
  // `shared` (may be null: TLS certificate and reloads read as zero) is the process's state.
  MetricsCollector(std::vector<ReactorView> reactors, const AdminStats* admin = nullptr,
                   uint64_t scrape_descriptors = 0, const server::SharedState* shared = nullptr)
      : reactors_(std::move(reactors)),
        admin_(admin),
        scrape_descriptors_(scrape_descriptors),
        shared_(shared) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

  // Just the server's and the admin listener's own families (no /proc reads): for tests.
  std::vector<prometheus::MetricFamily> collectServer() const;

 private:
  void collectTls(std::vector<prometheus::MetricFamily>& out) const;  // the wss:// families

  std::vector<ReactorView> reactors_;
  const AdminStats* admin_;
  uint64_t scrape_descriptors_;
  const server::SharedState* shared_;
};

// Process and kernel families from /proc (process_*, millionws_kernel_*). `scrape_descriptors`
// as above.
std::vector<prometheus::MetricFamily> collectProcess(uint64_t scrape_descriptors = 0);

// Every family /metrics may carry: name and type, from the same tables the collection uses.
struct MetricInfo {
  std::string_view name;
  prometheus::MetricType type;
};
std::vector<MetricInfo> metricCatalogue();

}  // namespace mws::admin
