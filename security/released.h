// Released numbers: what a region or the hub lets out is a range [low, high] (exact when the two
// are equal and there is no noise; high = UINT64_MAX for "at least low", or "hidden" when low
// is 0 too), with the standard deviation of its noise. This file is
// the one place that adds them and writes them as text, for the CLI, the audit logs and the
// hub's merge alike.
#ifndef PMDB_SECURITY_RELEASED_H_
#define PMDB_SECURITY_RELEASED_H_

#include <cstdint>
#include <string>

#include "pmdb/v1/answers.pb.h"

namespace pmdb::security {

// [v, v].
v1::ReleasedCount ExactCount(uint64_t v);

// [a.low + b.low, a.high + b.high], saturating, so an unbounded high stays unbounded; the
// noise of the sum has the standard deviation of independent noises added.
v1::ReleasedCount AddReleased(const v1::ReleasedCount& a, const v1::ReleasedCount& b);

// "12", "1,234", "<5" (0 to 4), "12-16", ">=12", "hidden"; noised numbers start with "~"
// ("~1,234", "~<5").
std::string FormatReleased(const v1::ReleasedCount& count);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_RELEASED_H_
