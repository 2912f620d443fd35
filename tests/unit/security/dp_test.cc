#include "security/dp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace pmdb::security {
namespace {

constexpr int kSamples = 20000;

TEST(KeyedRandomTest, SameKeyAndLabelGiveTheSameStream) {
  KeyedRandom a("key", "label"), b("key", "label"), c("key", "other"), d("other key", "label");
  bool differs_by_label = false, differs_by_key = false;
  for (int i = 0; i < 16; ++i) {
    uint64_t x = a.Next64();
    EXPECT_EQ(x, b.Next64());
    differs_by_label = differs_by_label || x != c.Next64();
    differs_by_key = differs_by_key || x != d.Next64();
  }
  EXPECT_TRUE(differs_by_label);
  EXPECT_TRUE(differs_by_key);
}

TEST(KeyedRandomTest, BelowStaysInRangeAndCoversIt) {
  KeyedRandom r("key", "below");
  std::map<uint64_t, int> seen;
  for (int i = 0; i < 7000; ++i) {
    u128 v = r.Below(7);
    ASSERT_LT(v, 7u);
    ++seen[static_cast<uint64_t>(v)];
  }
  ASSERT_EQ(seen.size(), 7u);
  for (const auto& [v, n] : seen) EXPECT_NEAR(n, 1000, 150) << v;
  EXPECT_EQ(r.Below(1), 0u);
  // A bound above 2^64 is reached too.
  u128 big = (u128{1} << 100) + 3;
  bool high_half = false;
  for (int i = 0; i < 64; ++i) high_half = high_half || r.Below(big) > (u128{1} << 99);
  EXPECT_TRUE(high_half);
}

TEST(BernoulliTest, ExpMinusMatchesItsProbability) {
  KeyedRandom r("key", "bernoulli");
  for (auto [num, den] : {std::pair<int, int>{1, 2}, {5, 2}, {0, 1}, {7, 3}}) {
    int hits = 0;
    for (int i = 0; i < kSamples; ++i) hits += BernoulliExpMinus({u128(num), u128(den)}, r);
    double p = std::exp(-static_cast<double>(num) / den);
    double se = std::sqrt(p * (1 - p) / kSamples);
    EXPECT_NEAR(static_cast<double>(hits) / kSamples, p, 5 * se + 1e-9) << num << "/" << den;
  }
}

TEST(DiscreteLaplaceTest, HasTheGeometricShape) {
  KeyedRandom r("key", "laplace");
  const uint64_t t = 3;
  std::map<int64_t, int> count;
  for (int i = 0; i < kSamples; ++i) ++count[SampleDiscreteLaplace(t, r)];
  // P(x) = tanh(1 / (2t)) exp(-|x| / t).
  double c = std::tanh(1.0 / (2.0 * t));
  for (int64_t x : {-2, -1, 0, 1, 2, 5}) {
    double p = c * std::exp(-std::abs(static_cast<double>(x)) / t);
    double se = std::sqrt(p * (1 - p) / kSamples);
    EXPECT_NEAR(static_cast<double>(count[x]) / kSamples, p, 5 * se) << x;
  }
}

TEST(DiscreteGaussianTest, HasTheMeanVarianceAndMassOfItsDistribution) {
  KeyedRandom r("key", "gauss");
  const NoiseScale scale{.sigma_centi = 500};
  std::map<int64_t, int> count;
  double sum = 0, sum2 = 0;
  int positive = 0, negative = 0;
  for (int i = 0; i < kSamples; ++i) {
    int64_t x = SampleDiscreteGaussian(scale.Variance(), r);
    ++count[x];
    sum += static_cast<double>(x);
    sum2 += static_cast<double>(x * x);
    positive += x > 0;
    negative += x < 0;
  }
  double mean = sum / kSamples;
  double variance = sum2 / kSamples - mean * mean;
  EXPECT_NEAR(mean, 0.0, 5 * 5.0 / std::sqrt(kSamples));
  EXPECT_NEAR(variance, 25.0, 5 * 25.0 * std::sqrt(2.0 / kSamples));
  EXPECT_NEAR(positive, negative, 5 * std::sqrt(static_cast<double>(kSamples)));
  // The exact mass: exp(-x^2 / 50) over its sum.
  double z = 0;
  for (int x = -200; x <= 200; ++x) z += std::exp(-x * x / 50.0);
  for (int64_t x : {0, 3, -5, 10}) {
    double p = std::exp(-static_cast<double>(x * x) / 50.0) / z;
    double se = std::sqrt(p * (1 - p) / kSamples);
    EXPECT_NEAR(static_cast<double>(count[x]) / kSamples, p, 5 * se) << x;
  }
}

TEST(DiscreteGaussianTest, ANonIntegerSigmaWorks) {
  KeyedRandom r("key", "gauss 2.5");
  const NoiseScale scale{.sigma_centi = 250};
  double sum2 = 0;
  for (int i = 0; i < kSamples; ++i) {
    double x = static_cast<double>(SampleDiscreteGaussian(scale.Variance(), r));
    sum2 += x * x;
  }
  EXPECT_NEAR(sum2 / kSamples, 6.25, 5 * 6.25 * std::sqrt(2.0 / kSamples));
}

TEST(ZcdpCostTest, IsSensitivitySquaredOverTwiceTheVariance) {
  EXPECT_EQ(ZcdpCostMicros(1, {.sigma_centi = 500}), 20000u);   // 1 / 50
  EXPECT_EQ(ZcdpCostMicros(4, {.sigma_centi = 1000}), 20000u);  // 4 / 200
  EXPECT_EQ(ZcdpCostMicros(3, {.sigma_centi = 500}), 60000u);
  EXPECT_EQ(ZcdpCostMicros(1, {.sigma_centi = 300}), 55556u);   // 1 / 18, rounded up
}

TEST(FormatMicrosTest, WritesShortDecimals) {
  EXPECT_EQ(FormatMicros(20000), "0.02");
  EXPECT_EQ(FormatMicros(1000000), "1");
  EXPECT_EQ(FormatMicros(1500000), "1.5");
  EXPECT_EQ(FormatMicros(0), "0");
  EXPECT_EQ(FormatMicros(55556), "0.055556");
}

}  // namespace
}  // namespace pmdb::security
