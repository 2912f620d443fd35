#include "node/vocab/codes.h"

#include "gtest/gtest.h"

namespace pmdb::vocab {
namespace {

TEST(CodesTest, TrimsTrailingThenLeadingBases) {
  // CTCC -> CCC at 100 is a deletion of T at 101, kept with its anchor base C at 100.
  Allele a = TrimAlleles(100, "CTCC", "CCC");
  EXPECT_EQ(a.pos, 100u);
  EXPECT_EQ(a.ref, "CT");
  EXPECT_EQ(a.alt, "C");
  // A multi-allelic split leaves padding: GTT -> GCT is the SNV T>C at 101.
  a = TrimAlleles(100, "GTT", "GCT");
  EXPECT_EQ(a.pos, 101u);
  EXPECT_EQ(a.ref, "T");
  EXPECT_EQ(a.alt, "C");
  a = TrimAlleles(5, "acgt", "ACGA");
  EXPECT_EQ(a.pos, 8u);
  EXPECT_EQ(a.ref, "T");
  EXPECT_EQ(a.alt, "A");
}

TEST(CodesTest, SymbolicAllelesAreNotTrimmed) {
  Allele a = TrimAlleles(321682, "T", "<DEL>");
  EXPECT_EQ(a.pos, 321682u);
  EXPECT_EQ(a.alt, "<DEL>");
  EXPECT_TRUE(IsSymbolicAllele("G]17:198982]"));
  EXPECT_FALSE(IsSymbolicAllele("GATTACA"));
}

TEST(CodesTest, NormalizesChromosomes) {
  EXPECT_EQ(NormalizeChrom("chr7"), "7");
  EXPECT_EQ(NormalizeChrom("chrM"), "MT");
  EXPECT_EQ(NormalizeChrom("X"), "X");
  EXPECT_EQ(NormalizeChrom("Pf3D7_01_v3"), "Pf3D7_01_v3");
}

TEST(CodesTest, Icd10) {
  EXPECT_EQ(*NormalizeIcd10("ICD10:C34.1"), "C341");
  EXPECT_EQ(*NormalizeIcd10("c50"), "C50");
  EXPECT_EQ(Icd10Prefixes("C341"), (std::vector<std::string>{"C", "C3", "C34", "C341"}));
  EXPECT_EQ(Icd10Category("C341"), "C34");
  EXPECT_EQ(NormalizeIcd10("ICD10:34C").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(NormalizeIcd10("").ok());
}

TEST(CodesTest, AtcLevels) {
  EXPECT_EQ(*NormalizeAtc("ATC:L01EB02"), "L01EB02");
  EXPECT_EQ(AtcLevels("L01EB02"),
            (std::vector<std::string>{"L", "L01", "L01E", "L01EB", "L01EB02"}));
  EXPECT_TRUE(NormalizeAtc("l01").ok());
  EXPECT_FALSE(NormalizeAtc("L0").ok());     // not a level
  EXPECT_FALSE(NormalizeAtc("L01E1").ok());  // level 4 is a letter
}

TEST(CodesTest, Hpo) {
  EXPECT_EQ(*NormalizeHpo("hp:0001250"), "HP:0001250");
  EXPECT_FALSE(NormalizeHpo("HP:1250").ok());
  EXPECT_FALSE(NormalizeHpo("OMIM:0001250").ok());
}

TEST(CodesTest, DurationsInYears) {
  EXPECT_EQ(*YearsInDuration("P45Y"), 45u);
  // A number too large for a double is refused, not an exception that ends ingest.
  EXPECT_FALSE(YearsInDuration("P" + std::string(401, '9') + "Y").ok());
  EXPECT_FALSE(YearsInDuration("P1.2.3Y").ok());
  EXPECT_EQ(*YearsInDuration("P3Y11M"), 3u);
  EXPECT_EQ(*YearsInDuration("P18M"), 1u);
  EXPECT_EQ(*YearsInDuration("P30DT12H"), 0u);
  EXPECT_FALSE(YearsInDuration("45").ok());
  EXPECT_FALSE(YearsInDuration("P").ok());
  EXPECT_FALSE(YearsInDuration("P400Y").ok());
}

TEST(CodesTest, AgeBands) {
  EXPECT_EQ(AgeBandStart(0), 0u);
  EXPECT_EQ(AgeBandStart(69), 60u);
  EXPECT_EQ(AgeBandStart(104), 100u);
  EXPECT_EQ(AgeBandLabel(60), "60-69");
  EXPECT_EQ(AgeBandLabel(100), "100+");
}

}  // namespace
}  // namespace pmdb::vocab
