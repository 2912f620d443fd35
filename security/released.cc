#include "security/released.h"

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
  return sum;
}

std::string FormatReleased(const v1::ReleasedCount& c) {
  if (c.high() == UINT64_MAX) return c.low() == 0 ? "hidden" : StrCat(">=", WithThousands(c.low()));
  if (c.low() == c.high()) return WithThousands(c.low());
  if (c.low() == 0) return StrCat("<", WithThousands(c.high() + 1));
  return StrCat(WithThousands(c.low()), "-", WithThousands(c.high()));
}

}  // namespace pmdb::security
