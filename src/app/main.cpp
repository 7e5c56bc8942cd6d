// millionws: parse the configuration, set up logging, run the server.
#include <spdlog/spdlog.h>

#include <exception>

#include "mws/app/application.h"
#include "mws/server/config.h"
#include "mws/server/logging.h"

int main(int argc, char** argv) {
  mws::server::Config config;
  if (auto code = config.parse(argc, argv)) return *code;
  mws::server::setupLogging(config.log_level, config.log_format);
  try {
    return mws::app::Application(std::move(config)).run();
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }
}
