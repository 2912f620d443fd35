// What differential privacy costs a researcher in accuracy, under the demo's defaults
// (tools/bench/utility): released counts against the truth by cohort size, per region and for
// the national total, the measured coverage of the 95 % intervals, and how far a 50-question
// feasibility session gets on a researcher's budget.
//
// Numbers are released through the regions' own code (security::Discloser, the same key
// derivation and discrete Gaussian sampler a node uses, with a fresh key) and summed the way
// the hub sums them (security::ReleasedSum). The noise does not depend on who the people are,
// only on how many, so no store is needed: each repetition is a new question (a new noise key)
// about a cohort of the given size.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "node/base/strings.h"
#include "security/disclosure.h"
#include "security/privacy_budget.h"
#include "security/released.h"
#include "security/secure_sum.h"
#include "tools/bench/bench_flags.h"

namespace pmdb {
namespace {

// The demo's regions: sigma 5 everywhere but syd (8), min_count 5.
struct Region {
  const char* id;
  uint32_t sigma_centi;
};
constexpr Region kRegions[] = {{"norr", 500},   {"mellan", 500}, {"stockholm-gotland", 500},
                               {"sydost", 500}, {"vast", 500},   {"syd", 800}};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

struct Stats {
  std::vector<double> abs_error;  // |noised - truth|
  std::vector<double> rel_error;  // |shown - truth| / truth
  int covered = 0;
  int small = 0;  // shown as <5
  int n = 0;
  void Add(const v1::ReleasedCount& c, uint64_t truth) {
    ++n;
    double noised = c.has_noised() ? static_cast<double>(c.noised()) : static_cast<double>(c.low());
    abs_error.push_back(std::abs(noised - static_cast<double>(truth)));
    double shown = c.low() == c.high() ? static_cast<double>(c.low())
                                       : (static_cast<double>(c.low()) + c.high()) / 2;
    rel_error.push_back(truth == 0 ? 0 : std::abs(shown - static_cast<double>(truth)) / truth);
    covered += c.ci95_low() <= truth && truth <= c.ci95_high() ? 1 : 0;
    small += c.low() != c.high() ? 1 : 0;
  }
  std::string Row(const std::string& label) const {
    char buf[256];
    std::snprintf(buf, sizeof(buf), "| %s | %.1f | %.1f | %.1f %% | %.1f %% | %.1f %% | %.1f %% |",
                  label.c_str(), Percentile(abs_error, 0.5), Percentile(abs_error, 0.95),
                  100 * Percentile(rel_error, 0.5), 100 * Percentile(rel_error, 0.95),
                  100.0 * covered / n, 100.0 * small / n);
    return buf;
  }
};

std::string Secret(int i) {
  std::string s(32, '\0');
  for (int k = 0; k < 32; ++k)
    s[static_cast<size_t>(k)] = static_cast<char>((i * 131 + k * 7) & 0xff);
  return s;
}

}  // namespace
}  // namespace pmdb

int main(int argc, char** argv) {
  using namespace pmdb;
  bench::BenchFlags flags("pmdb_utilbench", argc, argv);
  const int reps = std::stoi(flags.Get("reps", "4000"));
  std::vector<uint64_t> sizes;
  const std::string size_list = flags.Get("sizes", "10,30,100,300,1000,10000");
  for (std::string_view s : Split(size_list, ',')) {
    sizes.push_back(std::stoull(std::string(s)));
  }
  std::vector<security::Discloser> regions;
  for (size_t r = 0; r < std::size(kRegions); ++r) {
    security::DisclosureRules rules;
    rules.scale.sigma_centi = kRegions[r].sigma_centi;
    regions.emplace_back(rules, Secret(static_cast<int>(r) + 1));
  }

  std::printf("## Released counts against the truth (demo defaults, %d questions per row)\n\n",
              reps);
  std::printf(
      "One region (vast, sigma 5), and the national total of six regions (five with sigma 5, "
      "syd with 8) each holding a sixth of the cohort: summed from the regions' own noised "
      "parts (per region), or released once by secure aggregation (secure: the round takes the "
      "largest sigma of its regions, syd's 8; and with every region at the default sigma 5). "
      "*abs. error* is |noised - truth|; "
      "*rel. error* compares what is shown (the middle of `<5`) with the truth; *coverage* is how "
      "often `ci95` holds the truth; *shown <5* how often the number was shown as a range.\n\n");
  std::printf(
      "| cohort | abs. error p50 | p95 | rel. error p50 | p95 | ci95 coverage | shown <5 |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  // Secure aggregation (security/secure_sum.h): each region adds its share of the noise, and
  // the hub releases the sum once. Once with the demo's regions, once with every region at the
  // default sigma 5. (The masks cancel exactly and do not change the numbers; tests/unit/
  // security/secure_sum_test.cc checks that.)
  std::vector<security::Discloser> defaults;
  for (size_t r = 0; r < std::size(kRegions); ++r) {
    defaults.emplace_back(security::DisclosureRules(), Secret(static_cast<int>(r) + 101));
  }
  auto secure = [&](const std::vector<security::Discloser>& from, uint64_t n,
                    const std::string& q) {
    const uint32_t m = static_cast<uint32_t>(from.size());
    // The round's noise is the largest of its regions' sigmas (hub::Hub::National), so that
    // every region is protected at least as its own rules say.
    security::NoiseScale round;
    round.sigma_centi = 0;
    for (const security::Discloser& d : from) {
      round.sigma_centi = std::max(round.sigma_centi, d.rules().scale.sigma_centi);
    }
    int64_t total = 0;
    double variance = 0;
    for (uint32_t r = 0; r < m; ++r) {
      const security::Rational share = *security::ShareVariance(round, m, 0);
      const uint64_t part = n / m + (r < n % m ? 1 : 0);
      total += static_cast<int64_t>(part) + from[r].NoiseShare(q, "", share);
      variance += static_cast<double>(share.num) / static_cast<double>(share.den);
    }
    return security::NoisedCount(total, std::sqrt(variance), 5);
  };
  int question = 0;
  for (uint64_t n : sizes) {
    Stats region, national, national_secure, defaults_secure;
    for (int i = 0; i < reps; ++i) {
      std::string q = StrCat("count utility-", question++, " @1");
      region.Add(regions[4].ReleaseCount(n, q), n);
      security::ReleasedSum sum;
      for (size_t r = 0; r < regions.size(); ++r) {
        uint64_t part = n / regions.size() + (r < n % regions.size() ? 1 : 0);
        sum.Add(regions[r].ReleaseCount(part, q));
      }
      national.Add(sum.Total(5), n);
      national_secure.Add(secure(regions, n, q), n);
      defaults_secure.Add(secure(defaults, n, q), n);
    }
    std::printf("%s\n", region.Row(StrCat(n, ", one region")).c_str());
    std::printf("%s\n", national.Row(StrCat(n, ", national per region")).c_str());
    std::printf("%s\n", national_secure.Row(StrCat(n, ", national secure")).c_str());
    std::printf("%s\n", defaults_secure.Row(StrCat(n, ", national secure, all sigma 5")).c_str());
  }

  // A feasibility session: 30 counts, 10 breakdowns by sex x age band, 10 allele frequencies,
  // all new questions, charged in one region under the demo's budgets.
  security::PrivacyBudgets budgets;  // researcher 1 per 30 days, 4 a year; region 4, 12
  budgets.projects.push_back(
      {.id = "demo-feasibility", .members = {"anna"}, .budget_micros = 2'000'000});
  security::PrivacyLedger ledger(budgets);
  const security::Discloser& d = regions[4];
  struct Ask {
    const char* kind;
    uint64_t micros;
  };
  std::vector<Ask> session;
  for (int i = 0; i < 30; ++i) session.push_back({"count", d.CostMicros()});
  for (int i = 0; i < 10; ++i) session.push_back({"breakdown", d.CostMicros(1)});
  for (int i = 0; i < 10; ++i) session.push_back({"frequency", 2 * d.CostMicros()});
  // Interleaved as a researcher would ask: a count, then now and then a breakdown or frequency.
  std::vector<Ask> ordered;
  for (size_t i = 0, c = 0, b = 30, f = 40; ordered.size() < session.size(); ++i) {
    if (c < 30) ordered.push_back(session[c++]);
    if (i % 3 == 2 && b < 40) ordered.push_back(session[b++]);
    if (i % 3 == 2 && f < 50) ordered.push_back(session[f++]);
  }
  int answered = 0;
  uint64_t spent = 0;
  std::string refusal;
  for (size_t i = 0; i < ordered.size(); ++i) {
    auto charged = ledger.Charge({"spiffe://se-pm/researcher/anna", "demo-feasibility",
                                  StrCat("release-", i), ordered[i].micros},
                                 1'800'000'000);
    if (charged.ok()) {
      ++answered;
      spent += *charged;
    } else if (refusal.empty()) {
      refusal = std::string(charged.status().message());
    }
  }
  std::printf("\n## A 50-question feasibility session\n\n");
  std::printf(
      "30 counts (rho %s each), 10 breakdowns by sex x age band (%s), 10 allele frequencies "
      "(%s), all new, in one region under the demo's budgets: %d of 50 answered, rho %s spent "
      "of the researcher's 1 per 30 days.%s%s\n",
      security::FormatMicros(d.CostMicros()).c_str(),
      security::FormatMicros(d.CostMicros(1)).c_str(),
      security::FormatMicros(2 * d.CostMicros()).c_str(), answered,
      security::FormatMicros(spent).c_str(),
      refusal.empty() ? "" : " First refusal: ", refusal.c_str());
  return 0;
}
