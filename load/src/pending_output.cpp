#include "mws/load/pending_output.h"

#include <sys/socket.h>

#include <cerrno>

namespace mws::load {

bool sendOrQueue(int fd, std::unique_ptr<PendingOutput>& pending, const uint8_t* data,
                 size_t len) noexcept {
  if (pending) {  // keep order behind what is already queued
    pending->bytes.insert(pending->bytes.end(), data, data + len);
    return true;
  }
  ssize_t n;
  do {
    n = ::send(fd, data, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(len)) return true;
  if (n < 0) {
    if (errno != EAGAIN) return false;
    n = 0;
  }
  pending = std::make_unique<PendingOutput>();
  pending->bytes.assign(data + n, data + len);
  return true;
}

bool flushPending(int fd, std::unique_ptr<PendingOutput>& pending) noexcept {
  if (!pending) return true;
  PendingOutput& out = *pending;
  while (out.sent < out.bytes.size()) {
    const ssize_t n =
        ::send(fd, out.bytes.data() + out.sent, out.bytes.size() - out.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      if (out.sent > out.bytes.size() / 2) {  // drop the sent front so the queue stays small
        out.bytes.erase(out.bytes.begin(), out.bytes.begin() + static_cast<ptrdiff_t>(out.sent));
        out.sent = 0;
      }
      return true;
    }
    out.sent += static_cast<size_t>(n);
  }
  pending.reset();
  return true;
}

}  // namespace mws::load
