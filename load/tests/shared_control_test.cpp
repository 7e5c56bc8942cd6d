#include "mws/load/shared_control.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mws::load {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(SharedControlTest, BarrierReleasesWhenTheLastWorkerArrives) {
  SharedControl shared(3);
  const int fd = shared.wakeFd(Barrier::kRamped);
  shared.arrive(Barrier::kRamped, 100);
  shared.arrive(Barrier::kRamped, 200);
  EXPECT_EQ(shared.releasedAt(Barrier::kRamped), 0u);
  EXPECT_FALSE(readable(fd));
  shared.arrive(Barrier::kRamped, 300);
  EXPECT_EQ(shared.releasedAt(Barrier::kRamped), 300u);
  EXPECT_TRUE(readable(fd));
  EXPECT_TRUE(readable(fd)) << "stays readable: every waiting worker must see it";
  // The other barriers are untouched.
  EXPECT_EQ(shared.releasedAt(Barrier::kEchoed), 0u);
  EXPECT_FALSE(readable(shared.wakeFd(Barrier::kEchoed)));
}

TEST(SharedControlTest, ForkedWorkerWakesTheParent) {
  // The mapping and the eventfds are made before fork, as the supervisor does.
  SharedControl shared(2);
  shared.arrive(Barrier::kEchoed, 5);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    shared.arrive(Barrier::kEchoed, 7);
    _exit(0);
  }
  pollfd p{shared.wakeFd(Barrier::kEchoed), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(shared.releasedAt(Barrier::kEchoed), 7u);
}

}  // namespace
}  // namespace mws::load
