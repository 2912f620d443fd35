// Named crash points for durability tests, in the spirit of RocksDB's sync points: when the
// environment variable PMDB_CRASH_AT equals the point's name, the process kills itself with
// SIGKILL right there, as a power cut or `kill -9` would. Costs one cached getenv otherwise.
//
// Named failure points for the error paths a test cannot otherwise reach (a write that fails
// after everything before it succeeded): ArmFailure(name, n) makes the next n FailureAt(name)
// calls in this process return true. Unarmed, FailureAt costs one atomic load.
#ifndef PMDB_NODE_BASE_CRASH_POINT_H_
#define PMDB_NODE_BASE_CRASH_POINT_H_

#include <string_view>

namespace pmdb {

void CrashPoint(std::string_view name);

void ArmFailure(std::string_view name, int times);
bool FailureAt(std::string_view name);

}  // namespace pmdb

#endif  // PMDB_NODE_BASE_CRASH_POINT_H_
