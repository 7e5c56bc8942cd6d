#include "mws/base/errc.h"

namespace mws {

const char* errcName(Errc errc) noexcept {
  switch (errc) {
    case Errc::kOk: return "ok";
    case Errc::kAgain: return "again";
    case Errc::kClosed: return "closed";
    case Errc::kReset: return "reset";
    case Errc::kNoMemory: return "no-memory";
    case Errc::kLimit: return "limit";
  }
  return "unknown";
}

}  // namespace mws
