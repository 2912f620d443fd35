// The synthetic case families behind tools/bench/similar and pmdb generate --case-families.
#include "tools/pmdb/case_families.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/test_util.h"

namespace pmdb::cli {
namespace {

const query::Ontology& Hpo() {
  static const query::Ontology hpo = [] {
    auto o = query::Ontology::LoadObo(testing::SharedData("ontology/hp.obo"));
    EXPECT_TRUE(o.ok()) << o.status();
    return std::move(*o);
  }();
  return hpo;
}

CaseFamilyOptions Small() {
  CaseFamilyOptions opt;
  opt.families = 40;
  opt.unrelated = 500;
  opt.seed = 7;
  return opt;
}

TEST(CaseFamiliesTest, DeterministicForASeedAndSizedAsAsked) {
  auto a = MakeCaseFamilies(Small(), Hpo());
  auto b = MakeCaseFamilies(Small(), Hpo());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->queries.size(), 40u);
  EXPECT_EQ(a->cases.size(), 40u * 4 + 500);
  ASSERT_EQ(a->cases.size(), b->cases.size());
  for (size_t i = 0; i < a->cases.size(); ++i) {
    EXPECT_EQ(CaseToPhenopacketJson(a->cases[i]), CaseToPhenopacketJson(b->cases[i]));
  }
  std::set<std::string> regions;
  for (const SyntheticCase& c : a->cases) regions.insert(c.region);
  EXPECT_EQ(regions.size(), 6u);
}

TEST(CaseFamiliesTest, MembersComeFromTheSeedAndUnrelatedCasesShareNothingWithAnyFamily) {
  const query::Ontology& o = Hpo();
  auto set = MakeCaseFamilies(Small(), o);
  ASSERT_TRUE(set.ok()) << set.status();
  // Every seed term and everything below it belongs to a family's part of the ontology.
  std::set<uint32_t> family_terms;
  for (const SyntheticCase& seed : set->queries) {
    for (const std::string& t : seed.terms) {
      for (uint32_t d : o.DescendantsInclusive(*o.Resolve(t).term)) family_terms.insert(d);
    }
  }
  for (const SyntheticCase& c : set->cases) {
    if (c.family < 0) {
      for (const std::string& t : c.terms) {
        EXPECT_EQ(family_terms.count(*o.Resolve(t).term), 0u) << c.subject << " " << t;
      }
      continue;
    }
    // Without added terms a member holds the seed's terms or their parents, and its gene.
    const SyntheticCase& seed = set->queries[static_cast<size_t>(c.family)];
    std::set<std::string> allowed(seed.terms.begin(), seed.terms.end());
    for (const std::string& t : seed.terms) {
      for (uint32_t p : o.term(*o.Resolve(t).term).parents) allowed.insert(o.term(p).id);
    }
    for (const std::string& t : c.terms) EXPECT_EQ(allowed.count(t), 1u) << c.subject << " " << t;
    EXPECT_EQ(c.gene, seed.gene);
  }
}

TEST(CaseFamiliesTest, PhenopacketCarriesSexAgeAndTheInterpretedVariant) {
  auto set = MakeCaseFamilies(Small(), Hpo());
  ASSERT_TRUE(set.ok());
  std::string json = CaseToPhenopacketJson(set->cases[0]);
  EXPECT_NE(json.find(set->cases[0].female ? "\"FEMALE\"" : "\"MALE\""), std::string::npos);
  EXPECT_NE(json.find("\"iso8601duration\":\"P" + std::to_string(set->cases[0].age_years) + "Y\""),
            std::string::npos);
  EXPECT_NE(json.find("\"symbol\":\"" + set->cases[0].gene + "\""), std::string::npos);
  v1::IndividualRecord r = CaseToRecord(set->cases[0]);
  EXPECT_EQ(r.age_years(), set->cases[0].age_years);
  EXPECT_EQ(r.reported(0).gene(), set->cases[0].gene);
}

TEST(CaseFamiliesTest, ImpossibleSharesAreRefused) {
  CaseFamilyOptions opt = Small();
  opt.drop = 0.7;
  opt.generalize = 0.5;
  EXPECT_FALSE(MakeCaseFamilies(opt, Hpo()).ok());
}

}  // namespace
}  // namespace pmdb::cli
