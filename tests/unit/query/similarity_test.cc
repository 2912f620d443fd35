#include "query/similarity.h"

#include <random>

#include "gtest/gtest.h"
#include "node/storage/keys.h"
#include "node/vocab/case_query.h"
#include "tests/test_util.h"

namespace pmdb::query {
namespace {

namespace keys = storage::keys;

std::shared_ptr<const vocab::Ontology> Hpo() {
  static std::shared_ptr<const vocab::Ontology> hpo = [] {
    auto o = vocab::Ontology::LoadObo(testing::SharedData("ontology/hp.obo"));
    EXPECT_TRUE(o.ok()) << o.status();
    return std::make_shared<const vocab::Ontology>(std::move(*o));
  }();
  return hpo;
}

// Cystic kidney and eye terms from the real HPO; a few are related, most are not.
constexpr const char* kRenalCyst = "HP:0000107";     // Renal cyst
constexpr const char* kPolycystic = "HP:0000113";    // Polycystic kidney dysplasia
constexpr const char* kHepaticCyst = "HP:0001407";   // Hepatic cysts
constexpr const char* kHypertension = "HP:0000822";  // Hypertension
constexpr const char* kSeizure = "HP:0001250";       // Seizures
constexpr const char* kIntellectual = "HP:0001249";  // Intellectual disability
constexpr const char* kMicrocephaly = "HP:0000252";  // Microcephaly

v1::IndividualRecord Record(std::vector<std::string> observed,
                            std::vector<std::string> excluded = {},
                            std::vector<std::string> diagnoses = {}) {
  v1::IndividualRecord r;
  r.set_has_clinical_record(true);
  for (auto& t : observed) r.add_phenotypes(t);
  for (auto& t : excluded) r.add_excluded_phenotypes(t);
  for (auto& d : diagnoses) r.add_diagnoses(d);
  return r;
}

v1::CaseQuery QueryOf(const v1::IndividualRecord& r) {
  v1::CaseQuery q;
  for (const auto& t : r.phenotypes()) q.add_phenotypes(t);
  for (const auto& t : r.excluded_phenotypes()) q.add_excluded_phenotypes(t);
  for (const auto& d : r.diagnoses()) q.add_diagnoses(d);
  return q;
}

// Score of every indexed case for `q`, by ordinal (0 when not returned).
std::map<uint32_t, double> Scores(const CaseIndex& index, const v1::CaseQuery& q,
                                  const Carriers& carriers = {}) {
  Carriers c = carriers;
  c.resize(q.variants_size());
  auto r = RankSimilar(index, q, c, index.size(), [](uint32_t) { return true; });
  EXPECT_TRUE(r.ok()) << r.status();
  std::map<uint32_t, double> out;
  if (!r.ok()) return out;
  for (const ScoredCase& s : r->top) out[index.at(s.position).ordinal] = s.match.score();
  return out;
}

TEST(SimilarityTest, IdenticalCaseScoresOneAndRanksFirst) {
  std::vector<v1::IndividualRecord> records = {
      Record({kSeizure, kIntellectual}), Record({kPolycystic, kHepaticCyst, kHypertension}),
      Record({kRenalCyst, kHypertension}), Record({kMicrocephaly})};
  auto index = CaseIndex::FromRecords(Hpo(), records);
  ASSERT_TRUE(index.ok()) << index.status();
  auto scores = Scores(**index, QueryOf(records[1]));
  EXPECT_DOUBLE_EQ(scores[1], 1.0);
  EXPECT_LT(scores[2], 1.0);
  EXPECT_GT(scores[2], scores[0]) << "a related kidney case beats an unrelated one";
  auto r = RankSimilar(**index, QueryOf(records[1]), {}, 2, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->top.size(), 2u);
  EXPECT_EQ((*index)->at(r->top[0].position).ordinal, 1u);
  EXPECT_EQ((*index)->at(r->top[1].position).ordinal, 2u);
}

TEST(SimilarityTest, ScoreIsSymmetricOverRandomCases) {
  // Random cases of 2-6 terms drawn from the phenotype subtree of the real ontology.
  auto hpo = Hpo();
  uint32_t root = *hpo->Resolve("HP:0000118").term;
  std::vector<uint32_t> pool = hpo->DescendantsInclusive(root);
  std::mt19937 rng(7);
  std::vector<v1::IndividualRecord> records;
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> terms;
    int n = 2 + static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) terms.push_back(hpo->term(pool[rng() % pool.size()]).id);
    records.push_back(Record(terms));
  }
  auto index = CaseIndex::FromRecords(hpo, records);
  ASSERT_TRUE(index.ok());
  std::vector<std::map<uint32_t, double>> all;
  for (const auto& r : records) all.push_back(Scores(**index, QueryOf(r)));
  for (uint32_t a = 0; a < records.size(); ++a) {
    EXPECT_NEAR(all[a][a], 1.0, 1e-6);
    for (uint32_t b = 0; b < records.size(); ++b) {
      EXPECT_NEAR(all[a][b], all[b][a], 1e-6) << a << " vs " << b;
      EXPECT_GE(all[a][b], 0.0);
      EXPECT_LE(all[a][b], 1.0);
    }
  }
}

TEST(SimilarityTest, ContradictionLowersTheScore) {
  // Case 1 has the query's terms, case 2 the same terms but excludes one the query observes.
  std::vector<v1::IndividualRecord> records = {Record({kPolycystic, kHypertension}),
                                               Record({kPolycystic, kHypertension}, {kSeizure}),
                                               Record({kPolycystic, kHypertension}, {kRenalCyst})};
  auto index = CaseIndex::FromRecords(Hpo(), records);
  ASSERT_TRUE(index.ok());
  v1::CaseQuery q = QueryOf(Record({kPolycystic, kHypertension}));
  auto scores = Scores(**index, q);
  EXPECT_DOUBLE_EQ(scores[0], 1.0);
  EXPECT_DOUBLE_EQ(scores[1], 1.0) << "excluding a term the query does not have is no conflict";
  // Renal cyst is an ancestor of polycystic kidney dysplasia: case 2 says it has no renal cyst.
  EXPECT_LT(scores[2], scores[0]);
  auto r = RankSimilar(**index, q, {}, 3, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->top.back().match.contradiction());

  // The other way round: the query excludes what the case observes.
  v1::CaseQuery excluding = q;
  excluding.add_excluded_phenotypes(kHypertension);
  auto s2 = Scores(**index, excluding);
  EXPECT_LT(s2[0], 1.0);
}

TEST(SimilarityTest, GenotypeSameVariantBeatsSameGeneBeatsNothing) {
  std::vector<v1::IndividualRecord> records(4, Record({kPolycystic}));
  std::string vkey = keys::Variant({"GRCh38", "16", 2100000, "G", "A"});
  auto* v0 = records[0].add_reported();
  v0->set_variant_key(vkey);
  v0->set_gene("PKD1");
  v0->set_zygosity(v1::HETEROZYGOUS);
  records[1].add_reported()->set_gene("PKD1");  // another variant in the gene
  auto* v2 = records[2].add_reported();         // the allele, but homozygous
  v2->set_variant_key(vkey);
  v2->set_gene("PKD1");
  v2->set_zygosity(v1::HOMOZYGOUS);
  auto index = CaseIndex::FromRecords(Hpo(), records);
  ASSERT_TRUE(index.ok());
  v1::CaseQuery q;
  auto* cv = q.add_variants();
  cv->set_assembly("GRCh38");
  cv->set_chrom("16");
  cv->set_pos(2100000);
  cv->set_ref("G");
  cv->set_alt("A");
  cv->set_gene("PKD1");
  cv->set_zygosity(v1::HETEROZYGOUS);
  Carriers carriers(1);
  carriers[0] = {{0, v1::HETEROZYGOUS}, {2, v1::HOMOZYGOUS}};
  auto scores = Scores(**index, q, carriers);
  EXPECT_DOUBLE_EQ(scores[0], 1.0);
  EXPECT_DOUBLE_EQ(scores[2], kOtherZygosity);
  EXPECT_DOUBLE_EQ(scores[1], kSameGene);
  EXPECT_EQ(scores.count(3), 0u) << "no genotype, no phenotype asked: not returned";

  auto r = RankSimilar(**index, q, carriers, 3, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->top.size(), 3u);
  ASSERT_EQ(r->top[0].match.variants_size(), 1);
  EXPECT_EQ(r->top[0].match.variants(0).level(), "variant");
  EXPECT_EQ(r->top[0].match.variants(0).zygosity(), v1::HETEROZYGOUS);
  EXPECT_EQ(r->top[1].match.variants(0).zygosity(), v1::HOMOZYGOUS);
  EXPECT_EQ(r->top[2].match.variants(0).level(), "gene");
}

TEST(SimilarityTest, DiagnosisIsASmallerTermAndCategoriesCountHalf) {
  std::vector<v1::IndividualRecord> records = {Record({kPolycystic}, {}, {"Q612"}),
                                               Record({kPolycystic}, {}, {"Q613"}),
                                               Record({kPolycystic}, {}, {"N18"})};
  auto index = CaseIndex::FromRecords(Hpo(), records);
  ASSERT_TRUE(index.ok());
  auto scores = Scores(**index, QueryOf(records[0]));
  EXPECT_DOUBLE_EQ(scores[0], 1.0);
  double w = kPhenotypeWeight + kDiagnosisWeight;
  EXPECT_NEAR(scores[1], (kPhenotypeWeight + kSameCategory * kDiagnosisWeight) / w, 1e-9);
  EXPECT_NEAR(scores[2], kPhenotypeWeight / w, 1e-9);
}

TEST(SimilarityTest, TiesBreakByOrdinalAndIneligibleCasesAreSkipped) {
  std::vector<v1::IndividualRecord> records(5, Record({kSeizure}));
  auto index = CaseIndex::FromRecords(Hpo(), records);
  ASSERT_TRUE(index.ok());
  auto r = RankSimilar(**index, QueryOf(records[0]), {}, 3,
                       [](uint32_t ordinal) { return ordinal != 1; });
  ASSERT_TRUE(r.ok());
  std::vector<uint32_t> got;
  for (const auto& s : r->top) got.push_back((*index)->at(s.position).ordinal);
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 2, 3}));
}

TEST(SimilarityTest, UnknownObsoleteAndAltIdsAreReported) {
  auto hpo = Hpo();
  // Find an obsolete term with replaced_by, one without, and an alt id in the real file.
  std::string replaced, dead;
  for (uint32_t t = 0; t < hpo->size(); ++t) {
    const auto& term = hpo->term(t);
    if (!term.obsolete) continue;
    if (!term.replaced_by.empty() && replaced.empty()) replaced = term.id;
    if (term.replaced_by.empty() && dead.empty()) dead = term.id;
  }
  ASSERT_FALSE(replaced.empty());
  ASSERT_FALSE(dead.empty());
  auto index = CaseIndex::FromRecords(hpo, {Record({kSeizure})});
  ASSERT_TRUE(index.ok());
  v1::CaseQuery q;
  q.add_phenotypes(kSeizure);
  q.add_phenotypes("HP:9999999");
  q.add_phenotypes(replaced);
  q.add_phenotypes(dead);
  q.add_phenotypes("HP:0004715");  // alt id of Multicystic kidney dysplasia
  auto r = RankSimilar(**index, q, {}, 5, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, std::string> problems;
  for (const auto& n : r->notes) problems[n.id()] = n.problem();
  EXPECT_EQ(problems["HP:9999999"], "unknown");
  EXPECT_EQ(problems[replaced], "obsolete, replaced");
  EXPECT_EQ(problems[dead], "obsolete");
  EXPECT_EQ(problems["HP:0004715"], "alternative id");
  EXPECT_EQ(problems.count(kSeizure), 0u);
}

TEST(SimilarityTest, InformationContentFallsBackToStructureForSmallRegions) {
  auto hpo = Hpo();
  uint32_t seizure = *hpo->Resolve(kSeizure).term;
  uint32_t polycystic = *hpo->Resolve(kPolycystic).term;
  uint32_t root = *hpo->Resolve("HP:0000001").term;
  // Structurally, seizure (a broad term) carries less information than polycystic kidney
  // dysplasia (nearly a leaf). A region with a case of each keeps that order.
  std::vector<v1::IndividualRecord> few = {Record({kSeizure}), Record({kPolycystic})};
  auto small = CaseIndex::FromRecords(hpo, few);
  ASSERT_TRUE(small.ok());
  EXPECT_LT((*small)->ic().annotation_weight(), 0.01);
  EXPECT_GT((*small)->ic()[polycystic], (*small)->ic()[seizure]);
  // A large region where polycystic kidneys are common and seizures rare reverses it: its own
  // annotations rule.
  std::vector<v1::IndividualRecord> many;
  for (size_t i = 0; i < 20 * kStructurePrior; ++i) {
    many.push_back(Record({i % 100 == 0 ? kSeizure : kPolycystic}));
  }
  auto large = CaseIndex::FromRecords(hpo, many);
  ASSERT_TRUE(large.ok());
  const auto& ic = (*large)->ic();
  EXPECT_GT(ic.annotation_weight(), 0.9);
  EXPECT_GT(ic[seizure], ic[polycystic]) << "the rarer annotation carries more information";
  for (const auto* index : {&**small, &**large}) {
    const auto& x = index->ic();
    EXPECT_NEAR(x[root], 0.0, 1e-12);
    // Monotone: no term is more informative than its descendants.
    for (uint32_t t = 0; t < hpo->size(); ++t) {
      for (uint32_t p : hpo->term(t).parents) ASSERT_LE(x[p], x[t] + 1e-12);
    }
  }
}

TEST(SimilarityTest, ExactMatchEarnsMoreThanAnAncestorAndASiblingLess) {
  auto hpo = Hpo();
  // Polycystic kidney dysplasia, its ancestor renal cyst, and a term elsewhere in the kidney.
  auto index = CaseIndex::FromRecords(
      hpo, {Record({kPolycystic}), Record({kRenalCyst}), Record({"HP:0000083"})});
  ASSERT_TRUE(index.ok());
  v1::CaseQuery q;
  q.add_phenotypes(kPolycystic);
  auto r = RankSimilar(**index, q, {}, 3, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->top.size(), 3u);
  EXPECT_EQ(r->top[0].position, 0u);
  EXPECT_DOUBLE_EQ(r->top[0].match.phenotype_score(), 1.0);
  EXPECT_EQ(r->top[1].position, 1u);
  EXPECT_LT(r->top[1].match.phenotype_score(), 1.0);
  EXPECT_EQ(r->top[2].position, 2u);
  EXPECT_LT(r->top[2].match.phenotype_score(), r->top[1].match.phenotype_score());
}

TEST(SimilarityTest, ListedMatchesAreExactOnlyAtOrBelowTheQueryTermAndInformative) {
  auto hpo = Hpo();
  // Renal cyst sits just above polycystic kidney dysplasia; seizures share only "Phenotypic
  // abnormality" with it.
  auto index = CaseIndex::FromRecords(hpo, {Record({kRenalCyst}), Record({"HP:0001250"})});
  ASSERT_TRUE(index.ok());
  v1::CaseQuery q;
  q.add_phenotypes(kPolycystic);
  auto r = RankSimilar(**index, q, {}, 2, [](uint32_t) { return true; });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->top.size(), 2u);
  ASSERT_EQ(r->top[0].position, 0u);
  ASSERT_EQ(r->top[0].match.phenotypes_size(), 1);
  EXPECT_FALSE(r->top[0].match.phenotypes(0).exact());
  EXPECT_EQ(r->top[0].match.phenotypes(0).common_term(), kRenalCyst);
  EXPECT_EQ(r->top[1].position, 1u);
  EXPECT_EQ(r->top[1].match.phenotypes_size(), 0) << r->top[1].match.phenotypes(0).common_label();

  // Asked the other way round, the case holds a term below the query's: an exact match.
  v1::CaseQuery up;
  up.add_phenotypes(kRenalCyst);
  auto below = CaseIndex::FromRecords(hpo, {Record({kPolycystic})});
  ASSERT_TRUE(below.ok());
  auto r2 = RankSimilar(**below, up, {}, 1, [](uint32_t) { return true; });
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_EQ(r2->top.size(), 1u);
  ASSERT_EQ(r2->top[0].match.phenotypes_size(), 1);
  EXPECT_TRUE(r2->top[0].match.phenotypes(0).exact());
}

TEST(SimilarityTest, JaccardBaselineCountsExactTermsOnly) {
  EXPECT_DOUBLE_EQ(JaccardTerms({"a", "b"}, {"b", "c"}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(JaccardTerms({"a"}, {"a"}), 1.0);
  EXPECT_DOUBLE_EQ(JaccardTerms({kPolycystic}, {kRenalCyst}), 0.0);
}

TEST(CaseQueryTest, PhenopacketBecomesAQuestionWithoutIdentity) {
  v1::Phenopacket p;
  p.mutable_subject()->set_id("patient-17");
  auto* f = p.add_phenotypic_features();
  f->mutable_type()->set_id("hp:0000113");
  auto* x = p.add_phenotypic_features();
  x->mutable_type()->set_id("HP:0001250");
  x->set_excluded(true);
  auto* d = p.add_diseases();
  d->mutable_term()->set_id("ICD10:Q61.2");
  auto* gi = p.add_interpretations()->mutable_diagnosis()->add_genomic_interpretations();
  auto* vd = gi->mutable_variant_interpretation()->mutable_variation_descriptor();
  vd->mutable_gene_context()->set_symbol("pkd1");
  vd->mutable_allelic_state()->set_id("GENO:0000135");
  auto* vcf = vd->mutable_vcf_record();
  vcf->set_genome_assembly("grch38");
  vcf->set_chrom("chr16");
  vcf->set_pos(2100000);
  vcf->set_ref("GTT");
  vcf->set_alt("GT");
  auto q = vocab::CaseQueryFromPhenopacket(p);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->phenotypes(0), "HP:0000113");
  EXPECT_EQ(q->excluded_phenotypes(0), "HP:0001250");
  EXPECT_EQ(q->diagnoses(0), "Q612");
  EXPECT_EQ(vocab::FormatCaseVariant(q->variants(0)), "GRCh38:16:2100000:GT:G,het");
  EXPECT_EQ(q->variants(0).gene(), "PKD1");
  EXPECT_EQ(q->SerializeAsString().find("patient-17"), std::string::npos);

  vd->mutable_allelic_state()->set_id("GENO:0000137");
  auto bad = vocab::CaseQueryFromPhenopacket(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("allelicState"), std::string::npos);
}

TEST(CaseQueryTest, Icd10Chapters) {
  EXPECT_EQ(vocab::Icd10Chapter("Q612").substr(0, 6), "XVII C");
  EXPECT_EQ(vocab::Icd10Chapter("C341").substr(0, 3), "II ");
  EXPECT_EQ(vocab::Icd10Chapter("D50"), vocab::Icd10Chapter("D899"));
  EXPECT_NE(vocab::Icd10Chapter("D48"), vocab::Icd10Chapter("D50"));
  EXPECT_EQ(vocab::Icd10Chapter("T98").substr(0, 4), "XIX ");
  EXPECT_EQ(vocab::Icd10Chapter("W1"), "");
}

}  // namespace
}  // namespace pmdb::query
