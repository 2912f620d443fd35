#include "node/base/crash_point.h"

#include <csignal>
#include <cstdlib>

namespace pmdb {

void CrashPoint(std::string_view name) {
  static const char* armed = std::getenv("PMDB_CRASH_AT");
  if (armed != nullptr && name == armed) std::raise(SIGKILL);
}

}  // namespace pmdb
