// The BIO an SSL uses for its handshake over a non-blocking socket. OpenSSL's own socket BIO
// (SSL_set_fd) writes with write(2), so a reset peer raises SIGPIPE; this one sends with
// send(MSG_NOSIGNAL) and reads with recv. Allocates nothing beyond the BIO; any thread.
#pragma once

#include <openssl/bio.h>

namespace mws::tls {

// A BIO on `fd` (which it never closes), or nullptr if OpenSSL could not allocate one.
BIO* newSocketBio(int fd) noexcept;

}  // namespace mws::tls
