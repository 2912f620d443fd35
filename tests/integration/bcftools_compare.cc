#include "tests/integration/bcftools_compare.h"

#include <sstream>
#include <vector>

#include "gtest/gtest.h"
#include "node/ingest/vcf_ingest.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::testing {
namespace {

struct BcftoolsRow {
  std::string chrom, pos, ref, alt;
  uint64_t ac, an, ac_het, ac_hom, ac_hemi;
};

// For every record of `vcf`: AC and AN from bcftools +fill-AN-AC (htslib's bcf_calc_ac, which
// counts every allele of every genotype, as pmdb does), and AC_Het, AC_Hom, AC_Hemi from
// +fill-tags (which reads at most two alleles per genotype).
std::vector<BcftoolsRow> BcftoolsCounts(const std::string& vcf) {
  auto r = Run({"bash", "-c",
                "set -o pipefail; bcftools +fill-AN-AC '" + vcf +
                    "' -Ou "
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

}  // namespace

size_t CompareWithBcftools(const std::string& dir, const std::string& vcf,
                           const std::string& bcftools_vcf, const std::string& assembly) {
  size_t compared = 0;
  {  // the store closes before the caller's directory goes away
    auto store = OpenOrDie(dir + "/db");
    auto s = ingest::IngestVcf(*store, {vcf, "kg", assembly});
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return 0;
    auto view = store->Snapshot();
    auto catalog = vocab::Catalog::Load(*view);
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    if (!catalog.ok()) return 0;
    query::Engine engine(*catalog, query::Engine::kExact);
    std::vector<BcftoolsRow> rows = BcftoolsCounts(bcftools_vcf);
    for (const BcftoolsRow& row : rows) {
      std::string variant = "variant(" + assembly + ":" + row.chrom + ":" + row.pos + ":" +
                            row.ref + ":" + row.alt + ")";
      auto c = query::ParseCriterion(variant);
      EXPECT_TRUE(c.ok()) << variant;
      if (!c.ok()) continue;
      auto f = engine.Frequency(*view, *c, v1::RESEARCH);
      EXPECT_TRUE(f.ok()) << f.status();
      if (!f.ok()) continue;
      EXPECT_EQ(f->value.ac, row.ac) << variant;
      EXPECT_EQ(f->value.an, row.an) << variant;
      auto z = engine.Breakdown(*view, *c, {v1::ZYGOSITY}, v1::RESEARCH);
      EXPECT_TRUE(z.ok()) << z.status();
      if (!z.ok()) continue;
      uint64_t het = z->value.cells(0).count(), hom = z->value.cells(1).count(),
               hemi = z->value.cells(2).count();
      EXPECT_EQ(hemi, row.ac_hemi) << variant;
      if (row.ac_hemi == 0 && row.ac == row.ac_het + row.ac_hom) {
        // Diploid calls only: AC_Het counts het genotypes, AC_Hom twice the hom genotypes.
        EXPECT_EQ(het, row.ac_het) << variant;
        EXPECT_EQ(2 * hom, row.ac_hom) << variant;
      }
      auto carriers = engine.Count(*view, *c, v1::RESEARCH);
      EXPECT_TRUE(carriers.ok()) << carriers.status();
      if (!carriers.ok()) continue;
      EXPECT_EQ(carriers->value, het + hom + hemi) << variant;
      ++compared;
    }
  }
  return compared;
}

}  // namespace pmdb::testing
