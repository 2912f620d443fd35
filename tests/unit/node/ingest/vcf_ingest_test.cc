// VCF ingest edge cases on small hand-written files, with every expected value worked out by
// hand in the comments: multi-allelic splitting and trimming, zygosity by ploidy, AC and AN,
// no-calls, FILTER, symbolic and spanning-deletion alleles, sample maps, and refusals that leave
// the store as it was.
#include "node/ingest/vcf_ingest.h"

#include <gtest/gtest.h>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/catalog.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::ingest {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

constexpr char kHeader[] =
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1>\n"
    "##contig=<ID=X>\n"
    "##FILTER=<ID=LowQual,Description=\"low quality\">\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc\td\te\n";

// Five people, a to e.
constexpr char kRecords[] =
    // Two ALT alleles: GCT trims to 101:T:C; G stays the deletion 100:GTT:G. d is a no-call.
    "1\t100\t.\tGTT\tGCT,G\t.\tPASS\t.\tGT\t0/1\t1/2\t2/2\t./.\t0/0\n"
    // Not PASS: skipped unless asked for.
    "1\t200\t.\tA\tC\t.\tLowQual\t.\tGT\t0/1\t0/1\t0/1\t0/1\t0/1\n"
    // A symbolic allele is stored as written.
    "1\t300\t.\tA\t<DEL>\t.\t.\t.\tGT\t0/1\t0/0\t0/0\t0/0\t0/0\n"
    // '*' stands for a deletion recorded elsewhere: skipped; T is stored.
    "1\t400\t.\tA\t*,T\t.\tPASS\t.\tGT\t1/2\t0/0\t0/0\t0/0\t0/0\n"
    // Ploidy decides: haploid 1 copy hemi, diploid 2 copies hom, triploid hom only if all copies.
    "X\t500\t.\tG\tA\t.\tPASS\t.\tGT\t1\t0\t1/1\t0/1/1\t1/1/1\n";

class VcfIngestTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    testing::WriteFile(dir_.Path("edge.vcf"), std::string(kHeader) + kRecords);
  }

  absl::StatusOr<IngestSummary> Ingest(const std::string& file, VcfIngestOptions options = {}) {
    options.path = dir_.Path(file);
    if (options.dataset.empty()) options.dataset = "wgs";
    if (options.assembly.empty()) options.assembly = "GRCh38";
    return IngestVcf(*store_, options);
  }

  uint64_t Count(const std::string& expr) {
    auto view = store_->Snapshot();
    query::Engine engine(*vocab::Catalog::Load(*view), query::Engine::kExact);
    auto r = engine.Count(*view, *query::ParseCriterion(expr), v1::RESEARCH);
    EXPECT_THAT(r, IsOk()) << expr;
    return r.ok() ? r->value : 0;
  }

  std::pair<uint64_t, uint64_t> AcAn(const std::string& expr) {
    auto view = store_->Snapshot();
    query::Engine engine(*vocab::Catalog::Load(*view), query::Engine::kExact);
    auto r = engine.Frequency(*view, *query::ParseCriterion(expr), v1::RESEARCH);
    EXPECT_THAT(r, IsOk()) << expr;
    return r.ok() ? std::make_pair(r->value.ac, r->value.an)
                  : std::make_pair(uint64_t{0}, uint64_t{0});
  }
};

TEST_F(VcfIngestTest, TheSummaryCountsWhatWasStoredAndWhatWasSkipped) {
  auto s = Ingest("edge.vcf");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->records_read, 5u);
  EXPECT_EQ(s->individuals_new, 5u);
  // 2 (split record) + 1 (<DEL>) + 1 (T beside '*') + 1 (chrX); the LowQual record is skipped.
  EXPECT_EQ(s->variants, 5u);
  // Non-reference calls: a,b,c at 100 (a once, b twice, c once) = 4; a at 300; a at 400;
  // a, c, d, e at 500.
  EXPECT_EQ(s->genotypes, 10u);
  EXPECT_EQ(s->no_calls, 1u);  // d at 100
  EXPECT_EQ(s->skipped.at("FILTER not PASS (use --include-filtered to keep)"), 1u);
  EXPECT_EQ(s->skipped.at("spanning-deletion ALT '*' (the deletion is stored at its own record)"),
            1u);
}

TEST_F(VcfIngestTest, MultiAllelicRecordsSplitAndTrimLikeTheQueryLanguage) {
  ASSERT_THAT(Ingest("edge.vcf"), IsOk());
  // GCT against GTT: the trailing T and leading G go, leaving 101:T:C.
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)"), 2u);      // a 0/1, b 1/2
  EXPECT_EQ(Count("variant(GRCh38:1:100:GTT:GCT)"), 2u);  // the same allele as written
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C,het)"), 2u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C,hom)"), 0u);
  EXPECT_EQ(Count("variant(GRCh38:1:100:GTT:G)"), 2u);      // b 1/2, c 2/2
  EXPECT_EQ(Count("variant(GRCh38:1:100:GTT:G,hom)"), 1u);  // c
  // AC: one copy each of a and b = 2; AN: a, b, c, e call two alleles each, d none = 8.
  EXPECT_EQ(AcAn("variant(GRCh38:1:101:T:C)"), std::make_pair(uint64_t{2}, uint64_t{8}));
  // AC: b one copy, c two = 3.
  EXPECT_EQ(AcAn("variant(GRCh38:1:100:GTT:G)"), std::make_pair(uint64_t{3}, uint64_t{8}));
  EXPECT_EQ(Count("variant(GRCh38:1:400:A:T,het)"), 1u);  // a 1/2: one copy of T
}

TEST_F(VcfIngestTest, PloidyDecidesTheZygosityAndAnCountsEveryCalledAllele) {
  ASSERT_THAT(Ingest("edge.vcf"), IsOk());
  EXPECT_EQ(Count("variant(GRCh38:X:500:G:A)"), 4u);          // a, c, d, e
  EXPECT_EQ(Count("variant(GRCh38:chrX:500:G:A,hemi)"), 1u);  // a: haploid 1
  EXPECT_EQ(Count("variant(GRCh38:X:500:G:A,hom)"), 2u);      // c 1/1, e 1/1/1
  EXPECT_EQ(Count("variant(GRCh38:X:500:G:A,het)"), 1u);      // d 0/1/1
  // AC = 1 + 2 + 2 + 3 = 8 copies; AN = 1 (a) + 1 (b) + 2 (c) + 3 (d) + 3 (e) = 10.
  EXPECT_EQ(AcAn("variant(GRCh38:X:500:G:A)"), std::make_pair(uint64_t{8}, uint64_t{10}));
  EXPECT_EQ(AcAn("variant(GRCh38:X:500:G:A) AND dataset(wgs)"),
            std::make_pair(uint64_t{8}, uint64_t{10}));
}

TEST_F(VcfIngestTest, FilteredRecordsAreKeptOnlyWhenAskedFor) {
  ASSERT_THAT(Ingest("edge.vcf"), IsOk());
  EXPECT_EQ(Count("variant(GRCh38:1:200:A:C)"), 0u);
  VcfIngestOptions keep;
  keep.dataset = "wgs-all";
  keep.include_filtered = true;
  auto s = Ingest("edge.vcf", keep);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->variants, 6u);
  EXPECT_EQ(s->individuals_new, 0u) << "the same five people";
  EXPECT_EQ(Count("variant(GRCh38:1:200:A:C)"), 5u);
}

TEST_F(VcfIngestTest, ASampleMapNamesTheSubjects) {
  testing::WriteFile(dir_.Path("map.tsv"), "a\tVGR-0001\nb\tVGR-0002\n");
  VcfIngestOptions options;
  options.sample_map_path = dir_.Path("map.tsv");
  ASSERT_THAT(Ingest("edge.vcf", options), IsOk());
  auto view = store_->Snapshot();
  for (const char* subject : {"VGR-0001", "VGR-0002", "c"}) {
    auto found = view->Get(storage::Family::kIndividuals, storage::keys::SubjectIndex(subject));
    ASSERT_THAT(found, IsOk());
    EXPECT_TRUE(found->has_value()) << subject;
  }
  auto unmapped = view->Get(storage::Family::kIndividuals, storage::keys::SubjectIndex("a"));
  ASSERT_THAT(unmapped, IsOk());
  EXPECT_FALSE(unmapped->has_value()) << "a mapped sample is known by its subject id only";
}

TEST_F(VcfIngestTest, RefusalsNameTheLineAndLeaveTheStoreAsItWas) {
  ASSERT_THAT(Ingest("edge.vcf"), IsOk());
  auto before = testing::DumpStore(*store_);
  // Line 8 of the file (after 6 header lines and one good record) calls allele 3 of 1.
  testing::WriteFile(dir_.Path("bad.vcf"),
                     std::string(kHeader) +
                         "1\t700\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0\t0/0\n" +
                         "1\t800\t.\tA\tC\t.\tPASS\t.\tGT\t0/3\t0/0\t0/0\t0/0\t0/0\n");
  VcfIngestOptions other;
  other.dataset = "second";
  EXPECT_THAT(Ingest("bad.vcf", other),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad.vcf:8: a GT refers to allele 3"));
  EXPECT_EQ(testing::DumpStore(*store_), before);

  VcfIngestOptions grch37;
  grch37.assembly = "GRCh37";
  EXPECT_THAT(Ingest("edge.vcf", grch37),
              StatusIs(absl::StatusCode::kFailedPrecondition, "refusing to add GRCh37 data"));
  EXPECT_EQ(testing::DumpStore(*store_), before);

  testing::WriteFile(dir_.Path("map.tsv"), "a\tX\na\tY\n");
  VcfIngestOptions twice;
  twice.dataset = "third";
  twice.sample_map_path = dir_.Path("map.tsv");
  EXPECT_THAT(Ingest("edge.vcf", twice),
              StatusIs(absl::StatusCode::kInvalidArgument, "map.tsv:2: sample mapped twice"));
  EXPECT_EQ(testing::DumpStore(*store_), before);

  // A sample name in invalid UTF-8 would make that person's record unreadable once stored.
  std::string header(kHeader);
  header.replace(header.rfind("\te\n"), 3, "\t\xff\xfe\n");
  testing::WriteFile(dir_.Path("latin1.vcf"),
                     header + "1\t900\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0\t0/0\n");
  VcfIngestOptions fourth;
  fourth.dataset = "fourth";
  EXPECT_THAT(Ingest("latin1.vcf", fourth),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "sample column 5 has a name that is not valid UTF-8"));
  EXPECT_EQ(testing::DumpStore(*store_), before);
}

TEST(Utf8Test, WellFormedOnly) {
  EXPECT_TRUE(pmdb::IsValidUtf8("Malmö, Göteborg"));
  EXPECT_TRUE(pmdb::IsValidUtf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_FALSE(pmdb::IsValidUtf8("\xff"));
  EXPECT_FALSE(pmdb::IsValidUtf8("G\xf6teborg"));   // Latin-1
  EXPECT_FALSE(pmdb::IsValidUtf8("\xC0\xAF"));      // overlong '/'
  EXPECT_FALSE(pmdb::IsValidUtf8("\xED\xA0\x80"));  // a surrogate
  EXPECT_FALSE(pmdb::IsValidUtf8("\xE2\x82"));      // cut short
}

}  // namespace
}  // namespace pmdb::ingest
