// A generated cohort of 20,000 individuals agrees with bcftools at every one of its variants:
// the generator's output is a valid VCF and ingest holds at a realistic size. Labelled slow.
#include "gtest/gtest.h"
#include "tests/integration/bcftools_compare.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

TEST(SyntheticCrossCheck, TwentyThousandIndividuals) {
  testing::TempDir dir;
  auto g = testing::Pmdb({"generate", "--individuals", "20000", "--variants", "1500", "--seed",
                          "5", "--out", dir.Path("gen")});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  std::string vcf = dir.Path("gen/cohort.vcf.gz");
  EXPECT_EQ(testing::CompareWithBcftools(dir.path(), vcf, vcf, "GRCh38"), 1500u);
}

}  // namespace
}  // namespace pmdb
