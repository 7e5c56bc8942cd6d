// The admin listener's own counters: connections held, dropped and why, responses by
// status. Written by the admin thread only (a plain add, like the reactors' counters) and
// read by the same thread when it serves /metrics; tests may read them from anywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mws/base/counter.h"

namespace mws::admin {

// Every status the admin listener answers with; the label of millionws_admin_responses_total.
inline constexpr std::array<uint16_t, 10> kAdminStatuses = {200, 400, 404, 405, 408,
                                                            414, 431, 500, 503, 505};

// The slot of `status` in kAdminStatuses (500's slot for a status not in it).
constexpr size_t adminStatusSlot(uint16_t status) noexcept {
  for (size_t i = 0; i < kAdminStatuses.size(); ++i) {
    if (kAdminStatuses[i] == status) return i;
  }
  return 7;
}
static_assert(kAdminStatuses[adminStatusSlot(0)] == 500);

struct AdminStats {
  Counter open;      // client connections held now
  Counter accepted;  // client connections accepted since start
  // Connections the listener closed without a client asking:
  Counter dropped_over_cap;  // refused at once: the cap was reached and nothing could go
  Counter dropped_evicted;   // the oldest idle one, closed to make room for a new one
  Counter dropped_timeout;   // no whole request in time, or a response not taken in time
  std::array<Counter, kAdminStatuses.size()> responses;  // by status, same order
};

}  // namespace mws::admin
