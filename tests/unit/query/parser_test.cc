#include "query/parser.h"

#include "gtest/gtest.h"

namespace pmdb::query {
namespace {

std::string Canonical(std::string_view text) {
  auto c = ParseCriterion(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  return c.ok() ? FormatCriterion(*c) : "";
}

std::string ErrorOf(std::string_view text) {
  auto c = ParseCriterion(text);
  EXPECT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST(ParserTest, LeavesAreNormalized) {
  EXPECT_EQ(Canonical("variant(grch38:chr7:55191822:t:g)"), "variant(GRCh38:7:55191822:T:G)");
  EXPECT_EQ(Canonical("variant(GRCh38:7:100:CTCC:CCC,hom)"), "variant(GRCh38:7:100:CT:C,hom)");
  EXPECT_EQ(Canonical("dx(ICD10:C34.1)"), "dx(C341)");
  EXPECT_EQ(Canonical("treatment(atc:l01eb)"), "treatment(L01EB)");
  EXPECT_EQ(Canonical("gene(brca1, het)"), "gene(BRCA1,het)");
  EXPECT_EQ(Canonical("sex(female)"), "sex(F)");
  EXPECT_EQ(Canonical("age(65)"), "age(65)");
  EXPECT_EQ(Canonical("age(60-)"), "age(60-)");
  EXPECT_EQ(Canonical("range(GRCh37:17:43044295-43125483)"), "range(GRCh37:17:43044295-43125483)");
}

TEST(ParserTest, PrecedenceIsNotThenAndThenOr) {
  auto c = ParseCriterion("sex(F) OR dx(C50) AND NOT age(0-17)");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->has_any_of());
  ASSERT_EQ(c->any_of().items_size(), 2);
  EXPECT_TRUE(c->any_of().items(0).has_sex());
  const auto& conj = c->any_of().items(1);
  ASSERT_TRUE(conj.has_all_of());
  EXPECT_TRUE(conj.all_of().items(1).has_negation());
  EXPECT_EQ(FormatCriterion(*c), "sex(F) OR dx(C50) AND NOT age(0-17)");
}

TEST(ParserTest, ParenthesesGroupAndSurviveFormatting) {
  EXPECT_EQ(Canonical("(sex(F) OR sex(M)) and dx(C50)"), "(sex(F) OR sex(M)) AND dx(C50)");
  EXPECT_EQ(Canonical("NOT (dx(C50) OR dx(C61))"), "NOT (dx(C50) OR dx(C61))");
}

TEST(ParserTest, FormattingRoundTrips) {
  for (std::string text :
       {"gene(BRCA2,hom) AND (hpo(HP:0002090) OR NOT treatment(L01)) AND dataset(a-b.1)",
        "(dx(C) AND age(60-69)) AND sex(U)", "NOT NOT sex(F)"}) {
    auto first = ParseCriterion(text);
    ASSERT_TRUE(first.ok()) << text;
    auto second = ParseCriterion(FormatCriterion(*first));
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(first->SerializeAsString(), second->SerializeAsString()) << text;
  }
}

// Found by tools/fuzz: alleles and chromosome names with spaces or parentheses were accepted
// and printed in a form that parsed differently.
TEST(ParserTest, VariantAllelesAreBasesOrSymbolic) {
  EXPECT_NE(ErrorOf("variant(GRCh38:7SCh38:7: AND rdataseNtDa:A  set( A)").find("alleles of A"),
            std::string::npos);
  EXPECT_NE(ErrorOf("variant(GRCh38:7:100:A B:C)").find("alleles of A"), std::string::npos);
  EXPECT_NE(ErrorOf("variant(GRCh38:7 7:100:A:C)").find("alleles of A"), std::string::npos);
  EXPECT_EQ(Canonical("variant(GRCh38: 7 :100: a :<DEL>)"), "variant(GRCh38:7:100:A:<DEL>)");
  EXPECT_EQ(Canonical("variant(GRCh38:X:100:A:*)"), "variant(GRCh38:X:100:A:*)");
}

TEST(ParserTest, ErrorsPointAtTheColumn) {
  EXPECT_EQ(ErrorOf("sex(F) AND"), "column 11: expected a criterion, found the end");
  EXPECT_EQ(ErrorOf("sex(F) dx(C50)").substr(0, 10), "column 8: ");
  EXPECT_EQ(ErrorOf("(sex(F)").substr(0, 10), "column 8: ");
  EXPECT_NE(ErrorOf("(sex(F)").find("column 1"), std::string::npos);
  EXPECT_EQ(ErrorOf("sex(F) AND foo(1)").substr(0, 11), "column 12: ");
  EXPECT_NE(ErrorOf("sex(F) AND foo(1)").find("unknown criterion 'foo'"), std::string::npos);
  EXPECT_EQ(ErrorOf("dx(XYZ)").substr(0, 10), "column 4: ");
  EXPECT_EQ(ErrorOf("age(70-60)").substr(0, 10), "column 5: ");
  EXPECT_NE(ErrorOf("variant(GRCh39:1:2:A:C)").find("unknown assembly"), std::string::npos);
  EXPECT_NE(ErrorOf("gene(BRCA1,double)").find("unknown zygosity"), std::string::npos);
  EXPECT_NE(ErrorOf("dx(C50").find("never closed"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("expected a criterion"), std::string::npos);
}

TEST(ParserTest, FormatParseErrorDrawsACaret) {
  std::string text = "sex(F) AND";
  auto c = ParseCriterion(text);
  std::string drawn = FormatParseError(text, c.status());
  EXPECT_EQ(drawn, "column 11: expected a criterion, found the end\n  sex(F) AND\n            ^");
}

// Hostile or mistaken questions are refused with the limit they passed, never by running out of
// stack (5,500 parentheses or 30,000 NOTs used to kill the process).
TEST(ParserTest, LimitsAreRefusedClearly) {
  std::string deep = std::string(5500, '(') + "sex(F)" + std::string(5500, ')');
  EXPECT_NE(ParseCriterion(deep).status().message().find("nests at most 64"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  EXPECT_NE(ParseCriterion(nots + "sex(F)").status().message().find("nests at most 64"),
            std::string::npos);
  std::string many = "age(1)";
  for (int i = 0; i < 1000; ++i) many += " OR age(1)";
  EXPECT_NE(ParseCriterion(many).status().message().find("at most 1000 criteria"),
            std::string::npos);
  EXPECT_NE(ParseCriterion(std::string(70000, ' ') + "sex(F)")
                .status()
                .message()
                .find("at most 65536 bytes"),
            std::string::npos);
  // Just within: 64 levels, 1000 criteria.
  EXPECT_TRUE(ParseCriterion(std::string(64, '(') + "sex(F)" + std::string(64, ')')).ok());
  std::string thousand = "age(1)";
  for (int i = 1; i < 1000; ++i) thousand += " OR age(1)";
  EXPECT_TRUE(ParseCriterion(thousand).ok());
}

}  // namespace
}  // namespace pmdb::query
