#include "node/base/crash_point.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace pmdb {
namespace {

std::atomic<int> armed_failures{0};  // how many are armed, over all names
std::mutex failures_mu;
std::map<std::string, int, std::less<>>& Failures() {
  static auto* failures = new std::map<std::string, int, std::less<>>();
  return *failures;
}

}  // namespace

void CrashPoint(std::string_view name) {
  static const char* armed = std::getenv("PMDB_CRASH_AT");
  if (armed != nullptr && name == armed) std::raise(SIGKILL);
}

void ArmFailure(std::string_view name, int times) {
  std::lock_guard<std::mutex> lock(failures_mu);
  int& left = Failures()[std::string(name)];
  armed_failures += times - left;
  left = times;
}

bool FailureAt(std::string_view name) {
  if (armed_failures.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(failures_mu);
  auto it = Failures().find(name);
  if (it == Failures().end() || it->second == 0) return false;
  --it->second;
  --armed_failures;
  return true;
}

}  // namespace pmdb
