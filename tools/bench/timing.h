// Latency percentiles of repeated runs.
#ifndef PMDB_TOOLS_BENCH_TIMING_H_
#define PMDB_TOOLS_BENCH_TIMING_H_

#include <functional>
#include <vector>

namespace pmdb::bench {

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
  int runs = 0;
};

// Runs `fn` `warmup` times untimed, then `runs` times timed with a monotonic clock.
Latency Measure(const std::function<void()>& fn, int runs, int warmup = 3);
// Percentiles of durations measured elsewhere (milliseconds).
Latency FromSamples(std::vector<double> ms);

}  // namespace pmdb::bench

#endif  // PMDB_TOOLS_BENCH_TIMING_H_
