// Identities in the federation: the SPIFFE-style URI that is a certificate's single URI SAN.
//
//   spiffe://<federation>/hub                                the national hub
//   spiffe://<federation>/region/<region>/node               a regional node
//   spiffe://<federation>/region/<region>/operator/<name>    a region's operator
//   spiffe://<federation>/region/<region>/clinician/<name>   a clinician in a region
//   spiffe://<federation>/researcher/<name>                  a national researcher
#ifndef PMDB_SECURITY_IDENTITY_H_
#define PMDB_SECURITY_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::security {

enum class Role { kHub, kNode, kOperator, kClinician, kResearcher };

struct Identity {
  std::string uri;
  std::string federation;
  Role role = Role::kResearcher;
  std::string region;  // empty for the hub and researchers
  std::string name;    // empty for the hub and nodes

  // Hub and nodes serve TLS as well as call others; people only call.
  bool is_server() const { return role == Role::kHub || role == Role::kNode; }
};

// Parses and checks an identity URI. Names and ids are lower-case letters, digits, '-', '_' and
// '.', so an identity never needs escaping.
absl::StatusOr<Identity> ParseIdentity(std::string_view uri);

std::string RoleName(Role role);  // "hub", "node", "operator", "clinician", "researcher"

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_IDENTITY_H_
