// The region's sharing policy: what it lets leave for which end user. It decides whether the
// region takes part, which result kinds and criteria it answers for each role, and how many
// questions a researcher and how many similar-case searches a clinician have per UTC day. The
// rules come from the node's configuration ([sharing.*], [disclosure]); the role x method table
// in security/policy.h has already said whether the method may be called at all.
//
// Thread-safe: the budgets are guarded inside security::QueryBudget and security::DailyLimit.
#ifndef PMDB_NODE_CORE_SHARING_H_
#define PMDB_NODE_CORE_SHARING_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
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

  // An aggregate question of `kind` ("count", "breakdown", "frequency"): PERMISSION_DENIED
  // naming what the region does not share, INVALID_ARGUMENT for a question without criteria,
  // RESOURCE_EXHAUSTED when the user's budget is used up. An answered question is charged on
  // `canonical` (query::FormatCriterion of it), so reformatting a question does not make it new.
  absl::Status CheckAggregate(const call::Caller& caller, std::string_view kind,
                              const v1::Criterion& criterion, const std::string& canonical,
                              int64_t now_unix);

  // A clinician's similar-case search; charged against [sharing.clinician] daily_searches.
  absl::Status CheckSimilar(const call::Caller& caller, int64_t now_unix);

  // A clinician's contact request (or its status): the region must share similar cases.
  absl::Status CheckContact(const call::Caller& caller) const;

  // What the user's role is offered, for RegionService.Info.
  void Describe(const call::Caller& caller, v1::RegionInfo* info) const;

  // Charges again what today's audit entries show was answered, so a restart resets nothing.
  void Recharge(const std::vector<v1::AuditEntry>& today);

 private:
  // The user's role's sharing entry, or PERMISSION_DENIED when the region shares nothing.
  absl::StatusOr<const Sharing*> SharedWith(const call::Caller& caller) const;

  const NodeSettings& settings_;
  security::QueryBudget budget_;
  security::DailyLimit searches_;  // similar-case searches per clinician
};

// Purpose whose consent applies to a role's questions: care for clinicians, research otherwise.
v1::Purpose PurposeOf(security::Role role);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SHARING_H_
