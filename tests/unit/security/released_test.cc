#include "security/released.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using ::pmdb::testing::Released;

TEST(ReleasedTest, OneWayToWriteAReleasedNumber) {
  EXPECT_EQ(FormatReleased(ExactCount(0)), "0");
  EXPECT_EQ(FormatReleased(ExactCount(12)), "12");
  EXPECT_EQ(FormatReleased(ExactCount(1234567)), "1,234,567");
  EXPECT_EQ(FormatReleased(Released(0, 4)), "<5");
  EXPECT_EQ(FormatReleased(Released(12, 16)), "12-16");
  EXPECT_EQ(FormatReleased(Released(1000, 1004)), "1,000-1,004");
  EXPECT_EQ(FormatReleased(Released(12, UINT64_MAX)), ">=12");
  EXPECT_EQ(FormatReleased(Released(0, UINT64_MAX)), "hidden");
}

TEST(ReleasedTest, SumsOfRangesAreRangesAndUnboundedStaysUnbounded) {
  v1::ReleasedCount sum = AddReleased(Released(0, 4), ExactCount(10));
  EXPECT_EQ(sum.low(), 10u);
  EXPECT_EQ(sum.high(), 14u);
  v1::ReleasedCount open = AddReleased(Released(3, UINT64_MAX), Released(0, 4));
  EXPECT_EQ(open.low(), 3u);
  EXPECT_EQ(open.high(), UINT64_MAX);
}

}  // namespace
}  // namespace pmdb::security
