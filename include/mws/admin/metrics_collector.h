// The /metrics content: a prometheus::Collectable that, at scrape time, sums the
// reactors' own counters and reads /proc. Costs O(reactors) per scrape, nothing
// per message: reactors never call prometheus-cpp. Runs on the admin thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "mws/buf/buffer_pool.h"
#include "mws/server/worker_stats.h"

namespace mws::admin {

// What the admin thread may read of one reactor.
struct ReactorView {
  const server::WorkerStats* stats;
  const buf::PoolStats* pool;
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  explicit MetricsCollector(std::vector<ReactorView> reactors) : reactors_(std::move(reactors)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

  // Just the server's own families (no /proc reads): for tests.
  std::vector<prometheus::MetricFamily> collectServer() const;

 private:
  std::vector<ReactorView> reactors_;
};

// Process and kernel families from /proc (process_*, millionws_kernel_*).
std::vector<prometheus::MetricFamily> collectProcess();

}  // namespace mws::admin
