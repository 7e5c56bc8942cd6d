// --shard-index/--shard-count: one of several millionws-load processes that together make one
// run (the pods of a Kubernetes Indexed Job, deploy/load). The command line gives the totals of
// the whole run; each shard takes an even share of the connections, echo connections and verify
// sample (splitEvenly, so the shares add up to the totals exactly), and rates in proportion to
// its share. Pure; start-up only.
#pragma once

#include <cstdint>

#include "mws/load/load_config.h"

namespace mws::load {

struct ShardShare {
  uint64_t connections = 0;
  uint64_t echo_connections = 0;
  uint64_t verify_sample = 0;
  double rate = 0;       // new connections per second, 0: unlimited (as the total)
  double echo_rate = 0;  // open-loop messages per second
};

// Shard `index` of `count` (index < count) of the totals in `config` (echo connections and the
// verify sample already capped at the connections).
ShardShare shardShare(const LoadConfig& config, uint32_t index, uint32_t count) noexcept;

}  // namespace mws::load
