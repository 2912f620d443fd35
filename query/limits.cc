#include "query/limits.h"

#include <algorithm>
#include <mutex>

namespace pmdb::query {
namespace {

std::mutex mu;
QueryLimits current;  // guarded by mu

}  // namespace

QueryLimits Limits() {
  std::lock_guard<std::mutex> lock(mu);
  return current;
}

void SetLimits(QueryLimits limits) {
  limits.max_depth = std::clamp(limits.max_depth, 1, kMaxDepth);
  limits.max_criteria = std::max<size_t>(limits.max_criteria, 1);
  limits.max_bytes = std::max<size_t>(limits.max_bytes, 16);
  std::lock_guard<std::mutex> lock(mu);
  current = limits;
}

}  // namespace pmdb::query
