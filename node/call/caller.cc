#include "node/call/caller.h"

namespace pmdb::call {

absl::StatusOr<Caller> Authorize(const Credentials& credentials, security::Method method,
                                 const security::Server& here, v1::AuditEntry* entry) {
  if (!credentials.peer.ok()) return credentials.peer.status();
  const security::Identity& peer = *credentials.peer;
  entry->set_caller(peer.uri);
  entry->set_role(security::RoleName(peer.role));
  absl::Status allowed = security::Authorize(peer, method, here);
  if (!allowed.ok()) return allowed;
  Caller caller{peer, peer};
  if (here.is_hub || peer.role != security::Role::kHub) return caller;
  // A node serves the hub on an end user's behalf: that user is who asks.
  if (!credentials.on_behalf_of.has_value()) {
    return absl::PermissionDeniedError("the hub did not say on whose behalf it asks");
  }
  auto user = security::ParseIdentity(*credentials.on_behalf_of);
  if (!user.ok()) return absl::PermissionDeniedError(std::string(user.status().message()));
  entry->set_caller(user->uri);
  entry->set_role(security::RoleName(user->role));
  entry->set_via(peer.uri);
  absl::Status s = security::AuthorizeEndUser(*user, method, here);
  if (!s.ok()) return s;
  caller.user = *user;
  return caller;
}

}  // namespace pmdb::call
