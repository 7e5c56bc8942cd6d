// MWS_CHECK: a condition that must hold in every build; failing it is a bug or
// an unrecoverable environment fault, so the process aborts with a message.
// MWS_ASSERT: the same, compiled only into debug builds (hot-path invariants).
#pragma once

#include <cstdio>
#include <cstdlib>

#define MWS_CHECK(cond)                                                             \
  do {                                                                              \
    if (!(cond)) [[unlikely]] {                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#ifdef NDEBUG
#define MWS_ASSERT(cond) ((void)0)
#else
#define MWS_ASSERT(cond) MWS_CHECK(cond)
#endif
