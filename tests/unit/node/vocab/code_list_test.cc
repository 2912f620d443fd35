#include "node/vocab/code_list.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb::vocab {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

// A list as a national code file has it: codes with dots or without, titles after a tab or
// spaces, comments, blank lines and Windows line ends.
TEST(CodeListTest, ReadsCodesWithTitlesAndCoversTheirPrefixes) {
  pmdb::testing::TempDir dir;
  pmdb::testing::WriteFile(dir.Path("icd10-se.txt"),
                           "# ICD-10-SE, a few codes\r\n"
                           "C50.9\tBröstcancer, ospecificerad\r\n"
                           "\r\n"
                           "  C34.1   Malign tumör i övre loben\r\n"
                           "E10\r\n"
                           "ICD10:Q61.2\tPolycystisk njure, autosomal dominant\r\n");
  auto list = CodeList::LoadIcd10(dir.Path("icd10-se.txt"));
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ(list->size(), 4u);
  EXPECT_EQ(list->source(), "icd10-se.txt");
  for (const char* covered : {"C", "C5", "C50", "C509", "C341", "E10", "Q612", "Q"}) {
    EXPECT_TRUE(list->Covers(covered)) << covered;
  }
  for (const char* not_covered : {"C51", "C5091", "E11", "E101", "X", "A00", "Q613"}) {
    EXPECT_FALSE(list->Covers(not_covered)) << not_covered;
  }
}

TEST(CodeListTest, ABadLineIsNamedWithItsNumber) {
  pmdb::testing::TempDir dir;
  pmdb::testing::WriteFile(dir.Path("codes.txt"), "C50.9\nC34.1\n50.9 no letter\n");
  EXPECT_THAT(CodeList::LoadIcd10(dir.Path("codes.txt")),
              StatusIs(absl::StatusCode::kInvalidArgument, std::string("codes.txt:3: '50.9'")));
  pmdb::testing::WriteFile(dir.Path("empty.txt"), "# nothing\n\n");
  EXPECT_THAT(CodeList::LoadIcd10(dir.Path("empty.txt")),
              StatusIs(absl::StatusCode::kInvalidArgument, std::string("holds no ICD-10 code")));
  EXPECT_THAT(CodeList::LoadIcd10(dir.Path("missing.txt")),
              StatusIs(absl::StatusCode::kNotFound, std::string("missing.txt")));
}

}  // namespace
}  // namespace pmdb::vocab
