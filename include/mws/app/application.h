// The process composition, above server/ and admin/ (neither includes the other's
// composition): raises the descriptor limit, binds one SO_REUSEPORT listener per reactor,
// starts the reactor threads and the admin listener, waits for SIGTERM/SIGINT and drains.
// Main thread only. The only place (with main.cpp) allowed to throw.
#pragma once

#include "mws/server/config.h"

namespace mws::app {

class Application {
 public:
  explicit Application(server::Config config) : config_(std::move(config)) {}
  // Runs until drained; returns the process exit code. Throws on start-up failure.
  int run();

 private:
  server::Config config_;
};

}  // namespace mws::app
