#include "mws/tls/socket_bio.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace mws::tls {

namespace {

// The whole state is the BIO's data pointer: the descriptor shifted left by one, bit 0 "the
// last recv saw EOF" (OpenSSL asks, to tell an EOF from an error).
constexpr uintptr_t kEofBit = 1;

uintptr_t stateOf(BIO* bio) noexcept { return reinterpret_cast<uintptr_t>(BIO_get_data(bio)); }
int fdOf(BIO* bio) noexcept { return static_cast<int>(stateOf(bio) >> 1); }

int bioRead(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::recv(fdOf(bio), out, static_cast<size_t>(len), 0);
  } while (n < 0 && errno == EINTR);
  if (n == 0) BIO_set_data(bio, reinterpret_cast<void*>(stateOf(bio) | kEofBit));
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
  return -1;  // anything else: errno stays for SSL_ERROR_SYSCALL
}

int bioWrite(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::send(fdOf(bio), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
  return -1;
}

long bioCtrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    case BIO_CTRL_EOF:
      return (stateOf(bio) & kEofBit) ? 1 : 0;
    default:
      return 0;
  }
}

int bioCreate(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}

int bioDestroy(BIO*) { return 1; }  // the descriptor belongs to the connection

BIO_METHOD* socketMethod() noexcept {
  // Built once, thread-safely, on first use; lives as long as the process.
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mws socket");
    if (m && (!BIO_meth_set_read(m, bioRead) || !BIO_meth_set_write(m, bioWrite) ||
              !BIO_meth_set_ctrl(m, bioCtrl) || !BIO_meth_set_create(m, bioCreate) ||
              !BIO_meth_set_destroy(m, bioDestroy))) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

}  // namespace

BIO* newSocketBio(int fd) noexcept {
  BIO_METHOD* method = socketMethod();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!bio) return nullptr;
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<uintptr_t>(fd) << 1));
  BIO_set_init(bio, 1);
  return bio;
}

}  // namespace mws::tls
