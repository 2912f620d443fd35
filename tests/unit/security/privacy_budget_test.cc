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
  b.projects.push_back({.id = "bc", .members = {"anna", "bo"}, .budget_micros = 70000,
                        .period_days = 30});
  b.projects.push_back({.id = "cf", .members = {"cecilia"}, .budget_micros = 1000000,
                        .period_days = 7});
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

TEST(PrivacyLedgerTest, TheResearcherBudgetRunsOutAndSaysWhenItRenews) {
  PrivacyLedger ledger(Budgets());
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow), kCount);
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q2"), kNow), kCount);
  auto third = ledger.Charge(Of("anna", "bc", "q3"), kNow);
  // The window of 30 days that holds kNow ends at a multiple of 30 days since the epoch.
  int64_t renews = (kNow / (30 * 86400) + 1) * 30 * 86400;
  EXPECT_THAT(third.status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       std::string("the researcher privacy budget (rho 0.05 per 30 days) is used "
                                 "up: 0.01 left, this answer needs 0.02; it renews at " +
                                 Rfc3339(renews))));
  // A release made before is free, even with the budget used up, and for someone else too.
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q1"), kNow), 0u);
  EXPECT_EQ(*ledger.Charge(Of("cecilia", "cf", "q2"), kNow), 0u);
  // The next window brings the budget back.
  EXPECT_EQ(*ledger.Charge(Of("anna", "bc", "q3"), renews), kCount);
}

TEST(PrivacyLedgerTest, AProjectsMembersShareItsBudget) {
  PrivacyLedger ledger(Budgets());
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "a1"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "a2"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("bo", "bc", "b1"), kNow).ok());
  EXPECT_THAT(ledger.Charge(Of("bo", "bc", "b2"), kNow).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, std::string("the project bc privacy")));
  // A refusal charges nothing: bo's own budget still has room for what the project allows.
  auto states = ledger.States("spiffe://se-pm/researcher/bo", "bc", kNow);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name(), "researcher");
  EXPECT_DOUBLE_EQ(states[0].spent_rho(), 0.02);
  EXPECT_EQ(states[1].name(), "project bc");
  EXPECT_DOUBLE_EQ(states[1].spent_rho(), 0.06);
  EXPECT_DOUBLE_EQ(states[1].limit_rho(), 0.07);
}

TEST(PrivacyLedgerTest, TheRegionCapBoundsCollidingIdentities) {
  PrivacyBudgets b = Budgets();
  b.region_micros = 60000;
  b.researcher_micros = 1000000;
  PrivacyLedger ledger(b);
  // Three identities in two projects, each far from their own limits, pool their questions.
  EXPECT_TRUE(ledger.Charge(Of("anna", "bc", "x1"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("bo", "bc", "x2"), kNow).ok());
  EXPECT_TRUE(ledger.Charge(Of("cecilia", "cf", "x3"), kNow).ok());
  EXPECT_THAT(ledger.Charge(Of("cecilia", "cf", "x4"), kNow).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, std::string("the region privacy")));
  auto region = ledger.RegionStates(kNow);
  ASSERT_EQ(region.size(), 3u);
  EXPECT_EQ(region[0].name(), "region");
  EXPECT_DOUBLE_EQ(region[0].spent_rho(), 0.06);
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
  // An entry from a closed window is a repeat still, but costs nothing now.
  PrivacyLedger old(Budgets());
  old.Replay(Of("anna", "bc", "q1"), kNow - 40 * 86400);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q1"), kNow), 0u);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q2"), kNow), kCount);
  EXPECT_EQ(*old.Charge(Of("anna", "bc", "q3"), kNow), kCount);
}

TEST(PrivacyLedgerTest, ReplayStartsAtTheOldestOpenWindow) {
  PrivacyLedger ledger(Budgets());
  int64_t start = ledger.OldestOpenWindowStart(kNow);
  EXPECT_LE(start, kNow);
  EXPECT_EQ(start, kNow / (30 * 86400) * 30 * 86400 < kNow / (7 * 86400) * 7 * 86400
                       ? kNow / (30 * 86400) * 30 * 86400
                       : kNow / (7 * 86400) * 7 * 86400);
}

}  // namespace
}  // namespace pmdb::security
