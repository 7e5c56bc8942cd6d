// A worker's client connections: non-blocking connect from a chosen source
// address, the opening handshake, masked frame output with a pending buffer for
// EAGAIN, server frame input, pings, and the closing handshake. One edge-triggered
// epoll, one read buffer and preallocated slots (48 bytes each, one per connection
// attempt; slots are never reused). Single-threaded. Message payloads go to a
// MessageListener; nothing here knows about echo phases.
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mws/load/client_tls.h"
#include "mws/load/frame_reader.h"
#include "mws/load/handshake_pool.h"
#include "mws/load/pending_output.h"
#include "mws/load/rng.h"
#include "mws/load/worker_report.h"
#include "mws/ws/frame.h"

namespace mws::load {

class MessageListener {
 public:
  virtual void onMessagePiece(uint32_t slot, ws::Opcode opcode, std::span<const uint8_t> piece,
                              bool first, bool last, uint64_t now_ns) noexcept = 0;
  // An open connection is gone (closed by either side, reset, or failed).
  virtual void onConnectionEnded(uint32_t slot) noexcept = 0;

 protected:
  ~MessageListener() = default;
};

struct ClientOptions {
  sockaddr_in target{};
  std::vector<uint32_t> sources;  // host byte order; empty: no bind
  uint32_t connections = 0;
  uint32_t max_inflight = 1;
  uint64_t connect_timeout_ns = 0;
  std::string host_header;
  std::string path = "/";
  uint32_t max_message_bytes = 0;
  TlsClientOptions tls;  // wss://: a TLS handshake between connect and the upgrade request
};

enum class ConnState : uint8_t {
  kUnused,
  kConnecting,
  kTlsHandshaking,  // wss:// only
  kHandshaking,
  kOpen,
  kClosing,
  kDone
};

class ClientSet {
 public:
  static constexpr uint32_t kNoTag = UINT32_MAX;

  ClientSet(const ClientOptions& options, WorkerReport& report, Rng& rng);
  ~ClientSet();
  ClientSet(const ClientSet&) = delete;
  ClientSet& operator=(const ClientSet&) = delete;

  void setListener(MessageListener* listener) noexcept { listener_ = listener; }

  // Ramp: start the next slot's connect while under the in-flight cap.
  bool canStartMore() const noexcept;
  void startNext(uint64_t now_ns) noexcept;
  bool rampComplete() const noexcept { return next_ == conns_.size() && inflight_ == 0; }
  void sweepTimeouts(uint64_t now_ns) noexcept;

  // Waits up to timeout_ns for events and handles them. Returns the clock after the wait.
  uint64_t poll(uint64_t timeout_ns) noexcept;
  // Adds a descriptor whose readiness only ends poll()'s wait (a barrier's eventfd).
  void watch(int fd) noexcept;
  void unwatch(int fd) noexcept;
  // Ends connections whose writes failed outside poll() (deferred so no caller
  // above on the stack sees a slot vanish).
  void reapBroken(uint64_t now_ns) noexcept;

  bool isOpen(uint32_t slot) const noexcept { return conns_[slot].state == ConnState::kOpen; }
  std::vector<uint32_t> openSlots() const;
  // Sends one masked message; false if the connection is not open or broke.
  bool sendMessage(uint32_t slot, ws::Opcode opcode, std::span<const uint8_t> payload) noexcept;
  // An opaque index the listener keeps per connection.
  uint32_t tag(uint32_t slot) const noexcept { return conns_[slot].tag; }
  void setTag(uint32_t slot, uint32_t tag) noexcept { conns_[slot].tag = tag; }

  // Shutdown: unfinished handshakes and unstarted slots fail as aborted; open
  // connections get a Close frame. closeSettled() once every server has answered
  // (EOF); closeAll() drops whatever is left.
  void beginClose(uint64_t now_ns) noexcept;
  bool closeSettled() const noexcept { return closing_ == 0 && inflight_ == 0; }
  void closeAll() noexcept;

  uint32_t started() const noexcept { return next_; }
  uint32_t inflight() const noexcept { return inflight_; }
  uint32_t openCount() const noexcept { return open_; }
  uint64_t lastResolvedNs() const noexcept { return last_resolved_ns_; }

 private:
  struct Conn {
    int fd = -1;
    uint32_t hs = HandshakePool::kNone;  // handshake context while connecting or handshaking
    uint32_t tag = kNoTag;
    ConnState state = ConnState::kUnused;
    uint8_t leftover_len = 0;
    bool close_received = false;
    bool broken = false;  // a write failed; reapBroken() ends it
    ReaderState reader;
    std::unique_ptr<uint8_t[]> leftover;     // kMaxReaderLeftover bytes, only while needed
    std::unique_ptr<PendingOutput> pending;  // unsent output, only after EAGAIN
  };
  static_assert(sizeof(Conn) <= 48, "client connection budget: 48 bytes");

  class Sink;

  void onEvent(uint32_t slot, uint32_t events, uint64_t now_ns) noexcept;
  void sendRequestEarly(uint32_t slot, uint64_t now_ns) noexcept;
  void sendRequest(uint32_t slot, uint64_t now_ns) noexcept;
  void continueTls(uint32_t slot, uint64_t now_ns) noexcept;
  // read(2), or the TLS read: > 0 bytes, 0 at EOF, -1 with errno.
  ssize_t receive(uint32_t slot, uint8_t* buf, size_t len) noexcept;
  // Whether a read of `n` bytes into `room` proves the socket empty for now: a short plain
  // read does, with no hang-up pending; a TLS read (one record at most) never does.
  bool drainedBy(ssize_t n, size_t room, bool hup) const noexcept;
  void releaseTls(uint32_t slot) noexcept;
  void finishConnect(uint32_t slot, uint64_t now_ns) noexcept;
  void readHandshake(uint32_t slot, uint64_t now_ns, bool hup) noexcept;
  void becomeOpen(uint32_t slot, uint64_t now_ns) noexcept;
  void readFrames(uint32_t slot, uint64_t now_ns, size_t preloaded, bool hup) noexcept;
  bool onControl(uint32_t slot, ws::Opcode opcode, std::span<const uint8_t> payload) noexcept;
  void fail(uint32_t slot, FailReason reason, uint64_t now_ns) noexcept;
  void peerGone(uint32_t slot) noexcept;
  void protocolFailure(uint32_t slot) noexcept;
  void markBroken(uint32_t slot) noexcept;
  void endConnection(uint32_t slot) noexcept;
  bool writeBytes(uint32_t slot, const uint8_t* data, size_t len) noexcept;
  void flush(uint32_t slot) noexcept;
  void sendClose(uint32_t slot, uint16_t code) noexcept;

  const ClientOptions options_;
  WorkerReport& report_;
  Rng& rng_;
  MessageListener* listener_ = nullptr;
  int epfd_ = -1;
  std::vector<Conn> conns_;
  HandshakePool handshakes_;
  std::unique_ptr<ClientTls> tls_;  // wss:// only
  std::vector<SSL*> ssl_;           // per slot, wss:// only (the 48-byte Conn stays as it is)
  RequestTemplate request_;
  std::unique_ptr<uint8_t[]> read_buf_;
  std::vector<uint8_t> write_buf_;
  std::vector<epoll_event> events_;
  std::vector<uint32_t> broken_;
  std::vector<uint8_t> source_exhausted_;  // per source: connect() said EADDRNOTAVAIL
  uint32_t next_ = 0;
  uint32_t inflight_ = 0;
  uint32_t open_ = 0;
  uint32_t closing_ = 0;
  uint64_t last_resolved_ns_ = 0;
};

}  // namespace mws::load
