// Privacy budgets: how much a region lets out about its people, in rho of zero-concentrated
// differential privacy, which adds up over releases (Bun & Steinke 2016). Three accounts are
// charged for every new release, and the first one that would go over refuses it:
//   * the researcher: per identity URI, so a renewed certificate shares the budget;
//   * the project: researchers belong to approved projects with a budget and a period, set by
//     the region; a researcher in no project gets nothing;
//   * the region: one cap per period over all researchers and projects together, which bounds
//     what any number of colluding identities learn.
// A release made before (the same fingerprint: question and data version) is free for
// anyone, because it repeats a number already out. Periods are fixed windows counted from the
// Unix epoch; a budget is full again when its window ends.
//
// Thread-safe.
#ifndef PMDB_SECURITY_PRIVACY_BUDGET_H_
#define PMDB_SECURITY_PRIVACY_BUDGET_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/answers.pb.h"
#include "security/identity.h"

namespace pmdb::security {

struct Project {
  std::string id;
  std::set<std::string> members;  // researcher names: spiffe://<federation>/researcher/<name>
  uint64_t budget_micros = 2'000'000;
  uint32_t period_days = 30;
};

struct PrivacyBudgets {
  uint32_t period_days = 30;               // of the researcher and region budgets
  uint64_t researcher_micros = 1'000'000;  // rho 1 per researcher per period
  uint64_t region_micros = 4'000'000;      // rho 4 per period for everyone together
  std::vector<Project> projects;
};

// One release to charge.
struct Spend {
  std::string researcher;  // identity URI
  std::string project;
  std::string release;     // the release's fingerprint
  uint64_t micros = 0;
};

class PrivacyLedger {
 public:
  explicit PrivacyLedger(PrivacyBudgets budgets);

  // The project a researcher's questions are charged to; PERMISSION_DENIED, naming the
  // region, when they are in none.
  absl::StatusOr<std::string> ProjectOf(const Identity& researcher,
                                        const std::string& region) const;

  // Charges the release to its three accounts and returns what it cost: 0 for a release made
  // before. RESOURCE_EXHAUSTED, charging nothing, when an account would go over; the message
  // names the budget, what is left and when it renews.
  absl::StatusOr<uint64_t> Charge(const Spend& spend, int64_t now_unix);

  // Charges what an audit entry of an earlier run shows was charged, without checks.
  void Replay(const Spend& spend, int64_t at_unix);

  // The researcher's and the project's budgets as they stand.
  std::vector<v1::BudgetState> States(const std::string& researcher, const std::string& project,
                                      int64_t now_unix) const;

  // The region's budget and every project's, for the region's operator.
  std::vector<v1::BudgetState> RegionStates(int64_t now_unix) const;

  // The start of the oldest window still open: audit entries from here on are replayed.
  int64_t OldestOpenWindowStart(int64_t now_unix) const;

  const PrivacyBudgets& budgets() const { return budgets_; }

 private:
  struct Account {
    int64_t window = -1;
    uint64_t spent = 0;
  };
  struct Limit {
    std::string name;
    uint64_t micros;
    uint32_t period_days;
  };
  std::vector<std::pair<Account*, Limit>> AccountsFor(const Spend& spend);  // REQUIRES: mu_
  static int64_t WindowOf(int64_t unix, uint32_t period_days);
  static v1::BudgetState StateOf(const std::string& name, const Account* account, uint64_t limit,
                                 uint32_t period_days, int64_t now_unix);

  PrivacyBudgets budgets_;
  std::map<std::string, const Project*> project_of_;  // researcher name -> project
  std::map<std::string, const Project*> projects_;    // id -> project
  mutable std::mutex mu_;
  std::map<std::string, Account> researchers_;  // guarded by mu_
  std::map<std::string, Account> project_accounts_;  // guarded by mu_
  Account region_;                                    // guarded by mu_
  std::set<std::string> released_;                    // guarded by mu_
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_PRIVACY_BUDGET_H_
