#include "security/identity.h"

#include <vector>

#include "absl/status/status.h"
#include "node/base/strings.h"

namespace pmdb::security {
namespace {

bool ValidPart(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Identity> ParseIdentity(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("identity '", uri, "' ", why,
               " (expected spiffe://FEDERATION/hub, .../region/ID/node, .../region/ID/shard, "
               ".../region/ID/operator/NAME, .../region/ID/clinician/NAME or "
               ".../researcher/NAME)"));
  };
  constexpr std::string_view kScheme = "spiffe://";
  if (!uri.starts_with(kScheme)) return bad("is not a spiffe:// URI");
  std::vector<std::string_view> parts = Split(uri.substr(kScheme.size()), '/');
  for (std::string_view p : parts) {
    if (!ValidPart(p)) return bad("has an empty or invalid part");
  }
  Identity id;
  id.uri = std::string(uri);
  id.federation = std::string(parts[0]);
  if (parts.size() == 2 && parts[1] == "hub") {
    id.role = Role::kHub;
  } else if (parts.size() == 3 && parts[1] == "researcher") {
    id.role = Role::kResearcher;
    id.name = std::string(parts[2]);
  } else if (parts.size() == 4 && parts[1] == "region" &&
             (parts[3] == "node" || parts[3] == "shard")) {
    id.role = parts[3] == "node" ? Role::kNode : Role::kShard;
    id.region = std::string(parts[2]);
  } else if (parts.size() == 5 && parts[1] == "region" &&
             (parts[3] == "operator" || parts[3] == "clinician")) {
    id.role = parts[3] == "operator" ? Role::kOperator : Role::kClinician;
    id.region = std::string(parts[2]);
    id.name = std::string(parts[4]);
  } else {
    return bad("has an unknown form");
  }
  return id;
}

std::string RoleName(Role role) {
  switch (role) {
    case Role::kHub:
      return "hub";
    case Role::kNode:
      return "node";
    case Role::kOperator:
      return "operator";
    case Role::kClinician:
      return "clinician";
    case Role::kResearcher:
      return "researcher";
    case Role::kShard:
      return "shard";
  }
  return "unknown";
}

}  // namespace pmdb::security
