#include "security/privacy_budget.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/base/strings.h"
#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using testing::StatusIs;

constexpr int64_t kNow = 1'790'000'000;  // 2026-09-21
constexpr uint64_t kCount = 20000;       // rho 0.02

Identity Researcher(const std::string& name) {
  auto id = ParseIdentity("spiffe://se-pm/researcher/" + name);
  EXPECT_TRUE(id.ok());
  return *id;
}

PrivacyBudgets Budgets() {
  PrivacyBudgets b;
  b.period_days = 30;
  b.researcher_micros = 50000;  // two counts and a half
  b.region_micros = 1000000;
  b.projects.push_back(
      {.id = "bc", .members = {"anna", "bo"}, .budget_micros = 70000, .period_days = 30});
  b.projects.push_back(
      {.id = "cf", .members = {"cecilia"}, .budget_micros = 1000000, .period_days = 7});
  return b;
}

Spend Of(const std::string& who, const std::string& project, const std::string& release) {
  return {"spiffe://se-pm/researcher/" + who, project, release, kCount};
}

TEST(PrivacyLedgerTest, ResearchersOutsideEveryProjectGetNothing) {
  PrivacyLedger ledger(Budgets());
  auto p = ledger.ProjectOf(Researcher("anna"), "vast");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "bc");
  EXPECT_THAT(ledger.ProjectOf(Researcher("mallory"), "vast").status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       std::string("researcher mallory is in no approved project of region vast")));
}

TEST(PrivacyLedgerTest, TheResearcherBudgetRunsOutAndSaysWhenItIsFreeAgain) {
  PrivacyLedger ledger(Budgets());
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow), kCount);
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q2"), kNow + 100), kCount);
  auto third = ledger.Charge(Of("anna", "bc", "q3"), kNow + 200);
  // 0.01 left; 0.02 fit again once the first spend has left the 30-day window.
  EXPECT_THAT(third.status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       std::string("the researcher privacy budget (rho 0.05 per 30 days) is used "
                                   "up: 0.01 left, this answer needs 0.02; enough of it is free "
                                   "again at " +
                                   Rfc3339(kNow + 30 * 86400))));
  // A release made before is free, even with the budget used up, and for someone else too.
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow + 300), 0u);
  EXPECT_EQ(*ledger.Charge(Of("cecilia", "cf", "q2"), kNow + 300), 0u);
  // A second before the window has moved past the first spend, still refused; then free.
  EXPECT_FALSE(ledger.Charge(Of("anna", "bc", "q3"), kNow + 30 * 86400 - 1).ok());
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q3"), kNow + 30 * 86400), kCount);
}

// With fixed windows a researcher could spend a period's budget just before a boundary and
// again just after it; a sliding window counts both.
TEST(PrivacyLedgerTest, ASlidingWindowHasNoBoundaryToBurstAcross) {
  PrivacyLedger ledger(Budgets());
  const int64_t boundary = (kNow / (30 * 86400) + 1) * 30 * 86400;
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "q1"), boundary - 60).ok());
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "q2"), boundary - 30).ok());
  EXPECT_FALSE(ledger.Charge(Of("anna", "bc", "q3"), boundary + 30).ok());
  EXPECT_FALSE(ledger.Charge(Of("anna", "bc", "q4"), boundary + 20 * 86400).ok());
}

// The yearly cap holds however the spending is spread over the periods.
TEST(PrivacyLedgerTest, TheYearlyCapHoldsAcrossPeriods) {
  PrivacyBudgets b = Budgets();
  b.researcher_micros = 100000;         // 5 counts per 30 days
  b.researcher_yearly_micros = 300000;  // 15 a year
  b.projects[0].budget_micros = 10000000;
  PrivacyLedger ledger(b);
  int answered = 0;
  for (int month = 0; month < 12; ++month) {
    for (int i = 0; i < 5; ++i) {
      std::string q = StrCat("m", month, "q", i);
      answered += ledger.Charge(Of("anna", "bc", q), kNow + month * 31 * 86400 + i).ok() ? 1 : 0;
    }
  }
  EXPECT_EQ(answered, 15);
  auto refusal = ledger.Charge(Of("anna", "bc", "late"), kNow + 300 * 86400);
  EXPECT_THAT(refusal.status(), StatusIs(absl::StatusCode::kResourceExhausted,
                                         std::string("the researcher privacy budget (rho 0.3 "
                                                     "per year) is used up")));
  // A year after the first spends, they leave the window.
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "next"), kNow + 366 * 86400).ok());
}

// No project can use up the region for the others: each has its share of the region's budget.
TEST(PrivacyLedgerTest, OneProjectCannotExhaustAnothersShareOfTheRegion) {
  PrivacyBudgets b = Budgets();
  b.researcher_micros = 10000000;
  b.projects[0].budget_micros = 10000000;
  b.region_micros = 100000;  // five counts, shared by two projects
  PrivacyLedger ledger(b);
  EXPECT_EQ(ledger.ShareOf("bc"), 500000u);
  int bc = 0;
  for (int i = 0; i < 10; ++i) {
    bc += ledger.Charge(Of(i % 2 ? "anna" : "bo", "bc", StrCat("b", i)), kNow).ok() ? 1 : 0;
  }
  EXPECT_EQ(bc, 2) << "half of five counts, rounded down";
  auto refused = ledger.Charge(Of("anna", "bc", "b99"), kNow);
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       std::string("the project bc's share of the region privacy budget")));
  EXPECT_TRUE(ledger.Charge(Of("cecilia", "cf", "c1"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("cecilia", "cf", "c2"), kNow).ok());
  // Configured shares: bc 80 %, cf what is left.
  b.projects[0].share_millionths = 800000;
  PrivacyLedger configured(b);
  EXPECT_EQ(configured.ShareOf("bc"), 800000u);
  EXPECT_EQ(configured.ShareOf("cf"), 200000u);
}

// A charge whose answer never left (its audit entry failed) is taken back: the budget and the
// "made before" mark forget it, so the next asking pays.
TEST(PrivacyLedgerTest, ARefundTakesBackBudgetAndTheRepeatMark) {
  PrivacyLedger ledger(Budgets());
  ASSERT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow), kCount);
  ledger.Refund(Of("anna", "bc", "q1"), kNow);
  auto states = ledger.States("spiffe://se-pm/researcher/anna", "bc", kNow);
  EXPECT_DOUBLE_EQ(states[0].spent_rho(), 0);
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow + 1), kCount) << "not free: it never left";
}

TEST(PrivacyLedgerTest, AProjectsMembersShareItsBudget) {
  PrivacyLedger ledger(Budgets());
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "a1"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "a2"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("bo", "bc", "b1"), kNow).ok());
  EXPECT_THAT(
      ledger.Charge(Of("bo", "bc", "b2"), kNow).status(),
      StatusIs(absl::StatusCode::kResourceExhausted, std::string("the project bc privacy")));
  // A refusal charges nothing: bo's own budget still has room for what the project allows.
  auto states = ledger.States("spiffe://se-pm/researcher/bo", "bc", kNow);
  ASSERT_EQ(states.size(), 5u);  // researcher per period and per year; project, and its share
  EXPECT_EQ(states[0].name(), "researcher");
  EXPECT_DOUBLE_EQ(states[0].spent_rho(), 0.02);
  EXPECT_EQ(states[1].period_days(), 365u);
  EXPECT_EQ(states[2].name(), "project bc");
  EXPECT_DOUBLE_EQ(states[2].spent_rho(), 0.06);
  EXPECT_DOUBLE_EQ(states[2].limit_rho(), 0.07);
  EXPECT_EQ(states[3].name(), "project bc's share of the region");
}

TEST(PrivacyLedgerTest, TheRegionCapBoundsCollidingIdentities) {
  PrivacyBudgets b = Budgets();
  b.region_micros = 80000;  // four counts for everyone, two per project
  b.researcher_micros = 1000000;
  PrivacyLedger ledger(b);
  // Three identities in two projects, each far from their own limits, pool their questions.
  int answered = 0;
  for (int i = 0; i < 9; ++i) {
    const char* who = i % 3 == 0 ? "anna" : i % 3 == 1 ? "bo" : "cecilia";
    answered += ledger.Charge(Of(who, i % 3 == 2 ? "cf" : "bc", StrCat("x", i)), kNow).ok();
  }
  EXPECT_EQ(answered, 4);
  auto region = ledger.RegionStates(kNow);
  ASSERT_EQ(region.size(), 2u + 3u + 3u);
  EXPECT_EQ(region[0].name(), "region");
  EXPECT_EQ(region[0].period_days(), 30u);
  EXPECT_EQ(region[1].period_days(), 365u);
  EXPECT_DOUBLE_EQ(region[0].spent_rho(), 0.08);
}

TEST(PrivacyLedgerTest, AReplayedLogRestoresSpendAndRepeats) {
  PrivacyLedger first(Budgets());
  ASSERT_TRUE(first.Charge(Of("anna", "bc", "q1"), kNow).ok());
  ASSERT_TRUE(first.Charge(Of("anna", "bc", "q2"), kNow).ok());
  PrivacyLedger again(Budgets());
  again.Replay(Of("anna", "bc", "q1"), kNow - 60);
  again.Replay(Of("anna", "bc", "q2"), kNow - 30);
  EXPECT_THAT(again.Charge(Of("anna", "bc", "q3"), kNow).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, "privacy budget"));
  EXPECT_EQ(*again.Charge(Of("anna", "bc", "q2"), kNow), 0u);
  // An entry that has left the window is a repeat still, but counts nothing now.
  PrivacyLedger old(Budgets());
  old.Replay(Of("anna", "bc", "q1"), kNow - 40 * 86400);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q1"), kNow), 0u);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q2"), kNow), kCount);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q3"), kNow), kCount);
}

TEST(PrivacyLedgerTest, ReplayGoesBackAYear) {
  PrivacyLedger ledger(Budgets());
  EXPECT_EQ(ledger.ReplayFrom(kNow), kNow - 365 * 86400);
}

}  // namespace
}  // namespace pmdb::security
