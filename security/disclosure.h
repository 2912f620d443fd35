// Disclosure control: what a region (and the hub, again) does to a number before it leaves.
//
// * Differential privacy (on by default): every released number (a count, each cell of a
//   breakdown, AC and AN) carries discrete Gaussian noise (security/dp.h) drawn from a stream
//   keyed by HMAC-SHA256(region secret, question, cell, data version). The question is the
//   canonical form (query::CanonicalCriterion), so rewrites that normalize to the same form
//   return the same number; a new question, or the same one after the data changed, gets fresh
//   noise and costs budget (security/privacy_budget.h). Negative noised numbers are released as
//   0, and noised numbers below min_count as the range 0..min_count-1; both are
//   post-processing and cost nothing.
// * Thresholds only (the operator set differential_privacy = false): small counts are the
//   range [0, min_count - 1], with optional consistent uniform noise in [-noise, +noise], and
//   breakdowns get complementary suppression until no line of the table (a row, a column, or
//   the whole 1-D table) has exactly one hidden cell, or only small hidden cells that add up to
//   0 or to their largest possible sum. This is the first wave's rule; it does not withstand
//   padding and differencing (docs/disclosure.md), and every answer says so.
// * Per-caller daily question budget and near-repeat limit: rate limits in both modes.
//
// docs/disclosure.md has the reasoning, the parameters and the measured attacks.
#ifndef PMDB_SECURITY_DISCLOSURE_H_
#define PMDB_SECURITY_DISCLOSURE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/query.pb.h"
#include "security/dp.h"

namespace pmdb::security {

// How long a catalogue's batch waits per site at least before its answer leaves a region
// (core::NodeCore::Catalogue), so that its time does not tell how many of the sites the region
// holds; the hub gives each region that much longer.
inline constexpr std::chrono::microseconds kCatalogueSiteAllowance{500};

struct DisclosureRules {
  uint32_t min_count = 5;
  bool differential_privacy = true;  // false only by the operator's explicit choice
  NoiseScale scale;                  // noise on a count (sensitivity 1): sigma 5 by default
  uint32_t noise = 0;                // thresholds-only mode: consistent uniform noise
  uint32_t daily_budget = 2000;      // questions per caller per UTC day
  uint32_t near_repeat_limit = 100;  // near-identical questions per caller per UTC day
  // Evaluation whose work does not depend on the data (no early exit) and paced answers, so
  // that neither an error, a warning nor the time taken tells whether part of a question
  // selects anyone. false only by the operator's explicit choice (measuring the attacks).
  bool close_side_channels = true;
  // With close_side_channels: answers leave at the next multiple of this after their question
  // arrived (0: as soon as they are ready).
  uint32_t response_quantum_ms = 10;
  // National totals (secure_sum.h): how many of a round's other regions this region assumes may
  // share what they know with the hub. Its noise share grows so that the shares of the others
  // still add up to its own noise (sigma^2 / (regions - national_collusion) each).
  uint32_t national_collusion = 0;
};

class Discloser {
 public:
  // `secret` keys the noise; it never leaves the region.
  Discloser(DisclosureRules rules, std::string secret)
      : rules_(rules), secret_(std::move(secret)) {}

  // `question` identifies the release: the kind of answer, the canonical question and the
  // data version. `sensitivity` is how much one person can change the number (2 for AC and
  // AN); the noise scales with it so each number costs the same.
  v1::ReleasedCount ReleaseCount(uint64_t exact, const std::string& question,
                                 uint32_t sensitivity = 1) const;

  // A number of sensitivity 2 (an AC or AN in a catalogue) released with noise of `scale`
  // (its standard deviation itself) instead of the region's; in thresholds-only mode as
  // ReleaseCount(exact, question, 2).
  v1::ReleasedCount ReleaseAt(uint64_t exact, const std::string& question, NoiseScale scale) const;

  // Cells come in the engine's order (row-major for two dimensions).
  std::vector<v1::ReleasedCell> ReleaseBreakdown(const v1::Breakdown& exact,
                                                 const std::string& question) const;

  // A region's share of the noise of a national total (secure_sum.h): discrete Gaussian of
  // `variance`, keyed like any release on the question (which names the round's roster) and the
  // cell, so the same round on the same data gives the same share. REQUIRES: differential
  // privacy.
  int64_t NoiseShare(const std::string& question, const std::string& cell, Rational variance) const;
  // The privacy cost (micro-rho) of releasing a breakdown in which one person is in at most
  // `cells_per_person` cells, or a count (1). 0 in thresholds-only mode.
  uint64_t CostMicros(uint32_t cells_per_person = 1) const;

  // A keyed fingerprint of a release (16 bytes): equal for equal questions on equal data under
  // the same mechanism and scale.
  std::string Fingerprint(const std::string& question) const;

  // The mechanism and its parameters, part of every noise key and fingerprint: a region that
  // changes sigma (or leaves differential privacy) releases a question anew, with independent
  // noise, and pays for it again.
  std::string Mechanism() const;

  v1::DisclosureApplied Applied() const;
  const DisclosureRules& rules() const { return rules_; }

 private:
  int64_t Noise(const std::string& question, const std::string& cell, uint32_t sensitivity) const;
  v1::ReleasedCount Noised(uint64_t exact, int64_t noise, double sd) const;

  DisclosureRules rules_;
  std::string secret_;
};

// 32 random bytes for a new noise key.
absl::StatusOr<std::string> NewNoiseSecret();

// The hub's second pass over numbers it passes on: a number shown below min_count becomes
// [0, min_count - 1] (its noised value and interval stay).
v1::ReleasedCount Floor(const v1::ReleasedCount& count, uint32_t min_count);

// Which cells of a table stay hidden: small ones (below min_count) and their complements.
// `sizes` are the dimension sizes (one or two), `counts` row-major. Exposed for tests.
enum class CellFate { kReleased, kSuppressed, kComplementary };
std::vector<CellFate> ChooseHiddenCells(const std::vector<size_t>& sizes,
                                        const std::vector<uint64_t>& counts, uint32_t min_count);

// Per-caller question budget, per UTC day. Thread-safe.
class QueryBudget {
 public:
  explicit QueryBudget(DisclosureRules rules) : rules_(rules) {}

  // Records the question (canonical text and its leaf criteria) and says whether it may be
  // answered: RESOURCE_EXHAUSTED when the caller's budget or near-repeat limit is used up.
  absl::Status Charge(const std::string& caller, const std::string& canonical,
                      std::vector<std::string> leaves, int64_t unix_seconds);

 private:
  struct Day {
    int64_t day = -1;
    uint32_t asked = 0;
    uint32_t near = 0;
    std::map<std::string, std::vector<std::string>> distinct;  // canonical -> sorted leaves
  };
  DisclosureRules rules_;
  std::mutex mu_;
  std::map<std::string, Day> callers_;
};

// How many times each caller may do a thing per UTC day (a clinician's similar-case searches).
// Thread-safe.
class DailyLimit {
 public:
  // `what` names the thing in the refusal, e.g. "similar-case searches".
  DailyLimit(uint32_t per_day, std::string what) : per_day_(per_day), what_(std::move(what)) {}

  // Counts one use; RESOURCE_EXHAUSTED (and not counted) when today's are used up.
  absl::Status Charge(const std::string& caller, int64_t unix_seconds);

 private:
  struct Day {
    int64_t day = -1;
    uint32_t used = 0;
  };
  uint32_t per_day_;
  std::string what_;
  std::mutex mu_;
  std::map<std::string, Day> callers_;
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_DISCLOSURE_H_
