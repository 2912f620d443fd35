#include "security/disclosure.h"

#include <gtest/gtest.h>

#include <set>

namespace pmdb::security {
namespace {

v1::Breakdown Table(const std::vector<std::vector<std::string>>& labels,
                    const std::vector<uint64_t>& counts, int dims) {
  v1::Breakdown b;
  for (int d = 0; d < dims; ++d) b.add_dimensions(static_cast<v1::Dimension>(d + 1));
  for (size_t i = 0; i < counts.size(); ++i) {
    v1::BreakdownCell* c = b.add_cells();
    for (const std::string& l : labels[i]) c->add_labels(l);
    c->set_count(counts[i]);
  }
  return b;
}

TEST(ThresholdsOnlyTest, SmallCountsBecomeARangeIncludingZero) {
  Discloser d({.min_count = 5, .differential_privacy = false}, "secret");
  for (uint64_t small : {0u, 1u, 4u}) {
    v1::ReleasedCount c = d.ReleaseCount(small, "q");
    EXPECT_EQ(c.low(), 0u);
    EXPECT_EQ(c.high(), 4u);
  }
  v1::ReleasedCount c = d.ReleaseCount(5, "q");
  EXPECT_EQ(c.low(), 5u);
  EXPECT_EQ(c.high(), 5u);
}

TEST(ThresholdsOnlyTest, NoiseIsConsistentBoundedAndKeyed) {
  Discloser d({.min_count = 5, .differential_privacy = false, .noise = 3}, "secret");
  Discloser other_key({.min_count = 5, .differential_privacy = false, .noise = 3},
                      "another secret");
  std::set<int64_t> offsets;
  int differs_by_key = 0;
  for (int q = 0; q < 200; ++q) {
    std::string question = "count dx(C" + std::to_string(q) + ")";
    v1::ReleasedCount a = d.ReleaseCount(1000, question);
    v1::ReleasedCount b = d.ReleaseCount(1000, question);
    EXPECT_EQ(a.low(), b.low()) << "the same question must get the same answer";
    EXPECT_EQ(a.low(), a.high());
    int64_t offset = static_cast<int64_t>(a.low()) - 1000;
    EXPECT_LE(std::abs(offset), 3);
    offsets.insert(offset);
    differs_by_key += other_key.ReleaseCount(1000, question).low() != a.low();
  }
  EXPECT_EQ(offsets.size(), 7u) << "every offset in [-3, 3] should occur over 200 questions";
  EXPECT_GT(differs_by_key, 100);
  // A noised count never falls below the threshold.
  for (int q = 0; q < 50; ++q) {
    EXPECT_GE(d.ReleaseCount(5, "q" + std::to_string(q)).low(), 5u);
  }
}

// Every hidden cell must keep at least two values consistent with the released cells and the
// line totals, whatever the attacker combines.
void ExpectNotRecoverable(const std::vector<size_t>& sizes, const std::vector<uint64_t>& counts,
                          uint32_t k) {
  std::vector<CellFate> fate = ChooseHiddenCells(sizes, counts, k);
  std::vector<std::vector<size_t>> lines;
  size_t rows = sizes[0], cols = sizes.size() == 2 ? sizes[1] : 1;
  if (sizes.size() == 1) {
    std::vector<size_t> all;
    for (size_t i = 0; i < counts.size(); ++i) all.push_back(i);
    lines.push_back(all);
  } else {
    for (size_t r = 0; r < rows; ++r) {
      std::vector<size_t> l;
      for (size_t c = 0; c < cols; ++c) l.push_back(r * cols + c);
      lines.push_back(l);
    }
    for (size_t c = 0; c < cols; ++c) {
      std::vector<size_t> l;
      for (size_t r = 0; r < rows; ++r) l.push_back(r * cols + c);
      lines.push_back(l);
    }
  }
  std::vector<size_t> hidden;
  for (size_t i = 0; i < fate.size(); ++i) {
    if (fate[i] != CellFate::kReleased) hidden.push_back(i);
    if (counts[i] < k) {
      EXPECT_EQ(fate[i], CellFate::kSuppressed) << "cell " << i;
    }
  }
  ASSERT_LE(hidden.size(), 9u);
  // A hidden cell keeps two possible values when some change of the hidden cells by -1, 0 or
  // +1 each, moving that cell, leaves every line total unchanged and every hidden cell within
  // what the reader knows of it (suppressed: 0..k-1, complementary: >= 0). Such a change gives
  // a second table consistent with everything released.
  std::vector<bool> movable(hidden.size(), false);
  std::vector<int> delta(hidden.size(), -1);
  std::function<void(size_t)> search = [&](size_t h) {
    if (h == hidden.size()) {
      std::vector<int64_t> cell_delta(counts.size(), 0);
      for (size_t j = 0; j < hidden.size(); ++j) {
        int64_t v = static_cast<int64_t>(counts[hidden[j]]) + delta[j];
        if (v < 0) return;
        if (fate[hidden[j]] == CellFate::kSuppressed && v >= static_cast<int64_t>(k)) return;
        cell_delta[hidden[j]] = delta[j];
      }
      for (const auto& line : lines) {
        int64_t sum = 0;
        for (size_t i : line) sum += cell_delta[i];
        if (sum != 0) return;
      }
      for (size_t j = 0; j < hidden.size(); ++j) movable[j] = movable[j] || delta[j] != 0;
      return;
    }
    for (int d = -1; d <= 1; ++d) {
      delta[h] = d;
      search(h + 1);
    }
  };
  search(0);
  for (size_t j = 0; j < hidden.size(); ++j) {
    EXPECT_TRUE(movable[j]) << "hidden cell " << hidden[j] << " is recoverable";
  }
}

TEST(DisclosureTest, ComplementarySuppressionInOneDimension) {
  // One small cell: without a complement, total minus the rest would give it away.
  std::vector<uint64_t> counts = {40, 3, 25, 12};
  std::vector<CellFate> fate = ChooseHiddenCells({4}, counts, 5);
  EXPECT_EQ(fate[1], CellFate::kSuppressed);
  EXPECT_EQ(fate[3], CellFate::kComplementary) << "the smallest released cell is the complement";
  EXPECT_EQ(fate[0], CellFate::kReleased);
  EXPECT_EQ(fate[2], CellFate::kReleased);
  ExpectNotRecoverable({4}, counts, 5);
  ExpectNotRecoverable({4}, {5, 0, 9, 30}, 5);
  ExpectNotRecoverable({3}, {2, 3, 100}, 5);
  // Two hidden zeros would both follow from the total: a complement is hidden as well.
  fate = ChooseHiddenCells({4}, {0, 0, 30, 40}, 5);
  EXPECT_EQ(fate[2], CellFate::kComplementary);
  ExpectNotRecoverable({4}, {0, 0, 30, 40}, 5);
  ExpectNotRecoverable({4}, {4, 4, 30, 40}, 5);
}

TEST(DisclosureTest, ComplementarySuppressionInTwoDimensions) {
  // Rows x columns; a single small cell needs complements in its row and its column, and
  // those need complements in theirs.
  std::vector<uint64_t> counts = {20, 30, 2,   //
                                  15, 25, 40,  //
                                  9,  50, 60};
  std::vector<CellFate> fate = ChooseHiddenCells({3, 3}, counts, 5);
  size_t hidden = 0;
  for (CellFate f : fate) hidden += f != CellFate::kReleased;
  EXPECT_GE(hidden, 4u);
  ExpectNotRecoverable({3, 3}, counts, 5);
  ExpectNotRecoverable({2, 4}, {1, 10, 12, 30, 7, 3, 40, 2}, 5);
  ExpectNotRecoverable({2, 3}, {0, 9, 20, 7, 0, 30}, 5);
}

TEST(ThresholdsOnlyTest, ReleasedBreakdownHidesCellsAndMarksWhy) {
  Discloser d({.min_count = 5, .differential_privacy = false}, "secret");
  v1::Breakdown b = Table({{"F"}, {"M"}, {"O"}, {"U"}}, {40, 30, 2, 12}, 1);
  std::vector<v1::ReleasedCell> cells = d.ReleaseBreakdown(b, "q");
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0].count().low(), 40u);
  EXPECT_TRUE(cells[2].suppressed());
  EXPECT_EQ(cells[2].count().high(), 4u);
  EXPECT_TRUE(cells[3].complementary());
  EXPECT_EQ(cells[3].count().low(), 0u);
  EXPECT_EQ(cells[3].count().high(), UINT64_MAX);
}

TEST(DifferentialPrivacyTest, IsTheDefaultAndSaysSo) {
  Discloser d({}, "secret");
  v1::DisclosureApplied a = d.Applied();
  EXPECT_EQ(a.mechanism(), "discrete-gaussian");
  EXPECT_DOUBLE_EQ(a.sigma(), 5.0);
  EXPECT_NE(a.description().find("differential privacy"), std::string::npos) << a.description();
  EXPECT_EQ(d.CostMicros(), 20000u);
  EXPECT_EQ(d.CostMicros(12), 240000u);
  Discloser loose({.differential_privacy = false}, "secret");
  EXPECT_EQ(loose.Applied().mechanism(), "thresholds");
  EXPECT_EQ(loose.Applied().description().rfind("NOT differentially private", 0), 0u);
  EXPECT_EQ(loose.CostMicros(), 0u);
  Discloser open({.close_side_channels = false}, "secret");
  EXPECT_EQ(open.Applied().mechanism(), "discrete-gaussian-side-channels-open");
  EXPECT_EQ(open.Applied().description().rfind("NOT differentially private", 0), 0u);
}

// The mechanism and sigma are part of every key: a region that changes sigma releases anew,
// with noise independent of the old release, and pays again.
TEST(DifferentialPrivacyTest, TheKeyCoversTheMechanismAndSigma) {
  Discloser five({}, "secret");
  security::DisclosureRules rules;
  rules.scale.sigma_centi = 800;
  Discloser eight(rules, "secret");
  EXPECT_NE(five.Fingerprint("count q @1"), eight.Fingerprint("count q @1"));
  EXPECT_EQ(five.Fingerprint("count q @1"), Discloser({}, "secret").Fingerprint("count q @1"));
  int same = 0;
  for (int i = 0; i < 50; ++i) {
    std::string q = "count q" + std::to_string(i) + " @1";
    same += five.ReleaseCount(1000, q).low() == eight.ReleaseCount(1000, q).low() ? 1 : 0;
  }
  EXPECT_LT(same, 15) << "noise under sigma 8 must not be a rescaled copy of sigma 5's";
}

TEST(DifferentialPrivacyTest, NoiseIsRepeatableKeyedAndLabelled) {
  Discloser d({}, "secret");
  Discloser other_key({}, "another secret");
  double sum = 0, sum2 = 0;
  int differs_by_key = 0;
  const int n = 2000;
  for (int q = 0; q < n; ++q) {
    std::string question = "count dx(C" + std::to_string(q) + ") @1";
    v1::ReleasedCount a = d.ReleaseCount(1000, question);
    v1::ReleasedCount b = d.ReleaseCount(1000, question);
    EXPECT_EQ(a.low(), b.low()) << "the same release must get the same number";
    EXPECT_EQ(a.low(), a.high());
    EXPECT_DOUBLE_EQ(a.noise_sd(), 5.0);
    double offset = static_cast<double>(a.low()) - 1000;
    sum += offset;
    sum2 += offset * offset;
    differs_by_key += other_key.ReleaseCount(1000, question).low() != a.low();
  }
  EXPECT_NEAR(sum / n, 0.0, 0.6);
  EXPECT_NEAR(sum2 / n, 25.0, 4.0);
  EXPECT_GT(differs_by_key, n / 2);
  // AC and AN: sensitivity 2 doubles the noise.
  EXPECT_DOUBLE_EQ(d.ReleaseCount(1000, "f ac", 2).noise_sd(), 10.0);
  // The same question on new data (another data version) is a new release with new noise.
  int moved = 0;
  for (int q = 0; q < 100; ++q) {
    std::string question = "count dx(C" + std::to_string(q) + ")";
    moved += d.ReleaseCount(1000, question + " @1").low() !=
             d.ReleaseCount(1000, question + " @2").low();
  }
  EXPECT_GT(moved, 80);
  EXPECT_NE(d.Fingerprint("count sex(F) @1"), d.Fingerprint("count sex(F) @2"));
  EXPECT_EQ(d.Fingerprint("count sex(F) @1"), d.Fingerprint("count sex(F) @1"));
  EXPECT_NE(d.Fingerprint("count sex(F) @1"), other_key.Fingerprint("count sex(F) @1"));
  EXPECT_EQ(d.Fingerprint("x").size(), 16u);
}

TEST(DifferentialPrivacyTest, SmallAndNegativeNoisedNumbersArePostProcessed) {
  Discloser d({}, "secret");
  int small = 0;
  for (int q = 0; q < 400; ++q) {
    v1::ReleasedCount c = d.ReleaseCount(0, "zero " + std::to_string(q));
    if (c.low() == c.high()) {
      EXPECT_GE(c.low(), 5u) << "a noised number below min_count is shown as the range";
    } else {
      EXPECT_EQ(c.low(), 0u);
      EXPECT_EQ(c.high(), 4u);
      ++small;
    }
    EXPECT_DOUBLE_EQ(c.noise_sd(), 5.0);
  }
  // P(noise < 5) for sigma 5 is about 0.84.
  EXPECT_GT(small, 300);
  EXPECT_LT(small, 380);
}

TEST(DifferentialPrivacyTest, BreakdownCellsAreAllNoisedWithoutComplements) {
  Discloser d({}, "secret");
  v1::Breakdown b = Table({{"F"}, {"M"}, {"O"}, {"U"}}, {400, 300, 2, 120}, 1);
  std::vector<v1::ReleasedCell> cells = d.ReleaseBreakdown(b, "q @1");
  ASSERT_EQ(cells.size(), 4u);
  for (const v1::ReleasedCell& c : cells) {
    EXPECT_FALSE(c.complementary());
    EXPECT_DOUBLE_EQ(c.count().noise_sd(), 5.0);
  }
  EXPECT_NEAR(static_cast<double>(cells[0].count().low()), 400, 30);
  EXPECT_NEAR(static_cast<double>(cells[3].count().low()), 120, 30);
  // Cells get independent noise: the same count in two cells rarely gets the same number.
  v1::Breakdown same =
      Table({{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}}, {500, 500, 500, 500, 500, 500}, 1);
  std::set<uint64_t> values;
  for (const v1::ReleasedCell& c : d.ReleaseBreakdown(same, "q @1")) values.insert(c.count().low());
  EXPECT_GE(values.size(), 3u);
}

TEST(DisclosureTest, FloorAppliesTheNationalThreshold) {
  v1::ReleasedCount c;
  c.set_low(7);
  c.set_high(7);
  EXPECT_EQ(Floor(c, 5).low(), 7u);
  v1::ReleasedCount f = Floor(c, 10);
  EXPECT_EQ(f.low(), 0u);
  EXPECT_EQ(f.high(), 9u);
}

TEST(QueryBudgetTest, DailyBudgetAndNearRepeats) {
  QueryBudget budget({.daily_budget = 5, .near_repeat_limit = 2});
  int64_t t = 1'700'000'000;
  EXPECT_TRUE(budget.Charge("anna", "A AND B", {"A", "B"}, t).ok());
  // Exact repeats are not near-repeats (consistent noise makes them harmless), but they count.
  EXPECT_TRUE(budget.Charge("anna", "A AND B", {"A", "B"}, t).ok());
  EXPECT_TRUE(budget.Charge("anna", "A AND B AND C", {"A", "B", "C"}, t).ok());  // near 1
  EXPECT_TRUE(budget.Charge("anna", "A AND NOT D", {"A", "D"}, t).ok());         // near 2
  absl::Status s = budget.Charge("anna", "A AND B AND NOT E", {"A", "B", "E"}, t);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_TRUE(budget.Charge("bertil", "A AND B AND C", {"A", "B", "C"}, t).ok())
      << "budgets are per caller";
  EXPECT_TRUE(budget.Charge("anna", "X AND Y", {"X", "Y"}, t).ok());  // unrelated: 5th
  s = budget.Charge("anna", "P", {"P"}, t);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << "daily budget of 5";
  EXPECT_TRUE(budget.Charge("anna", "P", {"P"}, t + 86400).ok()) << "a new day";
}

TEST(DailyLimitTest, CountsPerCallerAndDay) {
  DailyLimit limit(2, "similar-case searches");
  int64_t t = 1'700'000'000;
  EXPECT_TRUE(limit.Charge("cia", t).ok());
  EXPECT_TRUE(limit.Charge("cia", t + 10).ok());
  absl::Status s = limit.Charge("cia", t + 20);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("daily limit of 2 similar-case searches"), std::string_view::npos)
      << s;
  EXPECT_TRUE(limit.Charge("sven", t).ok()) << "per caller";
  EXPECT_TRUE(limit.Charge("cia", t + 86400).ok()) << "a new day";
}

}  // namespace
}  // namespace pmdb::security
