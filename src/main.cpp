// millionws: parse the configuration, set up logging, run the server.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>

#include "mws/server/config.h"
#include "mws/server/server.h"

int main(int argc, char** argv) {
  mws::server::Config config;
  if (auto code = config.parse(argc, argv)) return *code;

  auto logger = spdlog::stderr_logger_mt("millionws");
  spdlog::set_default_logger(logger);
  if (config.log_format == "json") {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","thread":%t,"msg":"%v"})");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  }
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);

  try {
    return mws::server::Server(std::move(config)).run();
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }
}
