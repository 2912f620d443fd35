// Released numbers: what a region or the hub lets out. A released number is shown as a range
// [low, high] (exact when the two are equal and there is no noise; high = UINT64_MAX for "at
// least low", or "hidden" when low is 0 too), with the standard deviation of its noise. A noised
// number also carries the noised value itself (unclamped, possibly negative), and every number
// carries a 95 % interval for the true value. This file is the one place that makes, adds and
// writes them, for the regions, the hub's merge, the CLI and the audit logs alike.
#ifndef PMDB_SECURITY_RELEASED_H_
#define PMDB_SECURITY_RELEASED_H_

#include <cstdint>
#include <string>
#include <utility>

#include "pmdb/v1/answers.pb.h"

namespace pmdb::security {

// [v, v], certain.
v1::ReleasedCount ExactCount(uint64_t v);

// [low, high], certain (a suppressed small count, a complementary cell).
v1::ReleasedCount RangeCount(uint64_t low, uint64_t high);

// The half-width k of a 95 % interval for noise of this standard deviation: |noise| <= k with
// probability at least 0.95 (for the discrete Gaussian and for sums of them, k = ceil(1.96 sd)
// covers a little more than 95 %). 0 for no noise.
uint64_t HalfWidth95(double sd);

// A sum of released numbers, made the unbiased way: noised parts add their noised values
// (not what was shown), certain parts their ranges, and noise adds in variance. Clamping at 0
// and showing small numbers as <min_count happen only to the total.
class ReleasedSum {
 public:
  void Add(const v1::ReleasedCount& part);
  bool empty() const { return parts_ == 0; }
  // The total as released: shown as 0 when negative and as [0, min_count - 1] when below
  // min_count (noised or not), with its noised value and its 95 % interval.
  v1::ReleasedCount Total(uint32_t min_count) const;

 private:
  int parts_ = 0;
  bool noised_ = false;
  int64_t point_ = 0;  // sum of the noised values
  uint64_t low_ = 0;   // sum of the certain parts' ranges (saturating)
  uint64_t high_ = 0;
  double variance_ = 0;
};

// The noised number `noised` (the true value plus noise of `sd`), as released with min_count.
v1::ReleasedCount NoisedCount(int64_t noised, double sd, uint32_t min_count);

// An allele frequency's 95 % interval from AC and AN: each from its own 97.5 % interval, so
// that both hold together with at least 95 %. [0, 1] when AN may be 0.
std::pair<double, double> FrequencyInterval(const v1::ReleasedCount& ac,
                                            const v1::ReleasedCount& an);

// "12", "1,234", "<5" (0 to 4), "12-16", ">=12", "hidden"; noised numbers start with "~"
// ("~1,234", "~<5").
std::string FormatReleased(const v1::ReleasedCount& count);

// FormatReleased with the 95 % interval when it says more than the number itself:
// "~713 (95 %: 703-723)", "~<5 (95 %: 0-13)", "12".
std::string FormatWithInterval(const v1::ReleasedCount& count);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_RELEASED_H_
