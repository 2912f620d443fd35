// The releaser's face on a store written by hand: question errors pass as they are, an error once
// data is being read leaves as one fixed text (and the region's own operator still sees it),
// warnings are the checks' own, and the numbers go through the mechanism.
#include "node/core/releaser.h"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/storage/keys.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::core {
namespace {

namespace keys = storage::keys;
using pmdb::testing::IsOk;
using pmdb::testing::StatusIs;
using storage::Bitmap;
using storage::Family;

// A view that fails every read of the bitmaps whose key contains `poisoned`, with an error text
// that names what it read (as a storage error can).
class FailingView : public storage::ReadView {
 public:
  FailingView(const storage::ReadView& inner, std::string poisoned)
      : inner_(inner), poisoned_(std::move(poisoned)) {}
  absl::StatusOr<std::optional<std::string>> Get(Family family,
                                                 std::string_view key) const override {
    return inner_.Get(family, key);
  }
  absl::Status Scan(Family family, std::string_view begin, std::string_view end,
                    const ScanFn& fn) const override {
    return inner_.Scan(family, begin, end, fn);
  }
  absl::StatusOr<Bitmap> GetBitmap(std::string_view key) const override {
    if (key.find(poisoned_) != std::string_view::npos) return Failure(key);
    return inner_.GetBitmap(key);
  }
  absl::StatusOr<std::vector<Bitmap>> GetBitmaps(std::span<const std::string> keys) const override {
    for (const std::string& k : keys) {
      if (k.find(poisoned_) != std::string::npos) return Failure(k);
    }
    return inner_.GetBitmaps(keys);
  }

 private:
  static absl::Status Failure(std::string_view key) {
    return absl::DataLossError(
        absl::StrCat("block checksum mismatch reading '",
                     absl::CHexEscape(absl::string_view(key.data(), key.size())), "'"));
  }
  const storage::ReadView& inner_;
  std::string poisoned_;
};

class ReleaserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = pmdb::testing::OpenOrDie(dir_.Path("db"));
    storage::WriteBatch b = store_->NewBatch();
    b.AddBits(keys::kAllIndividuals, Bitmap::Range(0, 40));
    b.AddBits(keys::Consent("research"), Bitmap::Range(0, 40));
    b.AddBits(keys::Sex('F'), Bitmap::Range(0, 25));
    b.AddBits(keys::Sex('M'), Bitmap::Range(25, 40));
    b.AddBits(keys::Phenotype("HP:0000118"), Bitmap::Range(0, 12));
    ASSERT_THAT(store_->Write(b), IsOk());
    engine_ = std::make_unique<query::Engine>(std::make_shared<const vocab::Catalog>(
        std::map<std::string, v1::DatasetInfo>{}, nullptr,
        std::map<std::string, std::shared_ptr<const vocab::GeneTable>>{}));
    view_ = store_->Snapshot();
  }

  static v1::Criterion Parsed(std::string_view text) {
    auto c = query::ParseCriterion(text);
    EXPECT_THAT(c, IsOk()) << text;
    return c.ok() ? *c : v1::Criterion();
  }

  pmdb::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<query::Engine> engine_;
  std::unique_ptr<storage::ReadView> view_;
  security::Discloser discloser_{security::DisclosureRules{}, std::string(32, 'k')};
};

TEST_F(ReleaserTest, AnErrorWhileReadingLeavesAsOneFixedText) {
  Releaser releaser(*engine_, discloser_);
  FailingView females(*view_, keys::Sex('F'));
  FailingView phenotypes(*view_, keys::Phenotype("HP:0000118"));
  std::set<std::string> texts;
  for (const auto& [view, question] : std::vector<std::pair<const storage::ReadView*, std::string>>{
           {&females, "sex(F)"},
           {&females, "sex(F) AND hpo(HP:0000118)"},
           {&phenotypes, "hpo(HP:0000118) OR sex(M)"}}) {
    auto count = releaser.Count(ViewSource(*view), Parsed(question), v1::RESEARCH);
    EXPECT_THAT(count, StatusIs(absl::StatusCode::kInternal, std::string(kCouldNotAnswer)))
        << question;
    texts.insert(std::string(count.status().message()));
    auto breakdown =
        releaser.Breakdown(ViewSource(*view), Parsed(question), {v1::SEX}, {}, v1::RESEARCH);
    EXPECT_THAT(breakdown, StatusIs(absl::StatusCode::kInternal, std::string(kCouldNotAnswer)));
    texts.insert(std::string(breakdown.status().message()));
  }
  EXPECT_EQ(texts, std::set<std::string>{std::string(kCouldNotAnswer)})
      << "nothing of the storage error's own text leaves";
}

TEST_F(ReleaserTest, TheRegionsOwnOperatorSeesTheRealError) {
  FailingView females(*view_, keys::Sex('F'));
  auto count = Releaser(*engine_).Count(ViewSource(females), Parsed("sex(F)"), v1::RESEARCH);
  EXPECT_THAT(count, StatusIs(absl::StatusCode::kDataLoss, "block checksum mismatch"));
}

TEST_F(ReleaserTest, QuestionErrorsComeFromTheChecksAndPassAsTheyAre) {
  Releaser releaser(*engine_, discloser_);
  FailingView all(*view_, "");  // every bitmap read fails: a question error must come first
  auto gene = releaser.Count(ViewSource(all), Parsed("sex(F) AND gene(BRCA1)"), v1::RESEARCH);
  EXPECT_EQ(gene.status().code(), absl::StatusCode::kFailedPrecondition) << gene.status();
  auto frequency = releaser.Frequency(ViewSource(all), Parsed("sex(F)"), v1::RESEARCH);
  EXPECT_THAT(frequency, StatusIs(absl::StatusCode::kInvalidArgument, "variant("));
  auto quote = releaser.QuoteFrequency(ViewSource(all), Parsed("sex(F)"));
  EXPECT_EQ(quote.status(), frequency.status()) << "a quote refuses with the answer's words";
  auto dx =
      releaser.Breakdown(ViewSource(all), Parsed("sex(F)"), {v1::DIAGNOSIS}, {}, v1::RESEARCH);
  EXPECT_THAT(dx, StatusIs(absl::StatusCode::kInvalidArgument, "named"));
}

TEST_F(ReleaserTest, AnswersCarryTheChecksWarningsTheMechanismAndItsPrice) {
  Releaser releaser(*engine_, discloser_);
  v1::Criterion q = Parsed("sex(F) OR dataset(nosuch)");
  auto checked = engine_->CheckCount(q);
  ASSERT_THAT(checked, IsOk());
  ASSERT_FALSE(checked->warnings.empty()) << "a dataset the store does not hold is warned about";
  auto count = releaser.Count(ViewSource(*view_), q, v1::RESEARCH);
  ASSERT_THAT(count, IsOk());
  EXPECT_EQ(
      std::vector<std::string>(count->answer.warnings().begin(), count->answer.warnings().end()),
      checked->warnings);
  EXPECT_FALSE(count->answer.disclosure().exact());
  EXPECT_EQ(count->cost_micros, discloser_.CostMicros());
  auto quote = releaser.QuoteCount(ViewSource(*view_), q);
  ASSERT_THAT(quote, IsOk());
  EXPECT_EQ(quote->fingerprint, count->fingerprint) << "the quote prices this very release";
  EXPECT_EQ(quote->cost_micros, count->cost_micros);
  auto exact = Releaser(*engine_).Count(ViewSource(*view_), q, v1::RESEARCH);
  ASSERT_THAT(exact, IsOk());
  EXPECT_TRUE(exact->answer.disclosure().exact());
  EXPECT_EQ(exact->answer.count().low(), 25u);
  EXPECT_EQ(exact->answer.count().high(), 25u);
}

TEST_F(ReleaserTest, ACatalogueNoisesEverySiteAtItsOwnScaleAndIsKeyedOnItsSetOfSites) {
  Releaser releaser(*engine_, discloser_);
  const security::NoiseScale scale{2500};  // sd 25 on every AC and AN
  std::vector<v1::Criterion> sites;
  for (int pos : {100, 200, 300}) {
    sites.push_back(Parsed(absl::StrCat("variant(GRCh38:1:", pos, ":A:G)")));
  }
  auto first = releaser.Catalogue(ViewSource(*view_), sites, scale, v1::RESEARCH);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->answer.sites_size(), 3);
  for (const v1::CatalogueSite& s : first->answer.sites()) {
    EXPECT_DOUBLE_EQ(s.ac().noise_sd(), 25);
    EXPECT_DOUBLE_EQ(s.an().noise_sd(), 25);
  }
  // Six numbers of sensitivity 2 at sd 25: rho = 6 * 4 / (2 * 625) = 0.0192, below what one
  // frequency answer costs (0.04 at the region's sigma 5), which is charged instead.
  EXPECT_EQ(security::ZcdpCostMicros(8 * 3, scale), 19200u);
  EXPECT_EQ(first->cost_micros, 40000u);
  auto many = releaser.Catalogue(
      ViewSource(*view_),
      [&] {
        std::vector<v1::Criterion> ten;
        for (int pos = 1; pos <= 10; ++pos) {
          ten.push_back(Parsed(absl::StrCat("variant(GRCh38:2:", pos, ":A:G)")));
        }
        return ten;
      }(),
      {1000}, v1::RESEARCH);
  ASSERT_THAT(many, IsOk());
  EXPECT_EQ(many->cost_micros, 400000u) << "ten sites at sd 10: 10 * 4 / 100";
  auto quote = releaser.QuoteCatalogue(ViewSource(*view_), sites, scale);
  ASSERT_THAT(quote, IsOk());
  EXPECT_EQ(quote->fingerprint, first->fingerprint);
  EXPECT_EQ(quote->cost_micros, first->cost_micros);

  // The same sites in another order: the same release, each site with its own numbers.
  std::vector<v1::Criterion> reordered = {sites[2], sites[0], sites[1]};
  auto again = releaser.Catalogue(ViewSource(*view_), reordered, scale, v1::RESEARCH);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->fingerprint, first->fingerprint);
  EXPECT_EQ(again->answer.sites(0).ac().noised(), first->answer.sites(2).ac().noised());
  EXPECT_EQ(again->answer.sites(1).an().noised(), first->answer.sites(0).an().noised());
  // Other noise, or another set of sites: another release.
  auto louder = releaser.Catalogue(ViewSource(*view_), sites, {3000}, v1::RESEARCH);
  ASSERT_THAT(louder, IsOk());
  EXPECT_NE(louder->fingerprint, first->fingerprint);
  auto fewer = releaser.Catalogue(ViewSource(*view_), {sites[0], sites[1]}, scale, v1::RESEARCH);
  ASSERT_THAT(fewer, IsOk());
  EXPECT_NE(fewer->fingerprint, first->fingerprint);

  auto twice =
      releaser.Catalogue(ViewSource(*view_), {sites[0], sites[1], sites[0]}, scale, v1::RESEARCH);
  EXPECT_THAT(twice, StatusIs(absl::StatusCode::kInvalidArgument, "site 3: variant("));
  EXPECT_THAT(twice, StatusIs(absl::StatusCode::kInvalidArgument, "is given twice"));
  FailingView all(*view_, "");
  EXPECT_THAT(releaser.Catalogue(ViewSource(all), sites, scale, v1::RESEARCH),
              StatusIs(absl::StatusCode::kInternal, std::string(kCouldNotAnswer)));

  auto exact = Releaser(*engine_).Catalogue(ViewSource(*view_), sites, scale, v1::RESEARCH);
  ASSERT_THAT(exact, IsOk());
  EXPECT_TRUE(exact->answer.disclosure().exact());
  EXPECT_EQ(exact->answer.sites(1).ac().high(), 0u) << "no genotypes in this store";
  EXPECT_EQ(exact->cost_micros, 0u);
}

}  // namespace
}  // namespace pmdb::core
