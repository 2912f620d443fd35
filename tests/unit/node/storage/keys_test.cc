#include "node/storage/keys.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace pmdb::storage::keys {
namespace {

TEST(KeysTest, BigEndianRoundTripAndOrder) {
  std::string a, b;
  AppendBE32(&a, 255);
  AppendBE32(&b, 256);
  EXPECT_LT(a, b);  // numeric order is byte order
  EXPECT_EQ(ReadBE32(a), 255u);
  EXPECT_EQ(ReadBE32(b), 256u);
  std::string max;
  AppendBE32(&max, UINT32_MAX);
  EXPECT_EQ(ReadBE32(max), UINT32_MAX);
}

TEST(KeysTest, VariantKeyRoundTrips) {
  VariantId v{"GRCh38", "7", 55191822, "T", "G"};
  auto parsed = ParseVariant(Variant(v));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, v);
  VariantId symbolic{"GRCh37", "2", 321682, "T", "<DEL:ME:ALU>"};
  EXPECT_EQ(*ParseVariant(Variant(symbolic)), symbolic);
}

TEST(KeysTest, VariantKeysSortByChromosomeThenPosition) {
  std::vector<std::string> ks = {
      Variant({"GRCh38", "10", 5, "A", "C"}), Variant({"GRCh38", "1", 1000, "A", "C"}),
      Variant({"GRCh38", "1", 20, "A", "C"}), Variant({"GRCh38", "1", 20, "A", "CT"})};
  std::sort(ks.begin(), ks.end());
  EXPECT_EQ(ParseVariant(ks[0])->pos, 20u);
  EXPECT_EQ(ParseVariant(ks[1])->alt, "CT");
  EXPECT_EQ(ParseVariant(ks[2])->pos, 1000u);
  EXPECT_EQ(ParseVariant(ks[3])->chrom, "10");  // chrom "1" never interleaves with "10"
}

TEST(KeysTest, RangeBoundsEncloseExactlyTheRange) {
  std::string in = Variant({"GRCh38", "1", 150, "A", "C"});
  std::string below = Variant({"GRCh38", "1", 99, "A", "C"});
  std::string other_chrom = Variant({"GRCh38", "10", 150, "A", "C"});
  std::string lo = VariantLowerBound("GRCh38", "1", 100);
  std::string hi = VariantLowerBound("GRCh38", "1", 201);
  EXPECT_TRUE(lo <= in && in < hi);
  EXPECT_FALSE(lo <= below);
  EXPECT_FALSE(other_chrom < VariantChromEnd("GRCh38", "1") && other_chrom >= lo);
}

TEST(KeysTest, MalformedVariantKeyIsDataLoss) {
  EXPECT_EQ(ParseVariant("v/GRCh38").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseVariant("x/whatever").status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeysTest, GenotypeKeysShareAPrefixPerVariant) {
  std::string v1 = Variant({"GRCh38", "1", 20, "A", "C"});
  std::string v2 = Variant({"GRCh38", "1", 20, "A", "CT"});
  std::string prefix = GenotypePrefix(v1);
  EXPECT_TRUE(Genotype(v1, kHet).starts_with(prefix));
  EXPECT_TRUE(Genotype(v1, AlleleNumberKind(0)).starts_with(prefix));
  EXPECT_FALSE(Genotype(v2, kHet).starts_with(prefix));  // ALT C is not a prefix of ALT CT
}

TEST(KeysTest, IndividualKeysParseBack) {
  EXPECT_EQ(ParseIndividual(Individual(123456)), 123456u);
  EXPECT_FALSE(ParseIndividual("i/abc").has_value());
}

TEST(KeysTest, PrefixEndIsTheFirstKeyAfterThePrefix) {
  EXPECT_EQ(PrefixEnd("d/"), "d0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), "");
}

TEST(KeysTest, AgeKeysSortNumerically) {
  EXPECT_LT(AgeYear(9), AgeYear(10));
  EXPECT_LT(AgeBand(90), AgeBand(100));
}

}  // namespace
}  // namespace pmdb::storage::keys
