#include "security/released.h"

#include <algorithm>
#include <cmath>

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t Clamp0(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

int64_t ToSigned(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

// k with P(|noise| <= k) >= 1 - alpha, by the normal approximation rounded up.
uint64_t HalfWidth(double sd, double z) {
  if (sd <= 0) return 0;
  return static_cast<uint64_t>(std::ceil(z * sd));
}

}  // namespace

v1::ReleasedCount ExactCount(uint64_t v) { return RangeCount(v, v); }

v1::ReleasedCount RangeCount(uint64_t low, uint64_t high) {
  v1::ReleasedCount c;
  c.set_low(low);
  c.set_high(high);
  c.set_ci95_low(low);
  c.set_ci95_high(high);
  return c;
}

uint64_t HalfWidth95(double sd) { return HalfWidth(sd, 1.96); }

void ReleasedSum::Add(const v1::ReleasedCount& part) {
  ++parts_;
  if (part.has_noised()) {
    noised_ = true;
    point_ += part.noised();
  } else {
    low_ = SaturatingAdd(low_, part.low());
    high_ = SaturatingAdd(high_, part.high());
  }
  variance_ += part.noise_sd() * part.noise_sd();
}

v1::ReleasedCount ReleasedSum::Total(uint32_t min_count) const {
  if (!noised_) {
    // Certain ranges (and thresholds-mode numbers, whose noise is not a distribution).
    v1::ReleasedCount c = high_ < min_count ? RangeCount(0, min_count == 0 ? 0 : min_count - 1)
                                            : RangeCount(low_, high_);
    if (variance_ > 0) c.set_noise_sd(std::sqrt(variance_));
    return c;
  }
  const double sd = std::sqrt(variance_);
  const int64_t lo = point_ + ToSigned(low_);
  const int64_t hi = high_ == UINT64_MAX ? INT64_MAX : point_ + ToSigned(high_);
  v1::ReleasedCount c;
  c.set_noise_sd(sd);
  c.set_noised(lo);
  uint64_t shown_low = Clamp0(lo), shown_high = hi == INT64_MAX ? UINT64_MAX : Clamp0(hi);
  if (shown_high < min_count) {
    shown_low = 0;
    shown_high = min_count == 0 ? 0 : min_count - 1;
  }
  c.set_low(shown_low);
  c.set_high(shown_high);
  const int64_t k = ToSigned(HalfWidth95(sd));
  c.set_ci95_low(Clamp0(lo - k));
  c.set_ci95_high(hi == INT64_MAX ? UINT64_MAX : Clamp0(hi + k));
  return c;
}

v1::ReleasedCount NoisedCount(int64_t noised, double sd, uint32_t min_count) {
  v1::ReleasedCount part;
  part.set_noised(noised);
  part.set_noise_sd(sd);
  ReleasedSum one;
  one.Add(part);
  return one.Total(min_count);
}

std::pair<double, double> FrequencyInterval(const v1::ReleasedCount& ac,
                                            const v1::ReleasedCount& an) {
  auto interval = [](const v1::ReleasedCount& c) -> std::pair<double, double> {
    if (!c.has_noised()) {
      return {static_cast<double>(c.ci95_low()), static_cast<double>(c.ci95_high())};
    }
    double k = static_cast<double>(HalfWidth(c.noise_sd(), 2.2414));  // 97.5 % two-sided
    return {std::max(0.0, static_cast<double>(c.noised()) - k),
            static_cast<double>(c.noised()) + k};
  };
  auto [ac_lo, ac_hi] = interval(ac);
  auto [an_lo, an_hi] = interval(an);
  if (an_hi <= 0) return {0, 1};
  double lo = an_hi > 0 ? ac_lo / an_hi : 0;
  double hi = an_lo > 0 ? std::min(1.0, ac_hi / an_lo) : 1;
  return {std::min(lo, 1.0), hi};
}

std::string FormatReleased(const v1::ReleasedCount& c) {
  if (c.noise_sd() > 0) {
    v1::ReleasedCount plain = c;
    plain.clear_noise_sd();
    plain.clear_noised();
    return StrCat("~", FormatReleased(plain));
  }
  if (c.high() == UINT64_MAX) return c.low() == 0 ? "hidden" : StrCat(">=", WithThousands(c.low()));
  if (c.low() == c.high()) return WithThousands(c.low());
  if (c.low() == 0) return StrCat("<", WithThousands(c.high() + 1));
  return StrCat(WithThousands(c.low()), "-", WithThousands(c.high()));
}

std::string FormatWithInterval(const v1::ReleasedCount& c) {
  std::string shown = FormatReleased(c);
  if (c.noise_sd() <= 0 || c.ci95_high() == UINT64_MAX) return shown;
  return StrCat(shown, " (95 %: ", WithThousands(c.ci95_low()), "-", WithThousands(c.ci95_high()),
                ")");
}

}  // namespace pmdb::security
