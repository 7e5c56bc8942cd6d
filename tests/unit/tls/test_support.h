// Test certificates made in memory (ECDSA P-256, SHA-256), written as PEM files into a
// private temporary directory, and the client side of a TLS connection over a socketpair:
// what the TLS tests need to run hermetically, without openssl(1) or files of the tree.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "mws/tls/context.h"
#include "mws/tls/session.h"

namespace mws::tls::testing {

struct Pem {
  std::string cert;  // leaf (+ chain)
  std::string key;
};

// A certificate for `cn`, valid from now + not_before_s to now + not_after_s, signed by itself
// or, with issuer_pem, by that pair (whose certificate is then appended as the chain).
Pem makeCertificate(const std::string& cn, long not_before_s, long not_after_s,
                    const Pem* issuer = nullptr);

// A fresh directory under the test temp dir; files written into it; the directory removed
// with everything in it by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& content) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A client SSL_CTX: TLS 1.2-1.3 unless limited, no verification (tests inspect the peer).
SSL_CTX* newClientContext(int min_version = TLS1_2_VERSION, int max_version = TLS1_3_VERSION);

// The subject CN of the certificate the server presented, "" if none.
std::string peerCommonName(SSL* client);

// A server Session (through an Acceptor) and a client SSL on the two ends of a non-blocking
// socketpair. The destructor frees both and closes both descriptors.
struct Link {
  Link(Acceptor& acceptor, SSL_CTX* client_ctx, SSL_SESSION* session = nullptr);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Drives both sides until the server's handshake ends; returns its last result. The client
  // then reads once, so a TLS 1.3 session ticket sent after the handshake is taken in.
  IoResult handshake();
  // The client's session, for resumption (caller frees); nullptr if none arrived.
  SSL_SESSION* clientSession() const { return SSL_get1_session(client); }
  // Everything the client can read now (decrypted), or -1 on a fatal client error.
  long clientRead(std::string& out);
  // The server's read(): plaintext appended to `out`.
  IoResult serverRead(std::string& out, bool to_eof = false);
  // Seals `text` on the server and sends all of it (the socket takes it: tests stay small).
  bool serverSend(std::string_view text);

  int server_fd = -1;
  int client_fd = -1;
  Session* server = nullptr;
  SSL* client = nullptr;
};

}  // namespace mws::tls::testing
