#include "mws/admin/metrics_collector.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace mws::admin {
namespace {

using prometheus::MetricFamily;

const MetricFamily& find(const std::vector<MetricFamily>& fs, const std::string& name) {
  const auto it =
      std::find_if(fs.begin(), fs.end(), [&](const MetricFamily& f) { return f.name == name; });
  if (it == fs.end()) throw std::runtime_error("no family " + name);
  return *it;
}

double valueWithLabel(const MetricFamily& f, const std::string& label, const std::string& value) {
  for (const auto& m : f.metric) {
    for (const auto& l : m.label) {
      if (l.name == label && l.value == value) {
        return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
  }
  throw std::runtime_error("no sample " + label + "=" + value + " in " + f.name);
}

class MetricsCollectorTest : public ::testing::Test {
 protected:
  server::WorkerStats a_, b_;
  buf::PoolStats pa_, pb_;
  MetricsCollector collector_{{{&a_, &pa_}, {&b_, &pb_}}};
};

TEST_F(MetricsCollectorTest, SumsReactorsAndKeepsPerReactorGauge) {
  a_.upgrades.add(5);
  b_.upgrades.add(7);
  a_.active.add(3);
  b_.active.add(4);
  const auto fs = collector_.collectServer();
  EXPECT_EQ(find(fs, "millionws_connections_accepted_total").metric.at(0).counter.value, 12);
  EXPECT_EQ(find(fs, "millionws_connections_active").metric.at(0).gauge.value, 7);
  const auto& per = find(fs, "millionws_reactor_connections_active");
  EXPECT_EQ(valueWithLabel(per, "reactor", "0"), 3);
  EXPECT_EQ(valueWithLabel(per, "reactor", "1"), 4);
}

TEST_F(MetricsCollectorTest, LabelsDisconnectionsRejectionsAndCloseCodes) {
  a_.disconnections[static_cast<size_t>(server::DisconnectReason::kProtocolError)].add(2);
  b_.disconnections[static_cast<size_t>(server::DisconnectReason::kProtocolError)].add(1);
  b_.disconnections[static_cast<size_t>(server::DisconnectReason::kIdleTimeout)].add(4);
  a_.rejected[1].add(6);  // 403
  b_.closes_sent[server::closeCodeSlot(1009)].add(2);
  a_.closes_received[server::closeCodeSlot(4321)].add(1);  // not a counted code: "other"
  const auto fs = collector_.collectServer();
  const auto& d = find(fs, "millionws_disconnections_total");
  EXPECT_EQ(valueWithLabel(d, "reason", "protocol_error"), 3);
  EXPECT_EQ(valueWithLabel(d, "reason", "idle_timeout"), 4);
  EXPECT_EQ(valueWithLabel(d, "reason", "client_close"), 0);
  EXPECT_EQ(valueWithLabel(find(fs, "millionws_handshakes_rejected_total"), "status", "403"), 6);
  const auto& closes = find(fs, "millionws_close_frames_total");
  double sent_1009 = -1, received_other = -1;
  for (const auto& m : closes.metric) {
    const std::string code = m.label[0].value, dir = m.label[1].value;
    if (code == "1009" && dir == "sent") sent_1009 = m.counter.value;
    if (code == "other" && dir == "received") received_other = m.counter.value;
  }
  EXPECT_EQ(sent_1009, 2);
  EXPECT_EQ(received_other, 1);
}

TEST_F(MetricsCollectorTest, HistogramsAreCumulativeAndScaled) {
  a_.message_sizes.observe(server::messageSizeBucket(10), 10);            // le 16
  b_.message_sizes.observe(server::messageSizeBucket(100), 100);          // le 256
  b_.message_sizes.observe(server::messageSizeBucket(1 << 30), 1 << 30);  // +Inf
  a_.loop_micros.observe(server::loopMicrosBucket(40), 40);               // le 50us
  const auto fs = collector_.collectServer();
  const auto& h = find(fs, "millionws_message_size_bytes").metric.at(0).histogram;
  EXPECT_EQ(h.sample_count, 3u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 10 + 100 + (1 << 30));
  EXPECT_EQ(h.bucket.at(0).cumulative_count, 1u);   // <= 16
  EXPECT_EQ(h.bucket.at(1).cumulative_count, 1u);   // <= 64
  EXPECT_EQ(h.bucket.at(2).cumulative_count, 2u);   // <= 256
  EXPECT_EQ(h.bucket.back().cumulative_count, 3u);  // +Inf
  const auto& loop = find(fs, "millionws_reactor_loop_duration_seconds").metric.at(0).histogram;
  EXPECT_DOUBLE_EQ(loop.bucket.at(2).upper_bound, 50e-6);
  EXPECT_EQ(loop.bucket.at(1).cumulative_count, 0u);
  EXPECT_EQ(loop.bucket.at(2).cumulative_count, 1u);
  EXPECT_DOUBLE_EQ(loop.sample_sum, 40e-6);
}

TEST_F(MetricsCollectorTest, PoolAndBackpressureGauges) {
  pa_.bytes_in_use.add(4096);
  pb_.bytes_cached.add(256);
  pb_.blocks_in_use.add(2);
  a_.pending_bytes.add(1000);
  b_.paused.add(1);
  const auto fs = collector_.collectServer();
  EXPECT_EQ(valueWithLabel(find(fs, "millionws_buffer_pool_bytes"), "state", "in_use"), 4096);
  EXPECT_EQ(valueWithLabel(find(fs, "millionws_buffer_pool_bytes"), "state", "cached"), 256);
  EXPECT_EQ(find(fs, "millionws_buffer_pool_blocks_in_use").metric.at(0).gauge.value, 2);
  EXPECT_EQ(find(fs, "millionws_pending_output_bytes").metric.at(0).gauge.value, 1000);
  EXPECT_EQ(find(fs, "millionws_connections_paused").metric.at(0).gauge.value, 1);
}

TEST_F(MetricsCollectorTest, AdminListenerFamilies) {
  AdminStats admin;
  admin.open.add(3);
  admin.dropped_evicted.add(5);
  admin.responses[adminStatusSlot(408)].add(2);
  const MetricsCollector with_admin({{&a_, &pa_}}, &admin);
  const auto fs = with_admin.collectServer();
  EXPECT_EQ(find(fs, "millionws_admin_connections_open").metric.at(0).gauge.value, 3);
  const auto& dropped = find(fs, "millionws_admin_connections_dropped_total");
  EXPECT_EQ(valueWithLabel(dropped, "reason", "evicted"), 5);
  EXPECT_EQ(valueWithLabel(dropped, "reason", "over_cap"), 0);
  EXPECT_EQ(valueWithLabel(find(fs, "millionws_admin_responses_total"), "status", "408"), 2);
  // Without the listener's counters (as in collector_) none of its families appear.
  for (const auto& f : collector_.collectServer())
    EXPECT_FALSE(f.name.starts_with("millionws_admin"));
}

// The catalogue is what Collect() produces: every family, once, with its type.
TEST_F(MetricsCollectorTest, CatalogueMatchesWhatIsCollected) {
  AdminStats admin;
  const MetricsCollector full({{&a_, &pa_}, {&b_, &pb_}}, &admin);
  std::map<std::string, prometheus::MetricType> collected;
  for (const auto& f : full.Collect()) {
    EXPECT_TRUE(collected.emplace(f.name, f.type).second) << "collected twice: " << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_FALSE(f.metric.empty()) << f.name;
  }
  std::map<std::string, prometheus::MetricType> catalogue;
  for (const MetricInfo& m : metricCatalogue()) {
    EXPECT_TRUE(catalogue.emplace(std::string(m.name), m.type).second)
        << "declared twice: " << m.name;
  }
  EXPECT_EQ(collected, catalogue);
}

// README's metrics table (Observability) documents exactly the families /metrics carries.
TEST(MetricsDocumentation, ReadmeTableMatchesTheCatalogue) {
  std::ifstream readme(MWS_README_PATH);
  ASSERT_TRUE(readme) << MWS_README_PATH;
  std::map<std::string, std::string> documented;  // name -> type column
  std::string line;
  bool in_section = false, in_table = false;
  while (std::getline(readme, line)) {
    if (line.starts_with("## ")) in_section = line == "## Observability";
    if (!in_section) continue;
    if (line.starts_with("| Metric |")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (!line.starts_with("|")) break;
    if (line.starts_with("| ---")) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    ASSERT_GE(cells.size(), 2u) << line;
    ASSERT_TRUE(cells[0].size() > 2 && cells[0].front() == '`' && cells[0].back() == '`') << line;
    const std::string name = cells[0].substr(1, cells[0].size() - 2);
    EXPECT_TRUE(documented.emplace(name, cells[1]).second) << "documented twice: " << name;
  }
  ASSERT_FALSE(documented.empty()) << "no metrics table in the Observability section";
  std::map<std::string, std::string> declared;
  for (const MetricInfo& m : metricCatalogue()) {
    const char* type = m.type == prometheus::MetricType::Counter     ? "counter"
                       : m.type == prometheus::MetricType::Histogram ? "histogram"
                                                                     : "gauge";
    declared.emplace(std::string(m.name), type);
  }
  for (const auto& [name, type] : declared) {
    const auto it = documented.find(name);
    if (it == documented.end()) {
      ADD_FAILURE() << name << " is served but not in README's metrics table";
    } else {
      EXPECT_EQ(it->second, type) << name;
    }
  }
  for (const auto& [name, type] : documented) {
    EXPECT_TRUE(declared.count(name)) << name << " is in README's metrics table but not served";
  }
}

TEST(ProcessFamilies, IncludeTheCoreProcessMetrics) {
  const auto fs = collectProcess();
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_threads", "process_open_fds", "process_max_fds",
        "process_start_time_seconds", "millionws_kernel_tcp_memory_bytes"}) {
    EXPECT_NO_THROW(find(fs, name)) << name;
  }
  EXPECT_GE(find(fs, "process_threads").metric.at(0).gauge.value, 1);
  const std::string text = prometheus::TextSerializer().Serialize(fs);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
}

TEST(Buckets, MessageSizeBoundaries) {
  EXPECT_EQ(server::messageSizeBucket(0), 0u);
  EXPECT_EQ(server::messageSizeBucket(16), 0u);
  EXPECT_EQ(server::messageSizeBucket(17), 1u);
  EXPECT_EQ(server::messageSizeBucket(64), 1u);
  EXPECT_EQ(server::messageSizeBucket(65), 2u);
  EXPECT_EQ(server::messageSizeBucket(16u << 20), 10u);
  EXPECT_EQ(server::messageSizeBucket((16u << 20) + 1), 11u);
  EXPECT_EQ(server::loopMicrosBucket(0), 0u);
  EXPECT_EQ(server::loopMicrosBucket(10), 0u);
  EXPECT_EQ(server::loopMicrosBucket(11), 1u);
  EXPECT_EQ(server::loopMicrosBucket(1000000), server::kLoopMicrosBounds.size());
}

}  // namespace
}  // namespace mws::admin
