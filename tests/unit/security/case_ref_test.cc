#include "security/case_ref.h"

#include <gtest/gtest.h>

namespace pmdb::security {
namespace {

TEST(CaseRefTest, RoundTripsAndIsOpaque) {
  auto key = NewReferenceKey();
  ASSERT_TRUE(key.ok());
  CaseRef ref{"vast", 4711, 2000000000};
  auto sealed = SealCaseReference(*key, ref);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE(sealed->starts_with("pmdbref1.vast.")) << *sealed;
  EXPECT_EQ(sealed->find("4711"), std::string::npos);
  auto again = SealCaseReference(*key, ref);
  EXPECT_NE(*sealed, *again) << "a fresh nonce per reference: answers cannot be joined";
  auto opened = OpenCaseReference(*key, "vast", *sealed, 1900000000);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->ordinal, 4711u);
  EXPECT_EQ(opened->expires_unix, 2000000000);
  EXPECT_EQ(*RegionOfReference(*sealed), "vast");
}

TEST(CaseRefTest, ExpiredReferencesAreRefused) {
  auto key = NewReferenceKey();
  auto sealed = SealCaseReference(*key, {"vast", 1, 1000});
  auto opened = OpenCaseReference(*key, "vast", *sealed, 1000);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(opened.status().message()).find("expired"), std::string::npos);
}

TEST(CaseRefTest, ForgedMovedAndForeignReferencesAreRefused) {
  auto key = NewReferenceKey();
  auto other = NewReferenceKey();
  std::string sealed = *SealCaseReference(*key, {"vast", 9, 2000000000});
  // Another key (another region's, or after the key was replaced).
  EXPECT_EQ(OpenCaseReference(*other, "vast", sealed, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The same bytes relabelled for another region do not verify there.
  std::string moved = "pmdbref1.syd." + sealed.substr(std::string("pmdbref1.vast.").size());
  EXPECT_EQ(OpenCaseReference(*key, "syd", moved, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenCaseReference(*key, "vast", moved, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Any flipped character breaks the tag.
  for (size_t i = std::string("pmdbref1.vast.").size(); i < sealed.size(); i += 7) {
    std::string bad = sealed;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(OpenCaseReference(*key, "vast", bad, 0).ok()) << i;
  }
  EXPECT_FALSE(RegionOfReference("hello").ok());
  EXPECT_FALSE(OpenCaseReference(*key, "vast", "pmdbref1.vast.!!", 0).ok());
}

}  // namespace
}  // namespace pmdb::security
