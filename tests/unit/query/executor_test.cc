// The executor and engine on a store written by hand, so every expected number follows from
// the bits set below.
#include "query/executor.h"

#include "gtest/gtest.h"
#include "node/storage/keys.h"
#include "node/vocab/codes.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::query {
namespace {

namespace keys = storage::keys;
using storage::Bitmap;
using storage::Family;

// Ten individuals 0..9. Females 0-4, males 5-9. Ages: 0-4 are 65, 5-9 are 30, except 9 unknown.
// Diagnoses: C50.9 for 1,2; C61 for 6. Consent: 3 withdrew from research.
// Variant V (GRCh38 17:100 A>G): het 1,5; hom 2; individual 8 no-call, 7 haploid-called (an1),
// 6 is triploid with 3 copies (hom with ac+1, an3). Genotyped at V: 0..8.
// Variant W (GRCh38 17:200 C>T): het 2,9. Variant on GRCh37 X:5 (dataset old): hemi 0.
// Variant Y (GRCh38 17:500 G>C), calls from two sources: 1 is het and hom, 2 is hom and
// triploid with 3 copies (ac+1, an3); genotyped 0..8.
class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = pmdb::testing::OpenOrDie(dir_.Path("db"));
    storage::WriteBatch b = store_->NewBatch();
    b.AddBits(keys::kAllIndividuals, Bitmap::Range(0, 10));
    b.AddBits(keys::Consent("research"), Bitmap::Range(0, 10) - Bitmap::Of({3}));
    b.AddBits(keys::Consent("care"), Bitmap::Range(0, 10));
    b.AddBits(keys::Sex('F'), Bitmap::Range(0, 5));
    b.AddBits(keys::Sex('M'), Bitmap::Range(5, 10));
    for (uint32_t i = 0; i < 9; ++i) {
      uint32_t age = i < 5 ? 65 : 30;
      b.AddBits(keys::AgeYear(age), Bitmap::Of({i}));
      b.AddBits(keys::AgeBand(vocab::AgeBandStart(age)), Bitmap::Of({i}));
    }
    for (const std::string& p : vocab::Icd10Prefixes("C509"))
      b.AddBits(keys::Diagnosis(p), Bitmap::Of({1, 2}));
    for (const std::string& p : vocab::Icd10Prefixes("C61"))
      b.AddBits(keys::Diagnosis(p), Bitmap::Of({6}));
    b.AddBits(keys::Phenotype("HP:0000118"), Bitmap::Of({1, 2, 5}));
    b.AddBits(keys::DatasetMembers("new"), Bitmap::Range(0, 10));
    b.AddBits(keys::DatasetMembers("old"), Bitmap::Of({0}));

    std::string v = keys::Variant({"GRCh38", "17", 100, "A", "G"});
    b.Put(Family::kVariants, v, "");
    b.AddBits(keys::Genotype(v, keys::kGenotyped), Bitmap::Range(0, 9));
    b.AddBits(keys::Genotype(v, keys::kHet), Bitmap::Of({1, 5}));
    b.AddBits(keys::Genotype(v, keys::kHom), Bitmap::Of({2, 6}));
    b.AddBits(keys::Genotype(v, keys::ExtraCopiesKind(1)), Bitmap::Of({6}));
    b.AddBits(keys::Genotype(v, keys::AlleleNumberKind(0)), Bitmap::Of({8}));
    b.AddBits(keys::Genotype(v, keys::AlleleNumberKind(1)), Bitmap::Of({7}));
    b.AddBits(keys::Genotype(v, keys::AlleleNumberKind(3)), Bitmap::Of({6}));
    std::string w = keys::Variant({"GRCh38", "17", 200, "C", "T"});
    b.Put(Family::kVariants, w, "");
    b.AddBits(keys::Genotype(w, keys::kHet), Bitmap::Of({2, 9}));
    std::string y = keys::Variant({"GRCh38", "17", 500, "G", "C"});
    b.Put(Family::kVariants, y, "");
    b.AddBits(keys::Genotype(y, keys::kGenotyped), Bitmap::Range(0, 9));
    b.AddBits(keys::Genotype(y, keys::kHet), Bitmap::Of({1}));
    b.AddBits(keys::Genotype(y, keys::kHom), Bitmap::Of({1, 2}));
    b.AddBits(keys::Genotype(y, keys::ExtraCopiesKind(1)), Bitmap::Of({2}));
    b.AddBits(keys::Genotype(y, keys::AlleleNumberKind(3)), Bitmap::Of({2}));
    std::string x = keys::Variant({"GRCh37", "X", 5, "G", "A"});
    b.Put(Family::kVariants, x, "");
    b.AddBits(keys::Genotype(x, keys::kHemi), Bitmap::Of({0}));
    ASSERT_TRUE(store_->Write(b).ok());

    std::map<std::string, v1::DatasetInfo> datasets;
    datasets["new"].set_assembly("GRCh38");
    datasets["old"].set_assembly("GRCh37");
    auto genes = vocab::GeneTable::Parse(
        "symbol\tentrez\tchrom\tstart\tend\nGENEA\t1\t17\t50\t150\n"
        "GENEB\t2\t17\t150\t250\nGENEC\t3\t17\t50\t250\n",
        "genes.tsv");
    ASSERT_TRUE(genes.ok());
    std::map<std::string, std::shared_ptr<const vocab::GeneTable>> tables;
    tables["GRCh38"] = std::make_shared<const vocab::GeneTable>(std::move(*genes));
    engine_ = std::make_unique<Engine>(
        std::make_shared<const vocab::Catalog>(datasets, nullptr, std::move(tables)));
    view_ = store_->Snapshot();
  }

  uint64_t Count(std::string_view text, v1::Purpose purpose = v1::CARE) {
    auto c = ParseCriterion(text);
    EXPECT_TRUE(c.ok()) << c.status();
    auto r = engine_->Count(*view_, *c, purpose);
    EXPECT_TRUE(r.ok()) << text << ": " << r.status();
    last_warnings_ = r.ok() ? r->warnings : std::vector<std::string>{};
    return r.ok() ? r->value : ~0ull;
  }

  pmdb::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<storage::ReadView> view_;
  std::vector<std::string> last_warnings_;
};

TEST_F(ExecutorTest, BooleanAlgebra) {
  EXPECT_EQ(Count("sex(F)"), 5u);
  EXPECT_EQ(Count("sex(F) AND dx(C50)"), 2u);
  EXPECT_EQ(Count("dx(C50) OR dx(C61)"), 3u);
  EXPECT_EQ(Count("dx(C)"), 3u);
  EXPECT_EQ(Count("dx(C50.9)"), 2u);
  EXPECT_EQ(Count("NOT sex(F)"), 5u);
  EXPECT_EQ(Count("NOT sex(F) AND NOT dx(C)"), 4u);
  EXPECT_EQ(Count("sex(M) AND NOT (dx(C61) OR age(30))"), 1u);  // 9: male, no age
  EXPECT_EQ(Count("hpo(HP:0000118) AND NOT sex(M)"), 2u);
}

TEST_F(ExecutorTest, AgeRangesUseBandsAndYears) {
  EXPECT_EQ(Count("age(60-69)"), 5u);
  EXPECT_EQ(Count("age(65)"), 5u);
  EXPECT_EQ(Count("age(66-)"), 0u);
  EXPECT_EQ(Count("age(25-64)"), 4u);
  EXPECT_EQ(Count("age(0-)"), 9u);
}

TEST_F(ExecutorTest, ConsentPurposeRestrictsEveryResult) {
  EXPECT_EQ(Count("sex(F)", v1::CARE), 5u);
  EXPECT_EQ(Count("sex(F)", v1::RESEARCH), 4u);
  EXPECT_EQ(Count("NOT dx(C)", v1::RESEARCH), 6u);
}

TEST_F(ExecutorTest, VariantsByZygosity) {
  EXPECT_EQ(Count("variant(GRCh38:17:100:A:G)"), 4u);
  EXPECT_EQ(Count("variant(GRCh38:17:100:A:G,het)"), 2u);
  EXPECT_EQ(Count("variant(GRCh38:17:100:A:G,hom) AND sex(F)"), 1u);
  EXPECT_EQ(Count("variant(GRCh38:17:100:A:C)"), 0u);
}

TEST_F(ExecutorTest, RangesAndGenes) {
  EXPECT_EQ(Count("range(GRCh38:17:1-1000)"), 5u);   // 1,2,5,6,9
  EXPECT_EQ(Count("range(GRCh38:17:101-200)"), 2u);  // only W
  EXPECT_EQ(Count("range(GRCh38:17:201-300)"), 0u);
  EXPECT_EQ(Count("gene(GENEA)"), 4u);
  EXPECT_EQ(Count("gene(GENEB)"), 2u);
  // Across V and W, individual 2 is hom at V and het at W: counted once, as hom.
  EXPECT_EQ(Count("gene(GENEC,hom)"), 2u);
  EXPECT_EQ(Count("gene(GENEC,het)"), 3u);  // 1, 5, 9
  // The GRCh37 dataset has no gene table: searched nowhere, and the answer says so.
  ASSERT_EQ(last_warnings_.size(), 1u);
  EXPECT_NE(last_warnings_[0].find("GRCh37"), std::string::npos);
}

// A treatment code outside the ATC's anatomical main groups is answered, with a warning, as an
// unknown HPO id is; a code of a real group is not.
TEST_F(ExecutorTest, ATreatmentOutsideTheAtcMainGroupsIsWarnedAbout) {
  Count("treatment(E01)");
  ASSERT_EQ(last_warnings_.size(), 1u);
  EXPECT_NE(last_warnings_[0].find("E is not an ATC anatomical main group"), std::string::npos)
      << last_warnings_[0];
  Count("treatment(L01EB)");
  EXPECT_TRUE(last_warnings_.empty());
}

TEST_F(ExecutorTest, UnknownGeneIsAnError) {
  auto c = ParseCriterion("gene(NOPE)");
  EXPECT_EQ(engine_->Count(*view_, *c, v1::CARE).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExecutorTest, BreakdownBySexAndAgeBand) {
  auto c = ParseCriterion("dataset(new)");
  auto r = engine_->Breakdown(*view_, *c, {v1::SEX, v1::AGE_BAND}, v1::RESEARCH);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::pair<std::string, std::string>, uint64_t> cells;
  uint64_t total = 0;
  for (const auto& cell : r->value.cells()) {
    cells[{cell.labels(0), cell.labels(1)}] = cell.count();
    total += cell.count();
  }
  EXPECT_EQ(r->value.cells_size(), 4 * 12);
  EXPECT_EQ(total, 9u);  // 3 withdrew from research
  EXPECT_EQ((cells[{"F", "60-69"}]), 4u);
  EXPECT_EQ((cells[{"M", "30-39"}]), 4u);
  EXPECT_EQ((cells[{"M", "unknown"}]), 1u);

  // "unknown" (everyone without an age band) as a row, and alone: counted from the bands.
  auto rows = engine_->Breakdown(*view_, *c, {v1::AGE_BAND, v1::SEX}, v1::RESEARCH);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::map<std::pair<std::string, std::string>, uint64_t> by_row;
  for (const auto& cell : rows->value.cells())
    by_row[{cell.labels(0), cell.labels(1)}] = cell.count();
  EXPECT_EQ((by_row[{"unknown", "M"}]), 1u);
  EXPECT_EQ((by_row[{"unknown", "F"}]), 0u);
  EXPECT_EQ((by_row[{"60-69", "F"}]), 4u);
  auto alone = engine_->Breakdown(*view_, *c, {v1::AGE_BAND}, v1::RESEARCH);
  ASSERT_TRUE(alone.ok()) << alone.status();
  std::map<std::string, uint64_t> bands;
  for (const auto& cell : alone->value.cells()) bands[cell.labels(0)] = cell.count();
  EXPECT_EQ(bands["unknown"], 1u);
  EXPECT_EQ(bands["30-39"], 4u);
  EXPECT_EQ(bands["60-69"], 4u);
}

TEST_F(ExecutorTest, BreakdownByDiagnosisHasANoneCell) {
  auto c = ParseCriterion("dataset(new)");
  Engine exact(engine_->catalog_ptr(), Engine::kExact);
  auto r = exact.Breakdown(*view_, *c, {v1::DIAGNOSIS}, v1::CARE);
  ASSERT_TRUE(r.ok());
  std::map<std::string, uint64_t> cells;
  for (const auto& cell : r->value.cells()) cells[cell.labels(0)] = cell.count();
  EXPECT_EQ(cells, (std::map<std::string, uint64_t>{{"C50", 2}, {"C61", 1}, {"none", 7}}));
}

// Cells of an answer that leaves the region come from the codes the question names, never from
// the data: a category nobody has still gets its cell, and one somebody has but the question
// does not name is in "other".
TEST_F(ExecutorTest, DisclosedDiagnosisCellsAreTheNamedCodes) {
  auto c = ParseCriterion("dataset(new)");
  auto unnamed = engine_->Breakdown(*view_, *c, {v1::DIAGNOSIS}, v1::CARE);
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument);
  auto r = engine_->Breakdown(*view_, *c, {v1::DIAGNOSIS, v1::SEX}, v1::CARE, {"C50", "Q87"});
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> labels;
  std::map<std::string, uint64_t> by_dx;
  for (const auto& cell : r->value.cells()) {
    if (labels.empty() || labels.back() != cell.labels(0)) labels.push_back(cell.labels(0));
    by_dx[cell.labels(0)] += cell.count();
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"C50", "Q87", "other", "none"}));
  EXPECT_EQ(by_dx,
            (std::map<std::string, uint64_t>{{"C50", 2}, {"Q87", 0}, {"other", 1}, {"none", 7}}));
  EXPECT_EQ(CellsPerPerson({v1::DIAGNOSIS, v1::SEX}, {"C50", "Q87"}), 2u);
  EXPECT_EQ(CellsPerPerson({v1::SEX, v1::AGE_BAND}, {}), 1u);
  EXPECT_EQ(CheckDiagnoses({v1::DIAGNOSIS}, std::vector<std::string>{"c50", "C50", "ICD10:E11.9"})
                .value(),
            (std::vector<std::string>{"C50", "E119"}));
  EXPECT_FALSE(CheckDiagnoses({v1::SEX}, std::vector<std::string>{"C50"}).ok());
  EXPECT_FALSE(CheckDiagnoses({v1::DIAGNOSIS}, std::vector<std::string>{"not a code"}).ok());
}

TEST_F(ExecutorTest, BreakdownByZygosityNeedsAGenotypeCriterion) {
  auto c = ParseCriterion("variant(GRCh38:17:100:A:G) AND sex(M)");
  auto r = engine_->Breakdown(*view_, *c, {v1::ZYGOSITY}, v1::CARE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value.cells(0).count(), 1u);  // het: 5
  EXPECT_EQ(r->value.cells(1).count(), 1u);  // hom: 6
  auto bad = engine_->Breakdown(*view_, *ParseCriterion("sex(M)"), {v1::ZYGOSITY}, v1::CARE);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ExecutorTest, FrequencyCountsCopiesAndCalledAlleles) {
  Engine exact(engine_->catalog_ptr(), Engine::kExact);
  auto f = exact.Frequency(*view_, *ParseCriterion("variant(GRCh38:17:100:A:G)"), v1::CARE);
  ASSERT_TRUE(f.ok()) << f.status();
  // AC: het 1,5 -> 2; hom 2 -> 2; triploid 6 -> 3. AN: 9 genotyped x2 = 18, minus 2 for the
  // no-call, minus 1 for the haploid, plus 1 for the triploid.
  EXPECT_EQ(f->value.ac, 7u);
  EXPECT_EQ(f->value.an, 16u);
  auto females = exact.Frequency(*view_, *ParseCriterion("sex(F) AND variant(GRCh38:17:100:A:G)"),
                                 v1::RESEARCH);
  ASSERT_TRUE(females.ok());
  EXPECT_EQ(females->value.ac, 3u);  // 1 het, 2 hom
  EXPECT_EQ(females->value.an, 8u);  // 0,1,2,4 (3 withdrew)
  auto two = engine_->Frequency(
      *view_, *ParseCriterion("variant(GRCh38:17:100:A:G) AND variant(GRCh38:17:200:C:T)"),
      v1::CARE);
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
}

// A view that counts what is read through it.
class CountingView : public storage::ReadView {
 public:
  explicit CountingView(const storage::ReadView& inner) : inner_(inner) {}
  absl::StatusOr<std::optional<std::string>> Get(Family family,
                                                 std::string_view key) const override {
    ++reads;
    return inner_.Get(family, key);
  }
  absl::Status Scan(Family family, std::string_view begin, std::string_view end,
                    const ScanFn& fn) const override {
    ++scans;
    return inner_.Scan(family, begin, end, fn);
  }
  absl::StatusOr<Bitmap> GetBitmap(std::string_view key) const override {
    ++reads;
    return inner_.GetBitmap(key);
  }
  absl::StatusOr<std::vector<Bitmap>> GetBitmaps(std::span<const std::string> keys) const override {
    reads += static_cast<int>(keys.size());
    return inner_.GetBitmaps(keys);
  }
  mutable int reads = 0;
  mutable int scans = 0;

 private:
  const storage::ReadView& inner_;
};

// Women of 65 exist (0-4); men of 65 do not. An AND that stops once it selects nobody reads
// less for the men, and its time tells the two apart; the default evaluation reads the same.
TEST_F(ExecutorTest, WorkDoesNotDependOnWhetherAPartSelectsAnyone) {
  auto reads = [&](std::string_view text, Executor::Work work) {
    CountingView view(*view_);
    Executor ex(view, engine_->catalog(), work);
    auto bits = ex.Evaluate(*ParseCriterion(text));
    EXPECT_TRUE(bits.ok()) << bits.status();
    return std::pair{view.reads, view.scans};
  };
  const std::string tail = " AND age(65) AND (range(GRCh38:17:1-1000) OR gene(GENEC))";
  for (auto work : {Executor::Work::kDataIndependent, Executor::Work::kShortCircuit}) {
    auto someone = reads("sex(F)" + tail, work);
    auto nobody = reads("sex(M)" + tail, work);
    if (work == Executor::Work::kDataIndependent) {
      EXPECT_EQ(someone, nobody);
      EXPECT_EQ(someone.second, 2) << "the range and the gene are scanned";
    } else {
      EXPECT_GT(someone.second, nobody.second) << "short-circuiting must skip the scans";
    }
  }
}

// Errors and warnings come from the question and the vocabularies before any data is read, so
// `S AND gene(NOPE)` is the same error whether S selects anyone or not.
TEST_F(ExecutorTest, ErrorsAndWarningsDoNotDependOnTheData) {
  for (std::string_view s : {"sex(F) AND age(65)", "sex(M) AND age(65)"}) {
    auto bad =
        engine_->Count(*view_, *ParseCriterion(std::string(s) + " AND gene(NOPE)"), v1::RESEARCH);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(bad.status().message(), "gene symbol NOPE is not in the store's gene tables") << s;
    Count(std::string(s) + " AND gene(GENEA) AND dataset(nosuch)");
    EXPECT_EQ(last_warnings_,
              (std::vector<std::string>{
                  "gene(GENEA) did not search the GRCh37 datasets: the store has no GRCh37 gene "
                  "table",
                  "no dataset 'nosuch' in this store"}))
        << s;
  }
  // A criterion from the wire is checked as the parser would: a malformed code is refused.
  v1::Criterion wire;
  wire.set_diagnosis("not a code");
  EXPECT_EQ(engine_->Count(*view_, wire, v1::RESEARCH).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Criterion old_age;
  old_age.mutable_age()->set_min(20);
  old_age.mutable_age()->set_max(4000000000u);
  EXPECT_EQ(engine_->Count(*view_, old_age, v1::RESEARCH).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The engine evaluates the canonical form, so questions with one canonical text count the same
// people: here the frequency's cohort and the zygosity breakdown's genotype leaf, which were
// taken from the question as written.
TEST_F(ExecutorTest, QuestionsWithOneCanonicalTextCountTheSamePeople) {
  const std::string v = "variant(GRCh38:17:100:A:G)";
  auto plain = engine_->Frequency(*view_, *ParseCriterion(v), v1::CARE);
  auto absorbed =
      engine_->Frequency(*view_, *ParseCriterion(v + " AND (" + v + " OR sex(M))"), v1::CARE);
  ASSERT_TRUE(plain.ok() && absorbed.ok()) << absorbed.status();
  EXPECT_EQ(plain->question, absorbed->question);
  EXPECT_EQ(absorbed->value.an, plain->value.an);
  EXPECT_EQ(absorbed->value.ac, plain->value.ac);

  auto one =
      engine_->Breakdown(*view_, *ParseCriterion("gene(GENEB) AND " + v), {v1::ZYGOSITY}, v1::CARE);
  auto other =
      engine_->Breakdown(*view_, *ParseCriterion(v + " AND gene(GENEB)"), {v1::ZYGOSITY}, v1::CARE);
  ASSERT_TRUE(one.ok() && other.ok());
  EXPECT_EQ(one->question, other->question);
  ASSERT_EQ(one->value.cells_size(), other->value.cells_size());
  for (int i = 0; i < one->value.cells_size(); ++i) {
    EXPECT_EQ(one->value.cells(i).count(), other->value.cells(i).count()) << i;
  }
}

// What disclosure control assumes about one person: at most 2 toward AC and AN, one zygosity
// cell. A triploid call and calls of two kinds from two sources would break it.
TEST_F(ExecutorTest, APersonAddsAtMostTwoToAcAndAnAndLandsInOneZygosityCell) {
  Engine exact(engine_->catalog_ptr(), Engine::kExact);
  const auto y = *ParseCriterion("variant(GRCh38:17:500:G:C)");
  auto all = exact.Frequency(*view_, y, v1::CARE);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->value.ac, 6u);   // 1: het 1 + hom 2; 2: hom 2 + 1 extra
  EXPECT_EQ(all->value.an, 19u);  // 9 genotyped x 2, one more for the triploid
  auto bounded = engine_->Frequency(*view_, y, v1::CARE);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  EXPECT_EQ(bounded->value.ac, 4u);   // 2 each
  EXPECT_EQ(bounded->value.an, 18u);  // 2 each
  // V: 6 is triploid with 3 copies, 7 haploid, 8 a no-call.
  auto v = engine_->Frequency(*view_, *ParseCriterion("variant(GRCh38:17:100:A:G)"), v1::CARE);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value.ac, 6u);   // 1, 5 one each; 2, 6 two each
  EXPECT_EQ(v->value.an, 15u);  // 0-6 two each, 7 one, 8 none

  auto cells = engine_->Breakdown(*view_, y, {v1::ZYGOSITY}, v1::CARE);
  ASSERT_TRUE(cells.ok());
  uint64_t total = 0;
  for (const auto& cell : cells->value.cells()) total += cell.count();
  EXPECT_EQ(total, 2u) << "two carriers, one cell each";
  EXPECT_EQ(cells->value.cells(0).count(), 0u);  // het: 1 is counted as hom
  EXPECT_EQ(cells->value.cells(1).count(), 2u);
  EXPECT_EQ(Count("variant(GRCh38:17:500:G:C,het)"), 0u);
}

// A criterion tree from the wire was not parsed here: the node checks the parser's limits again
// before reading anything (an AND of 200,000 ages used to cost every node 300-600 MB).
TEST_F(ExecutorTest, TreesFromTheWireAreHeldToTheSameLimits) {
  v1::Criterion wide;
  for (int i = 0; i < 200000; ++i) wide.mutable_all_of()->add_items()->mutable_age()->set_min(40);
  auto refused = engine_->Count(*view_, wide, v1::RESEARCH);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("at most 1000 criteria"), std::string::npos);
  v1::Criterion deep;
  deep.set_sex(v1::FEMALE);
  for (int i = 0; i < 80; ++i) {
    v1::Criterion outer;
    *outer.mutable_negation() = std::move(deep);
    deep = std::move(outer);
  }
  EXPECT_NE(engine_->Count(*view_, deep, v1::RESEARCH).status().message().find("nests at most"),
            std::string::npos);
}

}  // namespace
}  // namespace pmdb::query
