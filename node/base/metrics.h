// Metrics in the Prometheus text exposition format (version 0.0.4), for the operations endpoint
// (node/transport/ops_endpoint.h).
//
// Debian 12's prometheus-cpp cannot be installed beside htslib (their -dev packages want the
// OpenSSL and the GnuTLS flavour of libcurl), so pmdb keeps its own small registry: counters,
// gauges and histograms with labels, plus collectors that read a figure when scraped (RocksDB,
// connections, budgets, certificate expiry). The output is checked with Prometheus's own
// `promtool check metrics` in the tests.
//
// Labels never carry patient data: methods, status codes, regions, projects, files.
// Thread-safe.
#ifndef PMDB_NODE_BASE_METRICS_H_
#define PMDB_NODE_BASE_METRICS_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace pmdb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

// One value read at scrape time.
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

class Registry {
 public:
  // Every metric is described once before use (a second description of the same name is
  // ignored). Histograms take their bucket bounds here.
  void Describe(const std::string& name, Type type, const std::string& help,
                std::vector<double> buckets = {});

  void Add(const std::string& name, const Labels& labels, double delta = 1);  // counter
  void Set(const std::string& name, const Labels& labels, double value);      // gauge
  void Observe(const std::string& name, const Labels& labels, double value);  // histogram

  // `collect` runs at every scrape and returns the current values of metrics described
  // here (gauges, or counters kept elsewhere). Returns an id for RemoveCollector.
  int AddCollector(std::function<std::vector<Sample>()> collect);
  void RemoveCollector(int id);

  // The whole registry in the text format, families in name order.
  std::string Text() const;

  // The value of one series (counters and gauges; a histogram's count), 0 when absent: for
  // tests and for readiness checks.
  double Value(const std::string& name, const Labels& labels) const;

 private:
  struct Series {
    double value = 0;              // counter, gauge; histogram: sum
    std::vector<uint64_t> counts;  // histogram: per bucket (not cumulative), then +Inf
    uint64_t count = 0;            // histogram: observations
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered labels
  };
  Series& At(const std::string& name, const Labels& labels) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::function<std::vector<Sample>()>> collectors_ ABSL_GUARDED_BY(mu_);
  int next_collector_ ABSL_GUARDED_BY(mu_) = 0;
};

// `{a="x",b="y"}` with the format's escaping, "" for no labels.
std::string RenderLabels(const Labels& labels);

// Latency buckets in seconds, from 0.1 ms to 10 s, as gRPC dashboards expect.
std::vector<double> LatencyBuckets();

}  // namespace pmdb::metrics

#endif  // PMDB_NODE_BASE_METRICS_H_
