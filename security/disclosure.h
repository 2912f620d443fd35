// Disclosure control: what a region (and the hub, again) does to a number before it leaves.
//
// * Small counts: a count below min_count (default 5) is released as the range
//   [0, min_count - 1], never as an exact small number and never as 0. Zero is hidden too: "no
//   one with X has not Y" is itself a disclosure about everyone with X.
// * Consistent noise (optional, default off): a released count gets an integer offset in
//   [-noise, +noise] drawn from HMAC-SHA256(region secret, question, cell). The same question
//   always gets the same answer, from whoever asks it, so repeating or pooling answers reveals
//   nothing; a noised count never drops below min_count.
// * Breakdowns: small cells are suppressed, then complementary suppression hides more cells
//   until no line of the table (a row, a column, or the whole 1-D table, whose totals can be
//   asked as counts) has exactly one hidden cell, or only small hidden cells that add up to 0
//   or to their largest possible sum; so no hidden cell follows from the known numbers.
// * Per-caller daily budget and a limit on near-identical questions (the same criteria but for
//   one added, removed or changed leaf), which is how differencing attacks are built.
//
// Defaults follow common practice: SHRINE blurs counts with noise, DataSHIELD refuses tables
// with small non-zero cells (nfilter.tab, 3 by default, 5 called the most common rule),
// OpenSAFELY redacts counts of 7 or fewer and rounds the rest. docs/disclosure.md has the
// reasoning and the sources.
#ifndef PMDB_SECURITY_DISCLOSURE_H_
#define PMDB_SECURITY_DISCLOSURE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::security {

struct DisclosureRules {
  uint32_t min_count = 5;
  uint32_t noise = 0;
  uint32_t daily_budget = 2000;       // questions per caller per UTC day
  uint32_t near_repeat_limit = 100;   // near-identical questions per caller per UTC day
};

class Discloser {
 public:
  // `secret` keys the noise; it never leaves the region.
  Discloser(DisclosureRules rules, std::string secret)
      : rules_(rules), secret_(std::move(secret)) {}

  v1::ReleasedCount ReleaseCount(uint64_t exact, const std::string& question) const;

  // Cells come in the engine's order (row-major for two dimensions).
  std::vector<v1::ReleasedCell> ReleaseBreakdown(const v1::Breakdown& exact,
                                                 const std::string& question) const;

  v1::DisclosureApplied Applied() const;
  const DisclosureRules& rules() const { return rules_; }

 private:
  int64_t Noise(const std::string& question, const std::string& cell) const;

  DisclosureRules rules_;
  std::string secret_;
};

// 32 random bytes for a new noise key.
absl::StatusOr<std::string> NewNoiseSecret();

// The hub's second pass over numbers it merges or passes on: a number whose upper bound is
// below min_count becomes [0, min_count - 1].
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
