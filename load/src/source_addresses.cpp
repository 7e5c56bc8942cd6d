#include "mws/load/source_addresses.h"

#include <algorithm>

namespace mws::load {

uint32_t sourceAddress(uint32_t index) noexcept {
  const uint32_t last = 1 + index % 254;  // .0 and .255 are skipped
  const uint32_t rest = index / 254;
  const uint32_t third = rest % 256;
  const uint32_t second = (rest / 256) % 256;
  return (127u << 24) | (second << 16) | (third << 8) | last;
}

Share splitEvenly(uint64_t total, uint32_t parts, uint32_t index) noexcept {
  if (parts == 0) return {};
  const uint64_t base = total / parts;
  const uint64_t extra = total % parts;
  return {index * base + std::min<uint64_t>(index, extra), base + (index < extra ? 1 : 0)};
}

std::vector<uint32_t> workerSourceAddresses(uint32_t total, uint32_t procs, uint32_t worker) {
  std::vector<uint32_t> out;
  if (total == 0 || procs == 0) return out;
  if (total < procs) {
    out.push_back(sourceAddress(worker % total));
    return out;
  }
  const Share share = splitEvenly(total, procs, worker);
  out.reserve(share.count);
  for (uint64_t i = 0; i < share.count; ++i) {
    out.push_back(sourceAddress(static_cast<uint32_t>(share.first + i)));
  }
  return out;
}

std::string formatIpv4(uint32_t host_order) {
  return std::to_string(host_order >> 24) + "." + std::to_string((host_order >> 16) & 0xFF) + "." +
         std::to_string((host_order >> 8) & 0xFF) + "." + std::to_string(host_order & 0xFF);
}

}  // namespace mws::load
