// The region's sharing policy: what it lets leave for which end user. It decides whether the
// region takes part, which result kinds and criteria it answers for each role, and how many
// questions a researcher and how many similar-case searches a clinician have per UTC day. The
// rules come from the node's configuration ([sharing.*], [disclosure]); the role x method table
// in security/policy.h has already said whether the method may be called at all.
//
// Researchers must belong to one of the region's approved projects; every new release is
// charged to the researcher's, the project's and the region's privacy budgets
// (security/privacy_budget.h).
//
// Thread-safe: the budgets are guarded inside security::QueryBudget, security::DailyLimit and
// security::PrivacyLedger.
#ifndef PMDB_NODE_CORE_SHARING_H_
#define PMDB_NODE_CORE_SHARING_H_

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "node/base/metrics.h"
#include "node/call/caller.h"
#include "node/core/settings.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/audit.pb.h"
#include "pmdb/v1/query.pb.h"
#include "security/disclosure.h"

namespace pmdb::core {

class SharingPolicy {
 public:
  explicit SharingPolicy(const NodeSettings& settings);

  // Counts refused releases there (pmdb_budget_refusals_total); it must outlive the policy.
  void set_metrics(metrics::Registry* registry) { metrics_ = registry; }

  // An aggregate question of `kind` ("count", "breakdown", "frequency"): PERMISSION_DENIED
  // naming what the region does not share, INVALID_ARGUMENT for a question without criteria,
  // RESOURCE_EXHAUSTED when the user's budget is used up. An answered question is charged on
  // `canonical` (query::CanonicalText of it), so rewriting a question does not make it new.
  absl::Status CheckAggregate(const call::Caller& caller, std::string_view kind,
                              const v1::Criterion& criterion, const std::string& canonical,
                              int64_t now_unix);

  // The project that pays for a researcher's questions; PERMISSION_DENIED outside every
  // project of the region.
  absl::StatusOr<std::string> ProjectFor(const call::Caller& caller) const;

  // Charges a release of `micros` to the researcher, the project and the region; returns what
  // it cost (0 for a release made before) or RESOURCE_EXHAUSTED naming the budget.
  absl::StatusOr<uint64_t> ChargeRelease(const call::Caller& caller, const std::string& project,
                                         const std::string& fingerprint, uint64_t micros,
                                         int64_t now_unix);

  // What ChargeRelease would return (the price, or the refusal), charging nothing.
  absl::StatusOr<uint64_t> PriceRelease(const call::Caller& caller, const std::string& project,
                                        const std::string& fingerprint, uint64_t micros,
                                        int64_t now_unix) const;

  // Takes back a charge whose answer never left (its audit entry could not be written).
  void RefundRelease(const std::string& researcher, const std::string& project,
                     const std::string& fingerprint, uint64_t micros, int64_t at_unix);

  // The caller's budgets as they stand, for an answer's label.
  std::vector<v1::BudgetState> Budgets(const call::Caller& caller, const std::string& project,
                                       int64_t now_unix) const;

  // The region's and every project's budget, for the operator's status.
  std::vector<v1::BudgetState> RegionBudgets(int64_t now_unix) const {
    return ledger_.RegionStates(now_unix);
  }

  // Where the audit entries to give to Recharge start: a year back (the longest window).
  int64_t RechargeFrom(int64_t now_unix) const;

  // A clinician's similar-case search; charged against [sharing.clinician] daily_searches.
  absl::Status CheckSimilar(const call::Caller& caller, int64_t now_unix);

  // Whether `ordinal` may still be returned to the clinician (fewer than per_person_matches
  // times in the last per_person_days), and the record of what was returned.
  bool MayReturn(const std::string& clinician, uint32_t ordinal, int64_t now_unix) const;
  void Returned(const std::string& clinician, const std::vector<uint32_t>& ordinals,
                int64_t at_unix);
  // Every ordinal that may not be returned to the clinician now (MayReturn false), sorted.
  std::vector<uint32_t> NotReturnable(const std::string& clinician, int64_t now_unix) const;

  // A clinician's contact request (or its status): the region must share similar cases.
  absl::Status CheckContact(const call::Caller& caller) const;

  // What the user's role is offered, for RegionService.Info.
  void Describe(const call::Caller& caller, v1::RegionInfo* info) const;

  // Charges again what the audit entries since RechargeFrom show was answered and released,
  // so a restart resets nothing.
  void Recharge(const std::vector<v1::AuditEntry>& entries, int64_t now_unix);

 private:
  // The user's role's sharing entry, or PERMISSION_DENIED when the region shares nothing.
  absl::StatusOr<const Sharing*> SharedWith(const call::Caller& caller) const;

  const NodeSettings& settings_;
  std::atomic<metrics::Registry*> metrics_{nullptr};
  security::QueryBudget budget_;
  security::DailyLimit searches_;  // similar-case searches per clinician
  security::PrivacyLedger ledger_;
  mutable std::mutex returned_mu_;
  // clinician -> person -> the times they were returned, oldest first
  std::map<std::string, std::map<uint32_t, std::deque<int64_t>>> returned_
      ABSL_GUARDED_BY(returned_mu_);
};

// Purpose whose consent applies to a role's questions: care for clinicians, research otherwise.
v1::Purpose PurposeOf(security::Role role);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SHARING_H_
