#include "security/released.h"

#include <gtest/gtest.h>

namespace pmdb::security {
namespace {

v1::ReleasedCount Range(uint64_t low, uint64_t high) {
  v1::ReleasedCount c;
  c.set_low(low);
  c.set_high(high);
  return c;
}

TEST(ReleasedTest, OneWayToWriteAReleasedNumber) {
  EXPECT_EQ(FormatReleased(ExactCount(0)), "0");
  EXPECT_EQ(FormatReleased(ExactCount(12)), "12");
  EXPECT_EQ(FormatReleased(ExactCount(1234567)), "1,234,567");
  EXPECT_EQ(FormatReleased(Range(0, 4)), "<5");
  EXPECT_EQ(FormatReleased(Range(12, 16)), "12-16");
  EXPECT_EQ(FormatReleased(Range(1000, 1004)), "1,000-1,004");
  EXPECT_EQ(FormatReleased(Range(12, UINT64_MAX)), ">=12");
  EXPECT_EQ(FormatReleased(Range(0, UINT64_MAX)), "hidden");
}

TEST(ReleasedTest, SumsOfRangesAreRangesAndUnboundedStaysUnbounded) {
  v1::ReleasedCount sum = AddReleased(Range(0, 4), ExactCount(10));
  EXPECT_EQ(sum.low(), 10u);
  EXPECT_EQ(sum.high(), 14u);
  v1::ReleasedCount open = AddReleased(Range(3, UINT64_MAX), Range(0, 4));
  EXPECT_EQ(open.low(), 3u);
  EXPECT_EQ(open.high(), UINT64_MAX);
}

}  // namespace
}  // namespace pmdb::security
