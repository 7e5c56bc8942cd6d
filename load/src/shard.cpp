#include "mws/load/shard.h"

#include "mws/load/source_addresses.h"

namespace mws::load {

namespace {

// `total` scaled by part/whole; 0 when whole is 0 (nothing to share).
double proportional(double total, uint64_t part, uint64_t whole) noexcept {
  return whole == 0 ? 0.0 : total * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

ShardShare shardShare(const LoadConfig& config, uint32_t index, uint32_t count) noexcept {
  ShardShare share;
  share.connections = splitEvenly(config.connections, count, index).count;
  // echo_connections <= connections, so each shard's echo share fits in its connections.
  share.echo_connections = splitEvenly(config.echo_connections, count, index).count;
  share.verify_sample = splitEvenly(config.verify_sample, count, index).count;
  share.rate = proportional(config.rate, share.connections, config.connections);
  share.echo_rate = proportional(config.echo_rate, share.echo_connections, config.echo_connections);
  return share;
}

}  // namespace mws::load
