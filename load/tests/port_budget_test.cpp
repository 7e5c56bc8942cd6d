#include "mws/load/port_budget.h"

#include <gtest/gtest.h>

namespace mws::load {
namespace {

TEST(PortBudgetTest, NoWarningWithinHalfTheRange) {
  EXPECT_EQ(portBudgetWarning(14'000, 1, true, 28'232), "");
  EXPECT_EQ(portBudgetWarning(32'256, 1, false, 64'512), "");
  EXPECT_EQ(portBudgetWarning(1'000'000, 0, true, 0), "");  // range unknown: no guess
  EXPECT_EQ(portBudgetWarning(1'000'000, 1, true, 0), "");
}

TEST(PortBudgetTest, LoopbackSuggestsSourceAddresses) {
  const std::string w = portBudgetWarning(20'000, 1, true, 28'232);
  EXPECT_NE(w.find("20000 connections per source address"), std::string::npos) << w;
  EXPECT_NE(w.find("--source-ips 2"), std::string::npos) << w;
  EXPECT_EQ(w.find("fail past all"), std::string::npos) << w;
  EXPECT_EQ(portBudgetWarning(20'000, 2, true, 28'232), "");
}

TEST(PortBudgetTest, RemoteUsesOneAddressWhateverSourceIpsSays) {
  // --source-ips is for loopback only: a pod connects from its one address.
  const std::string w = portBudgetWarning(40'000, 8, false, 64'512);
  EXPECT_NE(w.find("40000 connections per source address"), std::string::npos) << w;
  EXPECT_NE(w.find("at or below 32256 connections"), std::string::npos) << w;
  EXPECT_NE(w.find("ip_local_port_range"), std::string::npos) << w;
  EXPECT_EQ(w.find("--source-ips"), std::string::npos) << w;
}

TEST(PortBudgetTest, SaysWhenConnectionsWillFail) {
  const std::string w = portBudgetWarning(70'000, 1, false, 28'232);
  EXPECT_NE(w.find("connections fail past all of them"), std::string::npos) << w;
}

}  // namespace
}  // namespace mws::load
