// The hub's merge, with every expected value written out.
#include "node/hub/merge.h"

#include <gtest/gtest.h>

#include <cmath>

#include "security/released.h"
#include "tests/test_util.h"

namespace pmdb::hub {
namespace {

using ::pmdb::testing::Released;

RegionResult<v1::CountAnswer> CountOf(const std::string& region, uint64_t low, uint64_t high) {
  v1::CountAnswer a;
  *a.mutable_count() = Released(low, high);
  return {region, a};
}

template <typename Answer>
RegionResult<Answer> Failed(const std::string& region, absl::Status s) {
  return {region, s};
}

TEST(MergeTest, CountsAddAsRangesAndAMissingRegionIsReportedNotCounted) {
  std::vector<RegionResult<v1::CountAnswer>> in;
  in.push_back(CountOf("norr", 120, 120));
  in.push_back(CountOf("vast", 0, 4));
  in.push_back(Failed<v1::CountAnswer>("syd", absl::DeadlineExceededError("late")));
  in.push_back(Failed<v1::CountAnswer>("mellan", absl::PermissionDeniedError("no")));
  v1::FederatedCount out = MergeCounts(std::move(in), 5);
  EXPECT_EQ(out.total().low(), 120u);
  EXPECT_EQ(out.total().high(), 124u);
  EXPECT_TRUE(out.partial());
  EXPECT_EQ(out.disclosure().min_count(), 5u);
  ASSERT_EQ(out.regions_size(), 4);
  EXPECT_EQ(out.regions(0).region(), "norr");
  EXPECT_EQ(out.regions(0).status(), v1::REGION_OK);
  EXPECT_EQ(out.regions(1).count().count().high(), 4u);
  EXPECT_EQ(out.regions(2).status(), v1::REGION_DEADLINE_EXCEEDED);
  EXPECT_EQ(out.regions(2).detail(), "late");
  EXPECT_FALSE(out.regions(2).has_count());
  EXPECT_EQ(out.regions(3).status(), v1::REGION_REFUSED);
}

TEST(MergeTest, TheNationalFloorAppliesToPartsAndTotals) {
  std::vector<RegionResult<v1::CountAnswer>> in;
  in.push_back(CountOf("norr", 3, 3));  // a region with a lower floor released 3
  in.push_back(CountOf("vast", 1, 1));
  v1::FederatedCount out = MergeCounts(std::move(in), 5);
  EXPECT_EQ(out.regions(0).count().count().low(), 0u);
  EXPECT_EQ(out.regions(0).count().count().high(), 4u);
  EXPECT_EQ(out.total().low(), 0u);
  EXPECT_EQ(out.total().high(), 8u) << "[0,4] + [0,4]: the sum of two floored parts";
  EXPECT_FALSE(out.partial());
  v1::FederatedCount none = MergeCounts({}, 5);
  EXPECT_FALSE(none.has_total()) << "no region answered: no number, not 0-4";
  std::vector<RegionResult<v1::CountAnswer>> refused;
  refused.push_back(Failed<v1::CountAnswer>("norr", absl::ResourceExhaustedError("budget")));
  EXPECT_FALSE(MergeCounts(std::move(refused), 5).has_total());
}

// Noised parts add their noised values, so a total of true zeros is centred on zero: two
// regions whose noised values are -3 and 6 show 0 and 6, yet their total is 3, shown as <5.
TEST(MergeTest, NoisedTotalsAreUnbiased) {
  std::vector<RegionResult<v1::CountAnswer>> in;
  for (auto [region, v] : std::vector<std::pair<std::string, int64_t>>{{"norr", -3}, {"vast", 6}}) {
    v1::CountAnswer a;
    *a.mutable_count() = security::NoisedCount(v, 5, 5);
    in.push_back({region, a});
  }
  v1::FederatedCount out = MergeCounts(std::move(in), 5);
  EXPECT_EQ(out.regions(0).count().count().high(), 4u);
  EXPECT_EQ(out.regions(1).count().count().low(), 6u);
  EXPECT_EQ(out.total().noised(), 3);
  EXPECT_EQ(out.total().low(), 0u);
  EXPECT_EQ(out.total().high(), 4u);
  EXPECT_EQ(out.total().ci95_high(), 3u + 14u) << "1.96 * 5 * sqrt(2) = 13.9";
}

TEST(MergeTest, RegionStatusesByCode) {
  EXPECT_EQ(RegionStatusOf(absl::OkStatus()), v1::REGION_OK);
  EXPECT_EQ(RegionStatusOf(absl::UnavailableError("")), v1::REGION_UNAVAILABLE);
  EXPECT_EQ(RegionStatusOf(absl::InternalError("")), v1::REGION_UNAVAILABLE);
  EXPECT_EQ(RegionStatusOf(absl::DeadlineExceededError("")), v1::REGION_DEADLINE_EXCEEDED);
  EXPECT_EQ(RegionStatusOf(absl::ResourceExhaustedError("")), v1::REGION_REFUSED);
  EXPECT_EQ(RegionStatusOf(absl::UnauthenticatedError("")), v1::REGION_REFUSED);
  EXPECT_EQ(RegionStatusOf(absl::InvalidArgumentError("")), v1::REGION_INVALID);
  EXPECT_EQ(RegionStatusOf(absl::NotFoundError("")), v1::REGION_INVALID);
}

v1::ReleasedCell Cell(const std::string& sex, uint64_t low, uint64_t high,
                      bool suppressed = false) {
  v1::ReleasedCell c;
  c.add_labels(sex);
  *c.mutable_count() = Released(low, high);
  c.set_suppressed(suppressed);
  return c;
}

TEST(MergeTest, BreakdownTotalsPerCellAndRegionalCellsLabelled) {
  v1::BreakdownAnswer norr;
  norr.add_dimensions(v1::SEX);
  *norr.add_cells() = Cell("F", 40, 40);
  *norr.add_cells() = Cell("M", 0, 4, true);
  v1::BreakdownAnswer vast;
  vast.add_dimensions(v1::SEX);
  *vast.add_cells() = Cell("M", 30, 30);
  *vast.add_cells() = Cell("F", 25, 25);
  std::vector<RegionResult<v1::BreakdownAnswer>> in;
  in.push_back({"norr", norr});
  in.push_back({"vast", vast});
  in.push_back(Failed<v1::BreakdownAnswer>("syd", absl::UnavailableError("down")));
  v1::FederatedBreakdown out = MergeBreakdowns(std::move(in), {v1::SEX}, 5);
  ASSERT_EQ(out.totals_size(), 2);
  EXPECT_EQ(out.totals(0).labels(0), "F");
  EXPECT_EQ(out.totals(0).count().low(), 65u);
  EXPECT_EQ(out.totals(0).count().high(), 65u);
  EXPECT_FALSE(out.totals(0).suppressed());
  EXPECT_EQ(out.totals(1).labels(0), "M");
  EXPECT_EQ(out.totals(1).count().low(), 30u);
  EXPECT_EQ(out.totals(1).count().high(), 34u);
  EXPECT_TRUE(out.totals(1).suppressed()) << "a total over a hidden cell says so";
  ASSERT_EQ(out.cells_size(), 4);
  EXPECT_EQ(out.cells(1).labels(0), "M");
  EXPECT_EQ(out.cells(1).labels(1), "norr");
  EXPECT_EQ(out.cells(3).labels(1), "vast");
  EXPECT_EQ(out.regions(0).breakdown().cells_size(), 0) << "cells are in reply.cells only";
  EXPECT_EQ(out.regions(2).status(), v1::REGION_UNAVAILABLE);
  EXPECT_TRUE(out.partial());
  ASSERT_EQ(out.dimensions_size(), 1);
}

TEST(MergeTest, FrequenciesAddAcAndAn) {
  v1::FrequencyAnswer a;
  *a.mutable_ac() = Released(10, 10);
  *a.mutable_an() = Released(2000, 2000);
  v1::FrequencyAnswer b;
  *b.mutable_ac() = Released(0, 4);
  *b.mutable_an() = Released(800, 800);
  std::vector<RegionResult<v1::FrequencyAnswer>> in;
  in.push_back({"norr", a});
  in.push_back({"vast", b});
  v1::FederatedFrequency out = MergeFrequencies(std::move(in), 5);
  EXPECT_EQ(out.ac().low(), 10u);
  EXPECT_EQ(out.ac().high(), 14u);
  EXPECT_EQ(out.an().low(), 2800u);
  EXPECT_EQ(out.an().high(), 2800u);
  EXPECT_FALSE(out.partial());
}

v1::CatalogueAnswer CatalogueOf(std::vector<std::pair<uint64_t, uint64_t>> ac_an) {
  v1::CatalogueAnswer a;
  for (auto [ac, an] : ac_an) {
    v1::CatalogueSite* site = a.add_sites();
    *site->mutable_ac() = ac < 5 ? Released(0, 4) : Released(ac, ac);
    *site->mutable_an() = Released(an, an);
  }
  return a;
}

TEST(MergeTest, CataloguesAddSiteBySiteAndABatchOfAnotherSizeIsNotAdded) {
  std::vector<RegionResult<v1::CatalogueAnswer>> in;
  in.push_back({"norr", CatalogueOf({{10, 200}, {0, 200}})});
  in.push_back({"vast", CatalogueOf({{7, 100}, {30, 100}})});
  in.push_back({"syd", CatalogueOf({{50, 90}})});  // one site of two: not the batch asked
  in.push_back(Failed<v1::CatalogueAnswer>("mellan", absl::DeadlineExceededError("late")));
  v1::FederatedCatalogue out = MergeCatalogues(std::move(in), 2, 5);
  ASSERT_EQ(out.sites_size(), 2);
  EXPECT_EQ(out.sites(0).ac().low(), 17u);
  EXPECT_EQ(out.sites(0).ac().high(), 17u);
  EXPECT_EQ(out.sites(0).an().low(), 300u);
  EXPECT_EQ(out.sites(1).ac().low(), 30u);  // 30 plus norr's 0..4
  EXPECT_EQ(out.sites(1).ac().high(), 34u);
  EXPECT_TRUE(out.partial());
  ASSERT_EQ(out.regions_size(), 4);
  EXPECT_EQ(out.regions(0).status(), v1::REGION_OK);
  EXPECT_EQ(out.regions(1).catalogue().sites(1).ac().low(), 30u);
  EXPECT_EQ(out.regions(2).status(), v1::REGION_UNAVAILABLE);
  EXPECT_EQ(out.regions(2).detail(), "answered for 1 sites of 2");
  EXPECT_FALSE(out.regions(2).has_catalogue());
  EXPECT_EQ(out.regions(3).status(), v1::REGION_DEADLINE_EXCEEDED);
  EXPECT_NE(out.disclosure().description().find("sum over 2 of 4 regions"), std::string::npos)
      << out.disclosure().description();
}

TEST(MergeTest, ACatalogueCostQuoteHasNoNumbers) {
  v1::CatalogueAnswer quote;
  quote.mutable_disclosure()->set_cost_only(true);
  quote.mutable_disclosure()->set_rho(0.25);
  std::vector<RegionResult<v1::CatalogueAnswer>> in;
  in.push_back({"norr", quote});
  v1::FederatedCatalogue out = MergeCatalogues(std::move(in), 3, 5);
  EXPECT_EQ(out.sites_size(), 0);
  EXPECT_FALSE(out.partial());
  ASSERT_EQ(out.regions_size(), 1);
  EXPECT_EQ(out.regions(0).status(), v1::REGION_OK);
  EXPECT_DOUBLE_EQ(out.regions(0).catalogue().disclosure().rho(), 0.25);
}

v1::CaseMatch Match(double score, const std::string& region) {
  v1::CaseMatch m;
  m.set_score(score);
  m.set_region(region);
  return m;
}

TEST(MergeTest, SimilarCasesKeepTheNationalTopWithReproducibleTies) {
  v1::SimilarCasesAnswer norr;
  *norr.add_matches() = Match(0.9, "norr");
  *norr.add_matches() = Match(0.5, "norr");
  norr.add_notes()->set_id("HP:9999999");
  v1::SimilarCasesAnswer vast;
  *vast.add_matches() = Match(0.95, "vast");
  *vast.add_matches() = Match(0.9, "vast");
  std::vector<RegionResult<v1::SimilarCasesAnswer>> in;
  in.push_back({"norr", norr});
  in.push_back({"vast", vast});
  v1::FederatedSimilarCases out = MergeSimilarCases(std::move(in), 3);
  ASSERT_EQ(out.matches_size(), 3);
  EXPECT_EQ(out.matches(0).region(), "vast");
  EXPECT_DOUBLE_EQ(out.matches(0).score(), 0.95);
  EXPECT_EQ(out.matches(1).region(), "norr") << "a tie goes to the region listed first";
  EXPECT_EQ(out.matches(2).region(), "vast");
  EXPECT_EQ(out.notes_size(), 1);
  EXPECT_EQ(out.regions(0).similar().matches_size(), 0);
}

// Shares whose masks cancel: region i adds m_i, the last region subtracts their sum.
std::vector<RegionResult<v1::NationalShareAnswer>> Shares(const std::vector<int64_t>& values,
                                                          uint64_t damage = 0) {
  std::vector<RegionResult<v1::NationalShareAnswer>> out;
  uint64_t sum = 0, check_sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint64_t mask = 0x9e3779b97f4a7c15ULL * (i + 1);
    const uint64_t check_mask = 0xc2b2ae3d27d4eb4fULL * (i + 7);
    const bool last = i + 1 == values.size();
    v1::NationalShareAnswer a;
    a.add_masked(static_cast<uint64_t>(values[i]) + (last ? 0 - sum : mask));
    a.add_share_sd(2);
    a.set_check(last ? 0 - check_sum + damage : check_mask);
    a.set_question_digest("q");
    a.mutable_disclosure()->set_rho(0.02);
    sum += mask;
    check_sum += check_mask;
    out.push_back({.region = "r" + std::to_string(i), .answer = a});
  }
  return out;
}

TEST(MergeTest, ANationalTotalIsTheSumOfSharesAndNothingWhenMasksDoNotCancel) {
  v1::FederatedCount whole = MergeNationalCount(Shares({10, 20, -3}), 1, 5);
  ASSERT_TRUE(whole.has_total());
  EXPECT_EQ(whole.total().noised(), 27);
  EXPECT_NEAR(whole.total().noise_sd(), std::sqrt(12.0), 1e-9);
  EXPECT_EQ(whole.national().covers_size(), 3);
  EXPECT_FALSE(whole.partial());
  for (const v1::RegionPart& p : whole.regions()) EXPECT_FALSE(p.has_count());
  // One share masked with another key: its check does not cancel, so no number at all.
  v1::FederatedCount broken = MergeNationalCount(Shares({10, 20, -3}, /*damage=*/1), 1, 5);
  EXPECT_FALSE(broken.has_total());
  EXPECT_TRUE(broken.partial());
  EXPECT_NE(broken.disclosure().description().find("did not cancel"), std::string::npos);
  // Shares of another question (digest), or of other lengths, are not summed.
  auto other = Shares({10, 20, -3});
  other[1].answer->set_question_digest("another");
  EXPECT_FALSE(MergeNationalCount(std::move(other), 1, 5).has_total());
  // No share: no number, never 0.
  std::vector<RegionResult<v1::NationalShareAnswer>> none(2);
  none[0] = {.region = "a", .answer = absl::UnavailableError("down")};
  none[1] = {.region = "b", .answer = absl::UnavailableError("down")};
  v1::FederatedCount empty = MergeNationalCount(std::move(none), 2, 5);
  EXPECT_FALSE(empty.has_total());
  EXPECT_TRUE(empty.partial());
}

}  // namespace
}  // namespace pmdb::hub
