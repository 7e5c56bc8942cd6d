// Start-up and shutdown of the whole process: raises the descriptor limit, binds
// one SO_REUSEPORT listener per reactor, starts the reactor threads, waits for
// SIGTERM/SIGINT and drains. The only place (with main.cpp) allowed to throw.
#pragma once

#include "mws/server/config.h"

namespace mws::server {

class Server {
 public:
  explicit Server(Config config) : config_(std::move(config)) {}
  // Runs until drained; returns the process exit code. Throws on start-up failure.
  int run();

 private:
  Config config_;
};

}  // namespace mws::server
