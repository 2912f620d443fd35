// Opt-outs: the next query excludes them, their bits are gone, and they stay out on re-ingest.
#include "gtest/gtest.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/consent.h"
#include "node/ingest/reference_files.h"
#include "node/ingest/vcf_ingest.h"
#include "node/storage/keys.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/integration/fixtures.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::TempDir;
using testing::WriteFile;
namespace keys = storage::keys;

class ConsentTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    WriteFile(dir_.Path("four.vcf"), testing::kFourSampleVcf);
    WriteFile(dir_.Path("packets.jsonl"), testing::kThreePhenopackets);
    ASSERT_TRUE(ingest::RememberReferenceFiles(
                    *store_, {testing::SharedData("ontology/hp.obo"), {}}).ok());
    ASSERT_TRUE(IngestAll().ok());
  }

  absl::Status IngestAll() {
    auto v = ingest::IngestVcf(*store_, {dir_.Path("four.vcf"), "wgs", "GRCh38"});
    if (!v.ok()) return v.status();
    return ingest::IngestPhenopackets(*store_, dir_.Path("packets.jsonl")).status();
  }

  uint64_t Count(std::string_view text, v1::Purpose purpose) {
    auto view = store_->Snapshot();
    auto catalog = vocab::Catalog::Load(*view);
    auto r = query::Engine(*catalog).Count(*view, *query::ParseCriterion(text), purpose);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->value : ~0ull;
  }

  absl::StatusOr<ingest::WithdrawalSummary> Withdraw(const std::string& lines) {
    WriteFile(dir_.Path("optout.txt"), lines);
    return ingest::WithdrawConsent(*store_, dir_.Path("optout.txt"));
  }

  std::optional<uint32_t> OrdinalOf(const std::string& subject) {
    auto v = store_->Snapshot()->Get(storage::Family::kIndividuals, keys::SubjectIndex(subject));
    if (!v.ok() || !v->has_value()) return std::nullopt;
    return keys::ReadBE32(**v);
  }

};

TEST_F(ConsentTest, WithdrawalFromEveryPurposeDeletesEverything) {
  std::optional<uint32_t> p1 = OrdinalOf("P1");
  ASSERT_TRUE(p1.has_value());
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)", v1::RESEARCH), 2u);
  auto s = Withdraw("# opt-outs received 2026-11-20\nP1\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->removed, 1u);
  EXPECT_GT(s->bitmaps_rewritten, 5u);

  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)", v1::RESEARCH), 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)", v1::CARE), 1u);
  EXPECT_EQ(Count("dx(C50)", v1::CARE), 0u);
  EXPECT_EQ(Count("NOT sex(M)", v1::CARE), 2u);  // P3 and P4; P1 is gone from the universe too
  EXPECT_FALSE(OrdinalOf("P1").has_value());
  auto view = store_->Snapshot();
  EXPECT_FALSE(view->Get(storage::Family::kIndividuals, keys::Individual(*p1))->has_value());
  // No bitmap anywhere still holds the ordinal.
  ASSERT_TRUE(store_->Compact().ok());
  view = store_->Snapshot();
  size_t bitmaps = 0;
  ASSERT_TRUE(view->Scan(storage::Family::kBitmaps, "", "",
                         [&](std::string_view key, std::string_view value) {
                           ++bitmaps;
                           auto bits = storage::Bitmap::Deserialize(value);
                           EXPECT_TRUE(bits.ok());
                           EXPECT_FALSE(bits->Contains(*p1)) << key;
                           return true;
                         })
                  .ok());
  EXPECT_GT(bitmaps, 10u);

  // Re-ingesting the same files does not bring P1 back.
  ASSERT_TRUE(IngestAll().ok());
  EXPECT_FALSE(OrdinalOf("P1").has_value());
  EXPECT_EQ(Count("dx(C50)", v1::CARE), 0u);
}

TEST_F(ConsentTest, WithdrawalFromOnePurposeKeepsTheOther) {
  auto s = Withdraw("P2 research\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->withdrawn_research, 1u);
  EXPECT_EQ(Count("dx(C61)", v1::RESEARCH), 0u);
  EXPECT_EQ(Count("dx(C61)", v1::CARE), 1u);
  ASSERT_TRUE(IngestAll().ok());  // a later ingest does not re-consent them
  EXPECT_EQ(Count("dx(C61)", v1::RESEARCH), 0u);
  // Withdrawing the remaining purpose later removes them entirely.
  ASSERT_TRUE(Withdraw("P2 care\n").ok());
  EXPECT_EQ(Count("dx(C61)", v1::CARE), 0u);
  EXPECT_FALSE(OrdinalOf("P2").has_value());
}

TEST_F(ConsentTest, OptOutsOfUnknownSubjectsAreRemembered) {
  auto s = Withdraw("P9\nP8 research\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->not_in_store, 2u);
  WriteFile(dir_.Path("late.vcf"),
            "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tP8\tP9\n"
            "1\t500\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\n");
  auto ingest = ingest::IngestVcf(*store_, {dir_.Path("late.vcf"), "late", "GRCh38"});
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  EXPECT_EQ(ingest->individuals_new, 1u);  // P8 only
  EXPECT_EQ(ingest->skipped.at("samples of subjects who opted out"), 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:500:A:G)", v1::CARE), 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:500:A:G)", v1::RESEARCH), 0u);
}

TEST_F(ConsentTest, UnknownPurposeIsRefusedWithItsLine) {
  auto s = Withdraw("P1\nP2 marketing\n");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.status().message()).find("optout.txt:2"), std::string::npos);
  EXPECT_TRUE(OrdinalOf("P1").has_value());  // nothing applied
}

}  // namespace
}  // namespace pmdb
