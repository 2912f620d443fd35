#include "query/planner.h"

#include "gtest/gtest.h"
#include "query/parser.h"

namespace pmdb::query {
namespace {

TEST(PlannerTest, PointLeavesBySizeThenScansThenNegations) {
  auto c = ParseCriterion(
      "NOT dx(C50) AND sex(F) AND gene(BRCA1) AND hpo(HP:0000118) AND dx(C61) AND "
      "(age(10) OR age(20))");
  ASSERT_TRUE(c.ok());
  std::map<std::string, uint64_t> sizes = {
      {"sex(F)", 500}, {"hpo(HP:0000118)", 900}, {"dx(C61)", 3}};
  auto plan = PlanConjunction(c->all_of(), [&](const v1::Criterion& leaf) {
    return sizes.at(FormatCriterion(leaf));
  });
  std::vector<std::string> order;
  for (const PlanStep& s : plan) {
    order.push_back((s.subtract ? "-" : "") + FormatCriterion(*s.criterion));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"dx(C61)", "sex(F)", "hpo(HP:0000118)",
                                             "gene(BRCA1)", "age(10) OR age(20)", "-dx(C50)"}));
  EXPECT_EQ(plan[0].size, 3u);
  EXPECT_FALSE(plan[3].size.has_value());
}

}  // namespace
}  // namespace pmdb::query
