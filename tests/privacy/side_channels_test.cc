// Attacks on what comes with an answer rather than on its numbers: errors, refusals and time.
// An approved researcher singles out women by sex and exact age and asks whether a part of a
// question selects anyone, reading the bit from whether the question is refused or how long it
// takes. Each attack runs with the side-channel defences off ([disclosure] close_side_channels
// = false, where it must succeed) and with deploy/node.example.toml (where it must fail).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/privacy/lab.h"

namespace pmdb::privacy {
namespace {

using testing::SixRegions;

constexpr char kAttacker[] = "anna";

// A question part that makes every region scan all of its variants, and so take measurably
// longer, when it is reached.
constexpr char kHeavy[] = "range(GRCh38:22:1-250000000)";

// "Some woman of this age, in some region, carries this site": the bit the attacks read. Ages
// are chosen so that both answers occur.
struct Probe {
  uint32_t age;
  size_t site;
  bool truth;
};

std::vector<Probe> Probes(const Lab& lab, size_t n) {
  std::map<uint32_t, std::vector<const Person*>> women;
  for (const Person& p : lab.people()) {
    if (p.sex == 'F') women[p.age].push_back(&p);
  }
  size_t site = lab.SiteWithShare(0.15);
  std::vector<Probe> yes, no;
  for (const auto& [age, people] : women) {
    bool carried = std::any_of(people.begin(), people.end(),
                               [&](const Person* p) { return p->alt[site] > 0; });
    (carried ? yes : no).push_back({age, site, carried});
  }
  std::vector<Probe> out;
  for (size_t i = 0; out.size() < n && (i < yes.size() || i < no.size()); ++i) {
    if (i < yes.size()) out.push_back(yes[i]);
    if (i < no.size() && out.size() < n) out.push_back(no[i]);
  }
  return out;
}

std::string Selection(const Lab& lab, const Probe& p) {
  return absl::StrCat("sex(F) AND age(", p.age, ") AND ", lab.sites()[p.site]);
}

void NoteRefusals(const CountReply& r, Outcome* o) {
  for (const auto& [region, part] : r.parts) {
    if (part.status == v1::REGION_REFUSED) {
      ++o->refused;
      if (o->refusal.empty()) o->refusal = part.detail;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The error oracle: `S AND gene(NOSUCHGENE)`. Where an AND stops at an empty intersection and a
// gene is checked only when reached, the question fails exactly when S selects someone — at no
// cost, since a failed question is never charged. (The releaser gives an error found while
// reading data one fixed text, but that it fails at all is the bit.)

Outcome ErrorOracle(Lab& lab, Confusion* c) {
  Outcome o{.attack = "oracle/error", .defences = lab.defences()};
  o.measure = "balanced-accuracy";
  for (const Probe& p : Probes(lab, 40)) {
    CountReply r = lab.Count(kAttacker, Selection(lab, p) + " AND gene(NOSUCHGENE)");
    NoteRefusals(r, &o);
    bool invalid = false;
    for (const auto& [region, part] : r.parts) invalid |= part.status != v1::REGION_OK;
    c->Add(p.truth, invalid);
    ++o.targets;
  }
  o.questions = lab.asked();
  o.success = c->BalancedAccuracy();
  return o;
}

TEST(ErrorOracleAttack, ReadsWhetherAPartSelectsAnyoneWithoutDefences) {
  Lab lab({.defences = Defences::kOff});
  lab.Start();
  Confusion c;
  Outcome o = ErrorOracle(lab, &c);
  o.Print();
  EXPECT_GE(c.positives(), 10);
  EXPECT_GE(c.negatives(), 10);
  EXPECT_EQ(o.success, 1.0);
}

TEST(ErrorOracleAttack, GetsTheSameErrorWhateverTheDataAgainstTheDefaults) {
  Lab lab({.defences = Defences::kDefaults});
  lab.Start();
  Confusion c;
  Outcome o = ErrorOracle(lab, &c);
  o.Print();
  EXPECT_EQ(o.success, 0.5) << "every question must get the same answer";
  EXPECT_EQ(o.refused, 0) << "an invalid question is refused before any budget is looked at";
}

// A variant: the same oracle once the researcher's budget is used up, and with a warning
// instead of an error (an HPO id the ontology does not know).
TEST(ErrorOracleAttack, BudgetSpentOrWarningsInsteadOfErrorsTellNothingAgainstTheDefaults) {
  Lab lab({.defences = Defences::kDefaults});
  lab.Start();
  // Spends the budget on questions that differ from each other in several criteria.
  for (int i = 0; i < 80; ++i) {
    if (!lab.Count(kAttacker, absl::StrCat("age(", i, "-) OR ", VacuousPair(i))).ok("vast")) break;
  }
  Confusion errors, warnings;
  std::set<std::string> texts;
  for (const Probe& p : Probes(lab, 30)) {
    CountReply r = lab.Count(kAttacker, Selection(lab, p) + " AND gene(NOSUCHGENE)");
    bool invalid = false;
    for (const auto& [region, part] : r.parts) {
      invalid |= part.status == v1::REGION_INVALID;
      texts.insert(part.detail);
    }
    // Once no region can afford a new question the hub refuses it itself, for everyone alike.
    EXPECT_TRUE(r.status.ok() || r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << r.status.error_message();
    errors.Add(p.truth, invalid);
    CountReply w = lab.Count(kAttacker, Selection(lab, p) + " AND hpo(HP:9999999)");
    bool warned = false;
    for (const auto& [region, part] : w.parts) warned |= part.status != v1::REGION_REFUSED;
    warnings.Add(p.truth, warned);
  }
  EXPECT_EQ(errors.BalancedAccuracy(), 0.5);
  EXPECT_EQ(warnings.BalancedAccuracy(), 0.5);
  EXPECT_EQ(texts.size(), 1u) << "one error text for every region and question: " << *texts.begin()
                              << " / " << *texts.rbegin();
}

// ---------------------------------------------------------------------------------------------
// The timing oracle: `S AND <heavy part>`. Where an AND stops at an empty intersection, the
// heavy part is only evaluated when S selects someone, and the answer comes later. The attacker
// reads each probe's time as the fastest of three askings (repeats are free) and splits the
// probes into a fast and a slow group: no calibration, no knowledge of the data.

double Fastest(Lab& lab, const std::string& question, Outcome* o) {
  double best = 1e9;
  for (int i = 0; i < 3; ++i) {
    CountReply r = lab.Count(kAttacker, question);
    NoteRefusals(r, o);
    best = std::min(best, r.seconds);
  }
  return best;
}

Outcome TimingOracle(Lab& lab, Confusion* c, double* gap_ms) {
  Outcome o{.attack = "oracle/timing", .defences = lab.defences()};
  o.measure = "balanced-accuracy";
  std::vector<Probe> probes = Probes(lab, 30);
  std::vector<double> times;
  for (const Probe& p : probes)
    times.push_back(Fastest(lab, Selection(lab, p) + " AND " + kHeavy, &o));
  // Two clusters of log-times, split where the between-class variance is largest (Otsu's
  // method): one slow outlier on a busy machine does not move the split, as the widest gap would.
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double threshold = sorted.back();
  double best = -1;
  const size_t n = sorted.size();
  for (size_t i = 1; i < n; ++i) {
    double low = 0, high = 0;
    for (size_t k = 0; k < n; ++k) (k < i ? low : high) += std::log(sorted[k]);
    low /= static_cast<double>(i);
    high /= static_cast<double>(n - i);
    double w = static_cast<double>(i) * static_cast<double>(n - i) / (n * n);
    double between = w * (high - low) * (high - low);
    if (between > best) {
      best = between;
      threshold = (sorted[i] + sorted[i - 1]) / 2;
      *gap_ms = (sorted[i] - sorted[i - 1]) * 1000;
    }
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    if (std::getenv("PMDB_PRIVACY_VERBOSE") != nullptr) {
      std::printf("[privacy]   probe age %u truth %d: %.2f ms (threshold %.2f)\n", probes[i].age,
                  probes[i].truth, times[i] * 1000, threshold * 1000);
    }
    c->Add(probes[i].truth, times[i] > threshold);
    ++o.targets;
  }
  o.questions = lab.asked();
  o.success = c->BalancedAccuracy();
  return o;
}

TEST(TimingOracleAttack, ReadsWhetherAPartSelectsAnyoneWithoutDefences) {
  Lab lab({.defences = Defences::kOff, .variants = 2000});
  lab.Start();
  Confusion c;
  double gap_ms = 0;
  Outcome o = TimingOracle(lab, &c, &gap_ms);
  o.Print();
  std::printf("[privacy]   gap at the split between fast and slow probes: %.2f ms\n", gap_ms);
  EXPECT_GE(c.positives(), 10);
  EXPECT_GE(c.negatives(), 10);
  EXPECT_GE(o.success, 0.9);
}

TEST(TimingOracleAttack, IsNoBetterThanACoinTossAgainstTheDefaults) {
  Lab lab({.defences = Defences::kDefaults, .variants = 2000});
  lab.Start();
  Confusion c;
  double gap_ms = 0;
  Outcome o = TimingOracle(lab, &c, &gap_ms);
  o.Print();
  std::printf("[privacy]   gap at the split between fast and slow probes: %.2f ms\n", gap_ms);
  EXPECT_EQ(o.refused, 0) << o.refusal;
  // Thirty probes: a coin toss lands within 0.5 +/- 0.25 all but about 1 time in 150.
  EXPECT_LE(o.success, 0.75);
}

// ---------------------------------------------------------------------------------------------
// Labels and costs read from the data: a breakdown by diagnosis whose cells are the categories
// a region holds tells which diagnoses it holds (consent ignored, since the list is of the
// store), and its price, one count per cell, tells how many. The attacker asks for everyone's
// breakdown by diagnosis and reads whether each cancer category has a cell.

const std::vector<std::string>& Cancers() {
  static const std::vector<std::string> kCancers = {"C18", "C25", "C34", "C43", "C44",
                                                    "C50", "C56", "C61", "C64", "C67",
                                                    "C71", "C73", "C91", "C92", "Q87"};
  return kCancers;
}

Outcome LabelsAndCosts(Lab& lab, Confusion* c, std::set<double>* costs) {
  Outcome o{.attack = "shape/diagnosis-cells", .defences = lab.defences()};
  o.measure = "balanced-accuracy";
  const std::string everyone = "sex(F) OR sex(M) OR sex(O) OR sex(U)";
  std::map<std::string, std::set<std::string>> held;
  for (const std::string& region : SixRegions()) {
    for (const auto& [label, n] : lab.ExactBreakdown(region, everyone, {v1::DIAGNOSIS})) {
      if (n > 0) held[region].insert(label);
    }
  }
  lab.Start();
  // Without the defences the cells come from the data; with them the attacker must name them,
  // and names every candidate.
  bool named = lab.defences() == Defences::kDefaults;
  BreakdownReply r = lab.Breakdown(kAttacker, everyone, {v1::DIAGNOSIS},
                                   named ? Cancers() : std::vector<std::string>{});
  for (const std::string& region : SixRegions()) {
    if (!r.ok(region)) {
      ++o.refused;
      if (o.refusal.empty()) o.refusal = r.parts[region].detail;
      continue;
    }
    costs->insert(r.rho[region]);
    for (const std::string& cancer : Cancers()) {
      c->Add(held[region].contains(cancer), r.cells[region].contains(cancer));
      ++o.targets;
    }
  }
  o.questions = lab.asked();
  o.success = c->BalancedAccuracy();
  return o;
}

TEST(LabelsAndCostsAttack, CellsTellWhichDiagnosesARegionHoldsWithoutDefences) {
  Lab lab({.defences = Defences::kOff});
  Confusion c;
  std::set<double> costs;
  Outcome o = LabelsAndCosts(lab, &c, &costs);
  o.Print();
  EXPECT_GE(c.positives(), 10);
  EXPECT_GE(c.negatives(), 6) << "some categories must be missing from some regions";
  EXPECT_EQ(o.success, 1.0);
}

TEST(LabelsAndCostsAttack, CellsAndPricesAreTheQuestionsAgainstTheDefaults) {
  Lab lab({.defences = Defences::kDefaults});
  Confusion c;
  std::set<double> costs;
  Outcome o = LabelsAndCosts(lab, &c, &costs);
  o.Print();
  EXPECT_EQ(o.refused, 0) << o.refusal;
  EXPECT_EQ(o.success, 0.5);
  // Every region charges the same: one count per named code, whatever it holds.
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_NEAR(*costs.begin(), 0.02 * static_cast<double>(Cancers().size()), 1e-9);
}

}  // namespace
}  // namespace pmdb::privacy
