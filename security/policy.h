// Authorization: one table of role x method, deny by default.
//
//   RegionService/*        the hub of this federation only (it forwards the end user)
//   FederationService/*    researchers: aggregates; clinicians: similar cases and contact
//                          requests; both: Info
//   AdminService/*         operators of the node's own region only
//
// The end user the hub forwards is checked again by the region: researchers may ask
// aggregates; the region's own sharing policy then narrows what it answers.
#ifndef PMDB_SECURITY_POLICY_H_
#define PMDB_SECURITY_POLICY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "security/identity.h"

namespace pmdb::security {

enum class Method {
  kRegionInfo,
  kRegionCount,
  kRegionBreakdown,
  kRegionFrequency,
  kRegionCatalogue,
  kRegionNationalShare,
  kRegionSimilarCases,
  kRegionRequestContact,
  kRegionContactStatus,
  kRegionAuditHead,
  kFederationInfo,
  kFederationCount,
  kFederationBreakdown,
  kFederationFrequency,
  kFederationCatalogue,
  kFederationSimilarCases,
  kFederationRequestContact,
  kFederationContactStatus,
  kAdminIngest,
  kAdminConsent,
  kAdminAuditList,
  kAdminStatus,
  kAdminQuery,
  kAdminContactList,
  kAdminContactAnswer,
  kAdminSimilarCases,
  kAdminBackup,
  kPublicExists,  // the public tier: no certificate, so no role; called by the node itself
};

std::string MethodName(Method m);  // "RegionService/Count", ...

// Where the call arrived: the hub, or the node of `region`.
struct Server {
  bool is_hub = false;
  std::string federation;
  std::string region;
};

// OK, or PERMISSION_DENIED naming the role and method. `peer` is the TLS peer.
absl::Status Authorize(const Identity& peer, Method method, const Server& server);

// For RegionService calls: the end user the hub acts for must be allowed to ask `method` of
// the federation (the same row of the table as if they had called the hub).
absl::Status AuthorizeEndUser(const Identity& user, Method method, const Server& server);

// The metadata key the hub uses to forward the end user's identity URI.
inline constexpr char kOnBehalfOfKey[] = "pmdb-on-behalf-of";

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_POLICY_H_
