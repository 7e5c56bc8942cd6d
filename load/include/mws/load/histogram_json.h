// A Histogram as JSON: {"min": v, "max": v, "buckets": [[index, count], ...]}, non-empty
// buckets only, so merging loses nothing. One format for the workers' reports to the parent
// and for the summary's "histograms", which deploy/load/gather.py merges across pods.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "mws/load/histogram.h"

namespace mws::load {

nlohmann::json histogramToJson(const Histogram& h);

// Throws nlohmann::json::exception when `j` is not in that format.
Histogram histogramFromJson(const nlohmann::json& j);

}  // namespace mws::load
