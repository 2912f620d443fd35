#include "security/released.h"

#include <cmath>

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

v1::ReleasedCount ExactCount(uint64_t v) {
  v1::ReleasedCount c;
  c.set_low(v);
  c.set_high(v);
  return c;
}

v1::ReleasedCount AddReleased(const v1::ReleasedCount& a, const v1::ReleasedCount& b) {
  v1::ReleasedCount sum;
  sum.set_low(SaturatingAdd(a.low(), b.low()));
  sum.set_high(SaturatingAdd(a.high(), b.high()));
  // Independent noise adds in variance.
  sum.set_noise_sd(std::sqrt(a.noise_sd() * a.noise_sd() + b.noise_sd() * b.noise_sd()));
  return sum;
}

std::string FormatReleased(const v1::ReleasedCount& c) {
  if (c.noise_sd() > 0) {
    v1::ReleasedCount plain = c;
    plain.clear_noise_sd();
    return StrCat("~", FormatReleased(plain));
  }
  if (c.high() == UINT64_MAX) return c.low() == 0 ? "hidden" : StrCat(">=", WithThousands(c.low()));
  if (c.low() == c.high()) return WithThousands(c.low());
  if (c.low() == 0) return StrCat("<", WithThousands(c.high() + 1));
  return StrCat(WithThousands(c.low()), "-", WithThousands(c.high()));
}

}  // namespace pmdb::security
