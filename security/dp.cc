#include "security/dp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

int BitLength(u128 v) {
  int n = 0;
  while (v != 0) {
    ++n;
    v >>= 1;
  }
  return n;
}

uint64_t IntegerSqrt(u128 v) {
  // Largest r with r * r <= v, by bisection (v < 2^128, so r < 2^64).
  u128 lo = 0, hi = u128{UINT64_MAX};
  while (lo < hi) {
    u128 mid = lo + (hi - lo + 1) / 2;
    if (mid * mid <= v) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return static_cast<uint64_t>(lo);
}

}  // namespace

KeyedRandom::KeyedRandom(std::string_view key, std::string_view label)
    : key_(key), label_(label) {}

void KeyedRandom::Refill() {
  std::string message = label_;
  for (int i = 7; i >= 0; --i) message.push_back(static_cast<char>((block_ >> (8 * i)) & 0xff));
  ++block_;
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), buffer_, &len);
  used_ = 0;
}

uint64_t KeyedRandom::Next64() {
  if (used_ + 8 > 32) Refill();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | buffer_[used_ + i];
  used_ += 8;
  return v;
}

u128 KeyedRandom::Below(u128 n) {
  if (n <= 1) return 0;
  int bits = BitLength(n - 1);
  u128 mask = bits == 128 ? ~u128{0} : ((u128{1} << bits) - 1);
  while (true) {
    u128 v = (u128{Next64()} << 64) | Next64();
    v &= mask;
    if (v < n) return v;  // accepted with probability > 1/2
  }
}

bool Bernoulli(Rational p, KeyedRandom& random) { return random.Below(p.den) < p.num; }

bool BernoulliExpMinus(Rational gamma, KeyedRandom& random) {
  if (gamma.num > gamma.den) {
    // exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))).
    u128 whole = gamma.num / gamma.den;
    for (u128 i = 0; i < whole; ++i) {
      if (!BernoulliExpMinus({1, 1}, random)) return false;
    }
    return BernoulliExpMinus({gamma.num - whole * gamma.den, gamma.den}, random);
  }
  // gamma in [0, 1]: the number of successive successes of Bernoulli(gamma / k), k = 1, 2, ...
  // is even with probability exp(-gamma).
  u128 k = 1;
  while (Bernoulli({gamma.num, gamma.den * k}, random)) ++k;
  return k % 2 == 1;
}

int64_t SampleDiscreteLaplace(uint64_t t, KeyedRandom& random) {
  while (true) {
    uint64_t u = static_cast<uint64_t>(random.Below(t));
    if (!BernoulliExpMinus({u, t}, random)) continue;
    uint64_t v = 0;
    while (BernoulliExpMinus({1, 1}, random)) ++v;
    uint64_t x = u + t * v;
    bool negative = Bernoulli({1, 2}, random);
    if (negative && x == 0) continue;
    return negative ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
}

int64_t SampleDiscreteGaussian(Rational sigma2, KeyedRandom& random) {
  const u128 n = sigma2.num, d = sigma2.den;
  const uint64_t t = IntegerSqrt(n / d) + 1;
  while (true) {
    int64_t y = SampleDiscreteLaplace(t, random);
    uint64_t abs_y = y < 0 ? static_cast<uint64_t>(-y) : static_cast<uint64_t>(y);
    // Far tails (|y| >= 2^40 with t <= 1001) are accepted with probability below 2^-1000;
    // skipping them keeps the arithmetic below within 128 bits.
    if (abs_y >= (uint64_t{1} << 40)) continue;
    // gamma = (|y| - sigma^2 / t)^2 / (2 sigma^2) = (|y| d t - n)^2 / (2 n d t^2).
    u128 a = u128{abs_y} * d * t;
    u128 diff = a > n ? a - n : n - a;
    Rational gamma{diff * diff, 2 * n * d * t * t};
    if (BernoulliExpMinus(gamma, random)) return y;
  }
}

uint64_t ZcdpCostMicros(uint64_t sensitivity2, NoiseScale scale) {
  u128 c2 = u128{scale.sigma_centi} * scale.sigma_centi;
  u128 num = u128{sensitivity2} * 10000 * 1000000;  // s^2 * d * 10^6 with sigma^2 = c^2 / d
  u128 den = 2 * c2;
  return static_cast<uint64_t>((num + den - 1) / den);
}

std::string FormatMicros(uint64_t micros) {
  std::string frac = StrCat(1000000 + micros % 1000000).substr(1);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? StrCat(micros / 1000000) : StrCat(micros / 1000000, ".", frac);
}

}  // namespace pmdb::security
