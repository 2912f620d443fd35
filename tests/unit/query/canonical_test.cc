#include "query/canonical.h"

#include <gtest/gtest.h>

#include "query/parser.h"
#include "query/prepare.h"

namespace pmdb::query {
namespace {

std::string Canon(const std::string& text) {
  auto c = ParseCriterion(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  return c.ok() ? CanonicalText(*c) : "";
}

TEST(CanonicalTextTest, RewritesOfOneConditionShareOneText) {
  const std::vector<std::pair<std::string, std::string>> same = {
      {"sex(F) AND dx(C50)", "dx(C50) AND sex(F)"},
      {"(sex(F) AND dx(C50)) AND age(40-49)", "sex(F) AND (dx(C50) AND age(40-49))"},
      {"(hpo(HP:0001250) OR dx(G40)) OR sex(M)", "sex(M) OR dx(G40) OR hpo(HP:0001250)"},
      {"dx(C50) AND dx(C50)", "dx(C50)"},
      {"dx(C50) OR dx(C50)", "dx(C50)"},
      {"NOT NOT dx(C50)", "dx(C50)"},
      {"NOT NOT NOT dx(C50)", "NOT dx(C50)"},
      {"dx(C50) AND (dx(C50) OR sex(M))", "dx(C50)"},
      {"dx(C50) OR (dx(C50) AND sex(M))", "dx(C50)"},
      {"sex(F) AND (dx(C50) AND (treatment(L01) OR hpo(HP:0001250)))",
       "(hpo(HP:0001250) OR treatment(L01)) AND sex(F) AND dx(C50)"},
      {"dx(C50) AND NOT dx(C50)", "sex(F) AND NOT sex(F)"},
      {"dx(C50) OR NOT dx(C50)", "NOT (sex(F) AND NOT sex(F))"},
      {"sex(F) OR (dx(C50) AND NOT dx(C50))", "sex(F)"},
      {"sex(F) AND (dx(C50) OR NOT dx(C50))", "sex(F)"},
  };
  for (const auto& [a, b] : same) EXPECT_EQ(Canon(a), Canon(b)) << a << "  vs  " << b;
}

TEST(CanonicalTextTest, AnEmptyAgeRangeIsNobody) {
  // The parser refuses age(70-60); a request built as a message can still carry it.
  v1::Criterion c;
  c.mutable_age()->set_min(70);
  c.mutable_age()->set_max(60);
  EXPECT_EQ(CanonicalText(c), Canon("sex(M) AND NOT sex(M)"));
}

TEST(CanonicalTextTest, DifferentConditionsKeepDifferentTexts) {
  const std::vector<std::pair<std::string, std::string>> different = {
      {"sex(F) AND dx(C50)", "sex(F) OR dx(C50)"},
      {"dx(C50)", "NOT dx(C50)"},
      {"dx(C50)", "dx(C50) AND sex(F)"},
      {"(dx(C50) AND sex(F)) OR age(40-49)", "dx(C50) AND (sex(F) OR age(40-49))"},
      // Empty only because nobody is that old: the data decides, so it is a new question.
      {"dx(C50)", "dx(C50) OR age(150-)"},
  };
  for (const auto& [a, b] : different) EXPECT_NE(Canon(a), Canon(b)) << a << "  vs  " << b;
}

TEST(CanonicalTextTest, DeepAlternationIsLinear) {
  // Each level canonicalizes its operands once; 60 levels of AND/OR (near the parser's limit
  // of 64) stay instant, where work exponential in depth would never finish.
  std::string text = "dx(C50)";
  for (int i = 0; i < 60; ++i) {
    text = "(" + text + (i % 2 == 0 ? " AND sex(F)" : " OR age(" + std::to_string(i % 150) + "-)") +
           ")";
  }
  EXPECT_FALSE(Canon(text).empty());
}

}  // namespace
}  // namespace pmdb::query

namespace pmdb::query {
namespace {

// A tree from the wire whose leaf text would print as another question's (two variants ORed
// into one chromosome name) is refused before anything is recorded or counted: otherwise the
// two questions would share one canonical text, hence one noise draw and one "released before"
// mark, and their difference would be an exact count.
TEST(CanonicalTextTest, ALeafThatPrintsAsAnotherQuestionIsRefused) {
  v1::Criterion forged;
  v1::CriterionList* any = forged.mutable_any_of();
  any->add_items()->set_sex(v1::FEMALE);
  v1::VariantCriterion* v = any->add_items()->mutable_variant();
  v->set_assembly("GRCh38");
  v->set_chrom("1:100:A:T) OR variant(GRCh38:99");
  v->set_pos(1);
  v->set_ref("A");
  v->set_alt("T");
  auto real = ParseCriterion("sex(F) OR variant(GRCh38:1:100:A:T) OR variant(GRCh38:99:1:A:T)");
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(FormatCriterion(forged), FormatCriterion(*real)) << "the forgery works as printed";
  EXPECT_EQ(CheckLimits(forged).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(CheckLimits(forged).message().find("variant() criterion is not well-formed"),
            std::string::npos);
  EXPECT_TRUE(CheckLimits(*real).ok());
  // Every leaf kind: text with a parenthesis, a space, a comma or a byte outside ASCII.
  for (const char* text : {"HP:1) OR sex(M", "C50 C34", "A,B", "HP:\xff"}) {
    v1::Criterion c;
    c.set_hpo(text);
    EXPECT_FALSE(CheckLimits(c).ok()) << text;
    c.set_diagnosis(text);
    EXPECT_FALSE(CheckLimits(c).ok()) << text;
    c.set_dataset(text);
    EXPECT_FALSE(CheckLimits(c).ok()) << text;
    c.mutable_gene()->set_symbol(text);
    EXPECT_FALSE(CheckLimits(c).ok()) << text;
  }
  v1::Criterion bases = *ParseCriterion("variant(GRCh38:1:100:A:T)");
  bases.mutable_variant()->set_alt("T)");
  EXPECT_FALSE(CheckLimits(bases).ok());
}

}  // namespace
}  // namespace pmdb::query
