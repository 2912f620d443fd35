// Genotype counts and allele frequencies agree with bcftools on real 1000 Genomes data.
#include <sstream>

#include "gtest/gtest.h"
#include "node/ingest/vcf_ingest.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::Run;
using testing::SharedData;
using testing::TempDir;

struct BcftoolsRow {
  std::string chrom, pos, ref, alt;
  uint64_t ac, an, ac_het, ac_hom, ac_hemi;
};

// For every record of `vcf`: AC and AN from bcftools +fill-AN-AC (htslib's bcf_calc_ac, which
// counts every allele of every genotype, as pmdb does), and AC_Het, AC_Hom, AC_Hemi from
// +fill-tags (which reads at most two alleles per genotype).
std::vector<BcftoolsRow> BcftoolsCounts(const std::string& vcf) {
  auto r = testing::Run({"bash", "-c",
                "set -o pipefail; bcftools +fill-AN-AC '" + vcf + "' -Ou "
                "| bcftools +fill-tags - -Ov -- -t AC_Het,AC_Hom,AC_Hemi "
                "| bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\t%AC_Het\\t"
                "%AC_Hom\\t%AC_Hemi\\n'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<BcftoolsRow> rows;
  std::istringstream in(r.out);
  BcftoolsRow row;
  while (in >> row.chrom >> row.pos >> row.ref >> row.alt >> row.ac >> row.an >> row.ac_het >>
         row.ac_hom >> row.ac_hemi) {
    rows.push_back(row);
  }
  return rows;
}

class BcftoolsCrossCheck : public ::testing::Test {
 protected:
  // Ingests `vcf` and compares every record with bcftools' view of `bcftools_vcf` (the same
  // records; bcftools needs the contig declared, which pmdb does not).
  void CompareAll(const std::string& vcf, const std::string& bcftools_vcf,
                  const std::string& assembly, size_t expected_rows) {
    auto store = testing::OpenOrDie(dir_.Path("db"));
    auto s = ingest::IngestVcf(*store, {vcf, "kg", assembly});
    ASSERT_TRUE(s.ok()) << s.status();
    auto view = store->Snapshot();
    auto catalog = query::Catalog::Load(*view);
    ASSERT_TRUE(catalog.ok());
    query::Engine engine(*catalog);
    std::vector<BcftoolsRow> rows = BcftoolsCounts(bcftools_vcf);
    ASSERT_EQ(rows.size(), expected_rows);
    for (const BcftoolsRow& row : rows) {
      std::string variant =
          "variant(" + assembly + ":" + row.chrom + ":" + row.pos + ":" + row.ref + ":" + row.alt + ")";
      auto c = query::ParseCriterion(variant);
      ASSERT_TRUE(c.ok()) << variant;
      auto f = engine.Frequency(*view, *c, v1::RESEARCH);
      ASSERT_TRUE(f.ok()) << f.status();
      EXPECT_EQ(f->value.ac, row.ac) << variant;
      EXPECT_EQ(f->value.an, row.an) << variant;
      auto z = engine.Breakdown(*view, *c, {v1::ZYGOSITY}, v1::RESEARCH);
      ASSERT_TRUE(z.ok());
      uint64_t het = z->value.cells(0).count(), hom = z->value.cells(1).count(),
               hemi = z->value.cells(2).count();
      EXPECT_EQ(hemi, row.ac_hemi) << variant;
      if (row.ac_hemi == 0 && row.ac == row.ac_het + row.ac_hom) {
        // Diploid calls only: AC_Het counts het genotypes, AC_Hom twice the hom genotypes.
        EXPECT_EQ(het, row.ac_het) << variant;
        EXPECT_EQ(2 * hom, row.ac_hom) << variant;
      }
      auto carriers = engine.Count(*view, *c, v1::RESEARCH);
      ASSERT_TRUE(carriers.ok());
      EXPECT_EQ(carriers->value, het + hom + hemi) << variant;
      ++compared_;
    }
  }
  TempDir dir_;
  size_t compared_ = 0;
};

TEST_F(BcftoolsCrossCheck, ThousandGenomes629Samples) {
  // The file declares no contig; give bcftools a copy that does.
  std::string fixed = dir_.Path("fixed.vcf");
  auto r = testing::Run({"bash", "-c",
                "zcat '" + SharedData("vcf/1kg_phase1_629samples.vcf.gz") +
                    "' | sed '1a ##contig=<ID=2>' > '" + fixed + "'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CompareAll(SharedData("vcf/1kg_phase1_629samples.vcf.gz"), fixed, "GRCh37", 381);
  EXPECT_EQ(compared_, 381u);
}

TEST_F(BcftoolsCrossCheck, HaploidAndTriploidCalls) {
  std::string vcf = SharedData("vcf/edge/example-4.1-ploidy.vcf");
  CompareAll(vcf, vcf, "GRCh37", 2);
}

}  // namespace
}  // namespace pmdb
