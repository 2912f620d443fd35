#include "node/base/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pmdb::metrics {
namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Help text escapes backslashes and newlines; label values also double quotes.
std::string Escape(const std::string& s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Rendered labels with one more label added (a histogram's `le`).
std::string WithLabel(const std::string& rendered, const std::string& name,
                      const std::string& value) {
  std::string extra = name + "=\"" + value + "\"";
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + Escape(labels[i].second, true) + "\"";
  }
  return out + "}";
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
}

void Registry::Describe(const std::string& name, Type type, const std::string& help,
                        std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.count(name) > 0) return;
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  std::sort(buckets.begin(), buckets.end());
  f.buckets = std::move(buckets);
}

Registry::Series& Registry::At(const std::string& name, const Labels& labels) {
  Family& f = families_[name];  // an undescribed name becomes an untyped counter
  Series& s = f.series[RenderLabels(labels)];
  if (f.type == Type::kHistogram && s.counts.empty()) s.counts.assign(f.buckets.size() + 1, 0);
  return s;
}

void Registry::Add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard<std::mutex> lock(mu_);
  At(name, labels).value += delta;
}

void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  At(name, labels).value = value;
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = At(name, labels);
  const std::vector<double>& bounds = families_[name].buckets;
  size_t i = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  if (s.counts.size() < bounds.size() + 1) s.counts.resize(bounds.size() + 1, 0);
  ++s.counts[i];
  ++s.count;
  s.value += value;
}

int Registry::AddCollector(std::function<std::vector<Sample>()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_[next_collector_] = std::move(collect);
  return next_collector_++;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.erase(id);
}

double Registry::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto s = f->second.series.find(RenderLabels(labels));
  if (s == f->second.series.end()) return 0;
  return f->second.type == Type::kHistogram ? static_cast<double>(s->second.count)
                                            : s->second.value;
}

std::string Registry::Text() const {
  std::vector<std::function<std::vector<Sample>()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  // Collectors run without the lock: they may take their own.
  std::map<std::string, std::map<std::string, double>> collected;
  for (const auto& c : collectors) {
    for (const Sample& s : c()) collected[s.name][RenderLabels(s.labels)] = s.value;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    auto extra = collected.find(name);
    if (f.series.empty() && extra == collected.end()) continue;
    out += "# HELP " + name + " " + Escape(f.help, false) + "\n";
    out += "# TYPE " + name + " " + TypeName(f.type) + "\n";
    if (f.type == Type::kHistogram) {
      for (const auto& [labels, s] : f.series) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < f.buckets.size(); ++i) {
          cumulative += i < s.counts.size() ? s.counts[i] : 0;
          out += name + "_bucket" + WithLabel(labels, "le", Number(f.buckets[i])) + " " +
                 Number(static_cast<double>(cumulative)) + "\n";
        }
        out += name + "_bucket" + WithLabel(labels, "le", "+Inf") + " " +
               Number(static_cast<double>(s.count)) + "\n";
        out += name + "_sum" + labels + " " + Number(s.value) + "\n";
        out += name + "_count" + labels + " " + Number(static_cast<double>(s.count)) + "\n";
      }
      continue;
    }
    std::map<std::string, double> values;
    for (const auto& [labels, s] : f.series) values[labels] = s.value;
    if (extra != collected.end()) {
      for (const auto& [labels, v] : extra->second) values[labels] = v;
    }
    for (const auto& [labels, v] : values) out += name + labels + " " + Number(v) + "\n";
  }
  return out;
}

}  // namespace pmdb::metrics
