// Privacy budgets: how much a region lets out about its people, in rho of zero-concentrated
// differential privacy, which adds up over releases (Bun & Steinke 2016). Every new release is
// charged to three accounts, and the first limit that would go over refuses it:
//   * the researcher: per identity URI, so a renewed certificate shares the budget;
//   * the project: researchers belong to approved projects, each with its own budget and its
//     share of the region's (so that one project cannot use up what the others may ask);
//   * the region: everything released to everyone, which bounds what colluding identities
//     learn together.
// Every account has a limit over a sliding window of `period_days` and one over the last 365
// days. A sliding window has no common renewal date: spending either side of a fixed boundary
// cannot double a burst, and a budget comes back as its oldest spends leave the window.
// A release made before (the same fingerprint: question, data version and mechanism) is free
// for anyone, because it repeats a number already out.
//
// Thread-safe.
#ifndef PMDB_SECURITY_PRIVACY_BUDGET_H_
#define PMDB_SECURITY_PRIVACY_BUDGET_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/answers.pb.h"
#include "security/identity.h"

namespace pmdb::security {

struct Project {
  std::string id;
  std::set<std::string> members;  // researcher names: spiffe://<federation>/researcher/<name>
  uint64_t budget_micros = 2'000'000;
  uint32_t period_days = 30;
  // The project's share of the region's budgets (period and yearly), in millionths; 0 means an
  // equal share of what the projects that set none leave.
  uint64_t share_millionths = 0;
};

struct PrivacyBudgets {
  uint32_t period_days = 30;               // of the researcher and region budgets
  uint64_t researcher_micros = 1'000'000;  // rho 1 per researcher per period
  uint64_t researcher_yearly_micros = 4'000'000;
  uint64_t region_micros = 4'000'000;  // rho 4 per period for everyone together
  uint64_t region_yearly_micros = 12'000'000;
  std::vector<Project> projects;
};

// One release to charge.
struct Spend {
  std::string researcher;  // identity URI
  std::string project;
  std::string release;  // the release's fingerprint
  uint64_t micros = 0;
};

inline constexpr uint32_t kYearDays = 365;

class PrivacyLedger {
 public:
  // REQUIRES: the projects' shares add up to at most one (the configuration checks it).
  explicit PrivacyLedger(PrivacyBudgets budgets);

  // The project a researcher's questions are charged to; PERMISSION_DENIED, naming the
  // region, when they are in none.
  absl::StatusOr<std::string> ProjectOf(const Identity& researcher,
                                        const std::string& region) const;

  // Charges the release to its accounts and returns what it cost: 0 for a release made before.
  // RESOURCE_EXHAUSTED, charging nothing, when a limit would go over; the message names the
  // limit, what is left and when enough of it is free again.
  absl::StatusOr<uint64_t> Charge(const Spend& spend, int64_t now_unix);

  // What Charge would return, charging nothing.
  absl::StatusOr<uint64_t> Price(const Spend& spend, int64_t now_unix) const;

  // Takes back a charge of `spend.micros` made at `at_unix` whose answer never left (its audit
  // entry could not be written), so that neither the budgets nor the "made before" mark keep it.
  void Refund(const Spend& spend, int64_t at_unix);

  // Charges what an audit entry of an earlier run shows was charged, without checks. Entries
  // must come in time order.
  void Replay(const Spend& spend, int64_t at_unix);

  // The researcher's and the project's limits as they stand.
  std::vector<v1::BudgetState> States(const std::string& researcher, const std::string& project,
                                      int64_t now_unix) const;

  // The region's limits and every project's, for the region's operator.
  std::vector<v1::BudgetState> RegionStates(int64_t now_unix) const;

  // Audit entries from here on are replayed: the longest window, a year.
  int64_t ReplayFrom(int64_t now_unix) const { return now_unix - int64_t{kYearDays} * 86400; }

  // The project's share of the region's budgets, in millionths.
  uint64_t ShareOf(const std::string& project) const;

  const PrivacyBudgets& budgets() const { return budgets_; }

 private:
  // Spends in time order; none older than a year is kept.
  using Account = std::deque<std::pair<int64_t, uint64_t>>;
  struct Limit {
    std::string name;  // "researcher", "project bc", "project bc's share of the region", "region"
    uint64_t micros;
    uint32_t days;
  };
  struct Charged {
    Account* account;
    std::vector<Limit> limits;
  };
  std::vector<Charged> AccountsFor(const Spend& spend) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> PriceLocked(const Spend& spend, int64_t now_unix) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Limit> ResearcherLimits() const;
  std::vector<Limit> ProjectLimits(const Project& p) const;
  std::vector<Limit> RegionLimits() const;
  static uint64_t SpentWithin(const Account& a, uint32_t days, int64_t now_unix);
  // The first time from now on at which `micros` more fit under the limit.
  static int64_t FreeAt(const Account& a, const Limit& limit, uint64_t micros, int64_t now_unix);
  static v1::BudgetState StateOf(const Account* account, const Limit& limit, int64_t now_unix);
  static void Add(Account& a, int64_t at_unix, uint64_t micros, int64_t now_unix);

  PrivacyBudgets budgets_;
  std::map<std::string, const Project*> project_of_;  // researcher name -> project
  std::map<std::string, const Project*> projects_;    // id -> project
  std::map<std::string, uint64_t> shares_;            // project id -> share in millionths
  mutable std::mutex mu_;
  std::map<std::string, Account> researchers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Account> project_accounts_ ABSL_GUARDED_BY(mu_);
  Account region_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> released_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_PRIVACY_BUDGET_H_
