// The synthetic case families behind tools/bench/similar and pmdb generate --case-families.
#include "tools/pmdb/case_families.h"

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "query/similarity.h"
#include "tests/test_util.h"

namespace pmdb::cli {
namespace {

const vocab::Ontology& Hpo() {
  static const vocab::Ontology hpo = [] {
    auto o = vocab::Ontology::LoadObo(testing::SharedData("ontology/hp.obo"));
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

TEST(CaseFamiliesTest, MembersComeFromTheSeedAndUnrelatedCasesShareOnlyFrequentTerms) {
  const vocab::Ontology& o = Hpo();
  auto set = MakeCaseFamilies(Small(), o);
  ASSERT_TRUE(set.ok()) << set.status();
  const std::set<std::string> frequent(set->common.begin(), set->common.end());
  ASSERT_EQ(frequent.size(), 40u);
  // Every seed term that is not a frequent one, and everything below it, belongs to a family's
  // part of the ontology.
  std::set<uint32_t> family_terms;
  for (const SyntheticCase& seed : set->queries) {
    for (const std::string& t : seed.terms) {
      if (frequent.count(t)) continue;
      for (uint32_t d : o.DescendantsInclusive(*o.Resolve(t).term)) family_terms.insert(d);
    }
  }
  size_t unrelated_checked = 0;
  for (const SyntheticCase& c : set->cases) {
    if (c.family < 0) {
      for (const std::string& t : c.terms) {
        if (frequent.count(t)) continue;
        EXPECT_EQ(family_terms.count(*o.Resolve(t).term), 0u) << c.subject << " " << t;
        ++unrelated_checked;
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
  EXPECT_GT(unrelated_checked, 1000u);
}

TEST(CaseFamiliesTest, FrequentTermsAreSharedAcrossCasesByZipfWeights) {
  auto set = MakeCaseFamilies(Small(), Hpo());
  ASSERT_TRUE(set.ok()) << set.status();
  const std::set<std::string> frequent(set->common.begin(), set->common.end());
  // A seed of six terms holds round(6 * 0.25) = 2 frequent ones.
  for (const SyntheticCase& seed : set->queries) {
    size_t n = 0;
    for (const std::string& t : seed.terms) n += frequent.count(t);
    EXPECT_EQ(n, 2u) << seed.subject;
    EXPECT_EQ(seed.terms.size(), 6u) << seed.subject;
  }
  // About a quarter of the unrelated cases' terms are frequent ones; the pool's first term is
  // held by more cases than its last.
  std::map<std::string, size_t> holders;
  size_t terms = 0, frequent_terms = 0;
  for (const SyntheticCase& c : set->cases) {
    if (c.family >= 0) continue;
    for (const std::string& t : c.terms) {
      ++terms;
      if (frequent.count(t)) {
        ++frequent_terms;
        ++holders[t];
      }
    }
  }
  const double share = static_cast<double>(frequent_terms) / static_cast<double>(terms);
  EXPECT_GT(share, 0.18);
  EXPECT_LT(share, 0.32);
  EXPECT_GT(holders[set->common.front()], 3 * holders[set->common.back()] + 10);

  // Without the pool nothing is frequent and seeds come wholly from their family's part.
  CaseFamilyOptions none = Small();
  none.common_share = 0;
  auto plain = MakeCaseFamilies(none, Hpo());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->common.empty());
  for (const SyntheticCase& seed : plain->queries) EXPECT_EQ(seed.terms.size(), 6u);
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

// The evaluation of tools/bench/similar in small: one region, two members per family,
// phenotypes only, 30 % of terms dropped and 30 % generalized. Frequent terms mislead an
// exact-term count, not the information-content score (60 of 60 against 50 when written).
TEST(CaseFamiliesTest, SemanticScoreFindsFamiliesWhereExactTermsAreMisled) {
  CaseFamilyOptions opt = Small();
  opt.families = 60;
  opt.members = 2;
  opt.unrelated = 5000;
  opt.regions = {"one"};
  auto ontology = vocab::Ontology::LoadObo(testing::SharedData("ontology/hp.obo"));
  ASSERT_TRUE(ontology.ok());
  auto shared = std::make_shared<const vocab::Ontology>(std::move(*ontology));
  auto set = MakeCaseFamilies(opt, *shared);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<v1::IndividualRecord> records;
  for (const SyntheticCase& c : set->cases) records.push_back(CaseToRecord(c));
  auto index = query::CaseIndex::FromRecords(shared, records);
  ASSERT_TRUE(index.ok()) << index.status();

  int semantic = 0, jaccard = 0;
  for (const SyntheticCase& seed : set->queries) {
    auto ranked = query::RankSimilar(**index, CaseToQuery(seed, false), query::Carriers{}, 1,
                                     [](uint32_t) { return true; });
    ASSERT_TRUE(ranked.ok()) << ranked.status();
    ASSERT_EQ(ranked->top.size(), 1u);
    const uint32_t best = (*index)->at(ranked->top[0].position).ordinal;
    semantic += set->cases[best].family == seed.family ? 1 : 0;

    double best_jaccard = -1;
    int best_family = -2;
    for (const SyntheticCase& c : set->cases) {
      const double j = query::JaccardTerms(seed.terms, c.terms);
      if (j > best_jaccard) {
        best_jaccard = j;
        best_family = c.family;
      }
    }
    jaccard += best_family == seed.family ? 1 : 0;
  }
  EXPECT_GE(semantic, 54) << "top-1 below 0.9";
  EXPECT_GT(semantic, jaccard);
  std::cout << "top-1 of 60: semantic " << semantic << ", Jaccard " << jaccard << "\n";
}

TEST(CaseFamiliesTest, ImpossibleSharesAreRefused) {
  CaseFamilyOptions opt = Small();
  opt.drop = 0.7;
  opt.generalize = 0.5;
  EXPECT_FALSE(MakeCaseFamilies(opt, Hpo()).ok());
  opt = Small();
  opt.common_share = 1.5;
  EXPECT_FALSE(MakeCaseFamilies(opt, Hpo()).ok());
  opt.common_share = 0.25;
  opt.common_terms = 0;
  EXPECT_FALSE(MakeCaseFamilies(opt, Hpo()).ok());
}

}  // namespace
}  // namespace pmdb::cli
