// Identities in the federation: the SPIFFE-style URI that is a certificate's single URI SAN.
//
//   spiffe://<federation>/hub                                the national hub
//   spiffe://<federation>/region/<region>/node               a regional node
//   spiffe://<federation>/region/<region>/shard              the shards of a sharded region's store
//   spiffe://<federation>/region/<region>/operator/<name>    a region's operator
//   spiffe://<federation>/region/<region>/clinician/<name>   a clinician in a region
//   spiffe://<federation>/researcher/<name>                  a national researcher
#ifndef PMDB_SECURITY_IDENTITY_H_
#define PMDB_SECURITY_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::security {

// A shard answers only its region's node, and is nobody to the hub or to other regions: a
// shard's machine holds no key the hub would take for the region.
enum class Role { kHub, kNode, kOperator, kClinician, kResearcher, kShard };

struct Identity {
  std::string uri;
  std::string federation;
  Role role = Role::kResearcher;
  std::string region;  // empty for the hub and researchers
  std::string name;    // empty for the hub, nodes and shards

  // Hub, nodes and shards serve TLS as well as call others; people only call.
  bool is_server() const {
    return role == Role::kHub || role == Role::kNode || role == Role::kShard;
  }
};

// Parses and checks an identity URI. Names and ids are lower-case letters, digits, '-', '_' and
// '.', so an identity never needs escaping.
absl::StatusOr<Identity> ParseIdentity(std::string_view uri);

std::string RoleName(Role role);  // "hub", "node", "operator", "clinician", "researcher"

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_IDENTITY_H_
