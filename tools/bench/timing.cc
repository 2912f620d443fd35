#include "tools/bench/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace pmdb::bench {

Latency FromSamples(std::vector<double> ms) {
  Latency l;
  l.runs = static_cast<int>(ms.size());
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  l.p50_ms = ms[(ms.size() - 1) / 2];
  size_t p99 = static_cast<size_t>(std::ceil(0.99 * ms.size())) - 1;
  l.p99_ms = ms[std::min(p99, ms.size() - 1)];
  return l;
}

Latency Measure(const std::function<void()>& fn, int runs, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  ms.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return FromSamples(std::move(ms));
}

}  // namespace pmdb::bench
