// Every file in ../shared/data/vcf/edge either ingests correctly or fails with one clear line
// naming the file, the line and the problem, and a failed ingest leaves the store as it was.
#include "gtest/gtest.h"
#include "node/ingest/vcf_ingest.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::DumpStore;
using testing::OpenOrDie;
using testing::SharedData;
using testing::TempDir;

class EdgeVcfTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    // Something already in the store, to show a failed ingest does not disturb it.
    auto s = ingest::IngestVcf(*store_, {SharedData("vcf/edge/samples-space.vcf"), "base", "GRCh37"});
    ASSERT_TRUE(s.ok()) << s.status();
    before_ = DumpStore(*store_);
  }

  absl::StatusOr<ingest::IngestSummary> Ingest(const std::string& name) {
    return ingest::IngestVcf(*store_, {SharedData("vcf/edge/" + name), "edge", "GRCh37"});
  }

  // The error is one line, names the file and contains `what`; the store is unchanged.
  void ExpectRefused(const std::string& name, const std::string& what) {
    auto s = Ingest(name);
    ASSERT_FALSE(s.ok()) << name << " was accepted";
    std::string message(s.status().message());
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(SharedData("vcf/edge/" + name)), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    EXPECT_EQ(DumpStore(*store_), before_) << name << " changed the store";
  }

  std::map<std::string, std::string> before_;
};

TEST_F(EdgeVcfTest, FormatHeaderButNoSamples) {
  ExpectRefused("FORMAT_header_no_SAMPLEs.vcf", "no sample columns");
}

TEST_F(EdgeVcfTest, BadInfoCharacterIngests) {
  auto s = Ingest("bad-info-character.vcf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->individuals_new, 1u);
  EXPECT_EQ(s->variants, 1u);
  EXPECT_EQ(s->genotypes, 1u);
}

TEST_F(EdgeVcfTest, ContigIdOnlyHasNoSamples) {
  ExpectRefused("contig_idonly.vcf", "no sample columns");
}

TEST_F(EdgeVcfTest, InfoMultipleValuesHasABrokenChromLine) {
  ExpectRefused("example-4.1-info-multiple-values.vcf", "line 6: the #CHROM line has a FORMAT column but no sample columns");
}

TEST_F(EdgeVcfTest, PloidyIngestsHaploidAndTriploidCalls) {
  auto s = Ingest("example-4.1-ploidy.vcf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->individuals_new, 3u);
  EXPECT_EQ(s->variants, 2u);
  EXPECT_EQ(s->genotypes, 3u);
}

TEST_F(EdgeVcfTest, StructuralVariantsKeepTheirSymbolicAlleles) {
  auto s = Ingest("example-4.1-sv.vcf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->records_read, 6u);
  EXPECT_EQ(s->variants, 6u);
}

TEST_F(EdgeVcfTest, Vcf42WithASpaceSeparatedChromLine) {
  ExpectRefused("example-4.2.vcf.gz", "line 48: the #CHROM line must start at the beginning");
}

TEST_F(EdgeVcfTest, MoreGenotypeValuesThanFormatKeys) {
  ExpectRefused("fewer-FORMAT-than-GENO.vcf", "fewer-FORMAT-than-GENO.vcf:12: its number of columns or FORMAT values");
}

TEST_F(EdgeVcfTest, NegativeFormatNumberIngests) {
  auto s = Ingest("negative_FORMAT_Number.vcf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->variants, 5u);
}

TEST_F(EdgeVcfTest, NoFormatColumnHasNoSamples) {
  ExpectRefused("no_FORMAT_column.vcf", "no sample columns");
}

TEST_F(EdgeVcfTest, SampleNamesWithSpacesIngest) {
  auto s = Ingest("samples-space.vcf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->individuals_new, 0u);  // already there from SetUp, now in a second dataset
  EXPECT_EQ(s->individuals_updated, 3u);
  EXPECT_EQ(s->variants, 2u);
}

TEST(EdgeVcfMissingFileTest, NamesTheFile) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  auto s = ingest::IngestVcf(*store, {dir.Path("nope.vcf"), "d", "GRCh37"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(s.status().message()).find("nope.vcf: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace pmdb
