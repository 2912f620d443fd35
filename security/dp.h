// Differential privacy primitives: a keyed source of cryptographically pseudo-random bits, the
// exact discrete Gaussian sampler of Canonne, Kamath and Steinke ("The Discrete Gaussian for
// Differential Privacy", NeurIPS 2020, algorithms 1-3), and zero-concentrated DP costs.
//
// No floating point is used to draw noise: every Bernoulli trial compares a uniform integer
// with an exact rational, so the released distribution is exactly the discrete Gaussian and
// the low-order bits of a double cannot betray the true value (Mironov, "On Significance of
// the Least Significant Bits for Differential Privacy", CCS 2012). Costs are kept in
// micro-units of rho (1,000,000 = rho 1) so budgets add up exactly.
#ifndef PMDB_SECURITY_DP_H_
#define PMDB_SECURITY_DP_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace pmdb::security {

using u128 = unsigned __int128;

// A deterministic bit stream: block i is HMAC-SHA256(key, label || i). With a secret 32-byte
// key the stream cannot be told from uniform randomness without the key; the same key and
// label always give the same stream, which is what makes a released number repeatable.
class KeyedRandom {
 public:
  KeyedRandom(std::string_view key, std::string_view label);

  uint64_t Next64();
  // Uniform in [0, n). REQUIRES: n > 0.
  u128 Below(u128 n);

 private:
  void Refill();

  std::string key_;
  std::string label_;
  uint64_t block_ = 0;
  unsigned char buffer_[32];
  int used_ = 32;  // bytes of buffer_ consumed
};

// A non-negative rational num/den. REQUIRES: den > 0.
struct Rational {
  u128 num = 0;
  u128 den = 1;
};

// True with probability num/den. REQUIRES: num <= den.
bool Bernoulli(Rational p, KeyedRandom& random);
// True with probability exp(-gamma).
bool BernoulliExpMinus(Rational gamma, KeyedRandom& random);
// P(x) proportional to exp(-|x| / t). REQUIRES: t >= 1.
int64_t SampleDiscreteLaplace(uint64_t t, KeyedRandom& random);
// P(x) proportional to exp(-x^2 / (2 sigma^2)), sigma^2 = sigma2. REQUIRES: sigma2 > 0.
int64_t SampleDiscreteGaussian(Rational sigma2, KeyedRandom& random);

// The noise scale as configured: sigma in hundredths (500 = 5.00), so sigma^2 is exact.
struct NoiseScale {
  uint32_t sigma_centi = 500;
  Rational Variance() const { return {u128{sigma_centi} * sigma_centi, 10000}; }
  double sigma() const { return sigma_centi / 100.0; }
};

// rho of one release of a query with L2 sensitivity^2 `sensitivity2` through the discrete
// Gaussian with `scale`: sensitivity^2 / (2 sigma^2), rounded up to a micro-rho.
uint64_t ZcdpCostMicros(uint64_t sensitivity2, NoiseScale scale);

// "0.02" from 20000: an amount in millionths for messages, without trailing zeros.
std::string FormatMicros(uint64_t micros);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_DP_H_
