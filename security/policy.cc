#include "security/policy.h"

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

constexpr unsigned Bit(Role r) { return 1u << static_cast<unsigned>(r); }

struct Row {
  Method method;
  const char* name;
  unsigned roles;  // who may call it
};

// The table. A method missing here is denied to everyone.
constexpr Row kTable[] = {
    {Method::kRegionInfo, "RegionService/Info", Bit(Role::kHub)},
    {Method::kRegionCount, "RegionService/Count", Bit(Role::kHub)},
    {Method::kRegionBreakdown, "RegionService/Breakdown", Bit(Role::kHub)},
    {Method::kRegionFrequency, "RegionService/Frequency", Bit(Role::kHub)},
    {Method::kRegionCatalogue, "RegionService/Catalogue", Bit(Role::kHub)},
    {Method::kRegionNationalShare, "RegionService/NationalShare", Bit(Role::kHub)},
    {Method::kRegionSimilarCases, "RegionService/SimilarCases", Bit(Role::kHub)},
    {Method::kRegionRequestContact, "RegionService/RequestContact", Bit(Role::kHub)},
    {Method::kRegionContactStatus, "RegionService/ContactStatus", Bit(Role::kHub)},
    {Method::kRegionAuditHead, "RegionService/AuditHead", Bit(Role::kHub)},
    {Method::kFederationInfo, "FederationService/Info",
     Bit(Role::kResearcher) | Bit(Role::kClinician)},
    {Method::kFederationCount, "FederationService/Count", Bit(Role::kResearcher)},
    {Method::kFederationBreakdown, "FederationService/Breakdown", Bit(Role::kResearcher)},
    {Method::kFederationFrequency, "FederationService/Frequency", Bit(Role::kResearcher)},
    {Method::kFederationCatalogue, "FederationService/Catalogue", Bit(Role::kResearcher)},
    {Method::kFederationSimilarCases, "FederationService/SimilarCases", Bit(Role::kClinician)},
    {Method::kFederationRequestContact, "FederationService/RequestContact", Bit(Role::kClinician)},
    {Method::kFederationContactStatus, "FederationService/ContactStatus", Bit(Role::kClinician)},
    {Method::kAdminIngest, "AdminService/Ingest", Bit(Role::kOperator)},
    {Method::kAdminConsent, "AdminService/Consent", Bit(Role::kOperator)},
    {Method::kAdminAuditList, "AdminService/AuditList", Bit(Role::kOperator)},
    {Method::kAdminStatus, "AdminService/Status", Bit(Role::kOperator)},
    {Method::kAdminQuery, "AdminService/Query", Bit(Role::kOperator)},
    {Method::kAdminContactList, "AdminService/ContactList", Bit(Role::kOperator)},
    {Method::kAdminContactAnswer, "AdminService/ContactAnswer", Bit(Role::kOperator)},
    {Method::kAdminSimilarCases, "AdminService/SimilarCases", Bit(Role::kOperator)},
    {Method::kAdminBackup, "AdminService/Backup", Bit(Role::kOperator)},
    {Method::kPublicExists, "PublicBeacon/Exists", 0},
};

const Row* Find(Method m) {
  for (const Row& row : kTable) {
    if (row.method == m) return &row;
  }
  return nullptr;
}

// "an operator", "a researcher".
std::string WithArticle(const std::string& noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return StrCat(vowel ? "an " : "a ", noun);
}

bool IsAdmin(Method m) { return MethodName(m).starts_with("AdminService/"); }
bool IsRegion(Method m) { return MethodName(m).starts_with("RegionService/"); }

// The FederationService row that corresponds to a RegionService method.
Method FederationTwin(Method m) {
  switch (m) {
    case Method::kRegionInfo:
      return Method::kFederationInfo;
    case Method::kRegionCount:
      return Method::kFederationCount;
    case Method::kRegionBreakdown:
      return Method::kFederationBreakdown;
    case Method::kRegionFrequency:
      return Method::kFederationFrequency;
    case Method::kRegionCatalogue:
      return Method::kFederationCatalogue;
    case Method::kRegionNationalShare:  // counts, breakdowns and frequencies alike: researchers
      return Method::kFederationCount;
    case Method::kRegionSimilarCases:
      return Method::kFederationSimilarCases;
    case Method::kRegionRequestContact:
      return Method::kFederationRequestContact;
    case Method::kRegionContactStatus:
      return Method::kFederationContactStatus;
    default:
      return m;
  }
}

}  // namespace

std::string MethodName(Method m) {
  const Row* row = Find(m);
  return row != nullptr ? row->name : "unknown";
}

absl::Status Authorize(const Identity& peer, Method method, const Server& server) {
  const Row* row = Find(method);
  if (peer.federation != server.federation) {
    return absl::PermissionDeniedError(
        StrCat(peer.uri, " is not a member of federation ", server.federation));
  }
  if (row == nullptr || (row->roles & Bit(peer.role)) == 0) {
    return absl::PermissionDeniedError(
        StrCat(WithArticle(RoleName(peer.role)), " may not call ", MethodName(method)));
  }
  bool hub_method = MethodName(method).starts_with("FederationService/");
  if (hub_method != server.is_hub) {
    return absl::PermissionDeniedError(StrCat(MethodName(method), " is not served here"));
  }
  if (IsAdmin(method) && peer.region != server.region) {
    return absl::PermissionDeniedError(StrCat("an operator of region ", peer.region,
                                              " may not administer region ", server.region));
  }
  return absl::OkStatus();
}

absl::Status AuthorizeEndUser(const Identity& user, Method method, const Server& server) {
  if (!IsRegion(method)) return absl::InternalError("AuthorizeEndUser is for RegionService");
  Server hub = server;
  hub.is_hub = true;
  return Authorize(user, FederationTwin(method), hub);
}

}  // namespace pmdb::security
