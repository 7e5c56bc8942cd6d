#include "mws/load/port_budget.h"

namespace mws::load {

std::string portBudgetWarning(uint64_t connections, uint32_t source_ips, bool loopback,
                              uint64_t ports) {
  if (ports == 0 || source_ips == 0) return "";
  // Towards another host --source-ips is not used (127.x.y.z cannot reach it): one address.
  const uint64_t sources = loopback ? source_ips : 1;
  const uint64_t per_source = (connections + sources - 1) / sources;
  if (per_source * 2 <= ports) return "";
  std::string text = "millionws-load: warning: " + std::to_string(per_source) +
                     " connections per source address against " + std::to_string(ports) +
                     " ephemeral ports: the ramp slows past half of them";
  if (per_source > ports) text += " and connections fail past all of them";
  if (loopback) {
    text +=
        "; --source-ips " + std::to_string((connections * 2 + ports - 1) / ports) + " avoids it";
  } else {
    text += "; keep each shard (a pod: its own address) at or below " + std::to_string(ports / 2) +
            " connections (more --shard-count) or widen net.ipv4.ip_local_port_range";
  }
  return text;
}

}  // namespace mws::load
