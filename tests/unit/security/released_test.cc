#include "security/released.h"

#include <gtest/gtest.h>

#include <cmath>

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

v1::ReleasedCount Noised(int64_t v, double sd) {
  v1::ReleasedCount c;
  c.set_noised(v);
  c.set_noise_sd(sd);
  return c;
}

TEST(ReleasedTest, SumsOfRangesAreRangesAndUnboundedStaysUnbounded) {
  ReleasedSum sum;
  sum.Add(Released(0, 4));
  sum.Add(ExactCount(10));
  v1::ReleasedCount total = sum.Total(5);
  EXPECT_EQ(total.low(), 10u);
  EXPECT_EQ(total.high(), 14u);
  EXPECT_EQ(total.ci95_low(), 10u);
  EXPECT_EQ(total.ci95_high(), 14u);
  ReleasedSum open;
  open.Add(Released(3, UINT64_MAX));
  open.Add(Released(0, 4));
  EXPECT_EQ(open.Total(5).low(), 3u);
  EXPECT_EQ(open.Total(5).high(), UINT64_MAX);
}

// Totals add the noised values, not what each region showed: three regions whose true counts
// are 0 and whose noised values are -3, 2 and -1 show 0, <5 and 0, but their total is -2, shown
// as <5, with an interval around it, not the "0-4 + 0-4 + 0-4" a sum of shown ranges would be.
TEST(ReleasedTest, NoisedSumsAreUnbiasedAndShownOnlyAtTheEnd) {
  ReleasedSum sum;
  for (int64_t v : {-3, 2, -1}) sum.Add(NoisedCount(v, 5, 5));
  EXPECT_EQ(NoisedCount(-3, 5, 5).low(), 0u);
  EXPECT_EQ(NoisedCount(-3, 5, 5).high(), 4u) << "shown as <5";
  v1::ReleasedCount total = sum.Total(5);
  EXPECT_EQ(total.noised(), -2);
  EXPECT_NEAR(total.noise_sd(), 5 * std::sqrt(3.0), 1e-9);
  EXPECT_EQ(total.low(), 0u);
  EXPECT_EQ(total.high(), 4u);
  // 1.96 * 8.66 = 16.97: the interval is [0, -2 + 17].
  EXPECT_EQ(total.ci95_low(), 0u);
  EXPECT_EQ(total.ci95_high(), 15u);
  EXPECT_EQ(FormatWithInterval(total), "~<5 (95 %: 0-15)");

  ReleasedSum big;
  big.Add(NoisedCount(700, 5, 5));
  big.Add(NoisedCount(13, 5, 5));
  EXPECT_EQ(big.Total(5).low(), 713u);
  EXPECT_EQ(FormatWithInterval(big.Total(5)), "~713 (95 %: 699-727)");
  EXPECT_EQ(FormatWithInterval(ExactCount(12)), "12") << "a certain number needs no interval";
}

TEST(ReleasedTest, HalfWidthsCoverNinetyFivePercent) {
  EXPECT_EQ(HalfWidth95(0), 0u);
  EXPECT_EQ(HalfWidth95(5), 10u);   // 1.96 * 5 = 9.8
  EXPECT_EQ(HalfWidth95(10), 20u);  // AC and AN
  // AF from AC ~ 30 and AN ~ 1000, each sd 10: both 97.5 % intervals hold together.
  auto [lo, hi] = FrequencyInterval(Noised(30, 10), Noised(1000, 10));
  EXPECT_NEAR(lo, (30 - 23) / 1023.0, 1e-9);
  EXPECT_NEAR(hi, (30 + 23) / 977.0, 1e-9);
}

}  // namespace
}  // namespace pmdb::security
