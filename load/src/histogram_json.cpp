#include "mws/load/histogram_json.h"

#include <nlohmann/json.hpp>

namespace mws::load {

nlohmann::json histogramToJson(const Histogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (h.bucketCount(i) != 0) buckets.push_back({i, h.bucketCount(i)});
  }
  return {{"min", h.min()}, {"max", h.max()}, {"buckets", std::move(buckets)}};
}

Histogram histogramFromJson(const nlohmann::json& j) {
  Histogram h;
  for (const nlohmann::json& bucket : j.at("buckets")) {
    h.addToBucket(bucket.at(0).get<size_t>(), bucket.at(1).get<uint64_t>());
  }
  if (h.count() > 0) h.widenRange(j.at("min").get<uint64_t>(), j.at("max").get<uint64_t>());
  return h;
}

}  // namespace mws::load
