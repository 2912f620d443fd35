// Genotype counts and allele frequencies agree with bcftools on real 1000 Genomes data.
#include "gtest/gtest.h"
#include "tests/integration/bcftools_compare.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::SharedData;
using testing::TempDir;

TEST(BcftoolsCrossCheck, ThousandGenomes629Samples) {
  TempDir dir;
  // The file declares no contig; give bcftools a copy that does.
  std::string fixed = dir.Path("fixed.vcf");
  auto r = testing::Run({"bash", "-c",
                         "zcat '" + SharedData("vcf/1kg_phase1_629samples.vcf.gz") +
                             "' | sed '1a ##contig=<ID=2>' > '" + fixed + "'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareWithBcftools(dir.path(),
                                         SharedData("vcf/1kg_phase1_629samples.vcf.gz"), fixed,
                                         "GRCh37"),
            381u);
}

TEST(BcftoolsCrossCheck, HaploidAndTriploidCalls) {
  TempDir dir;
  std::string vcf = SharedData("vcf/edge/example-4.1-ploidy.vcf");
  EXPECT_EQ(testing::CompareWithBcftools(dir.path(), vcf, vcf, "GRCh37"), 2u);
}

}  // namespace
}  // namespace pmdb
