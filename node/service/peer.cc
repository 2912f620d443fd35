#include "node/service/peer.h"

#include "security/tls.h"

namespace pmdb::service {

absl::StatusOr<security::Identity> AuthorizePeer(const grpc::ServerContextBase& context,
                                                 security::Method method,
                                                 const security::Server& here,
                                                 v1::AuditEntry* entry) {
  auto auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("no TLS peer");
  auto peer = security::PeerIdentity(*auth);
  if (!peer.ok()) return peer.status();
  entry->set_caller(peer->uri);
  entry->set_role(security::RoleName(peer->role));
  absl::Status s = security::Authorize(*peer, method, here);
  if (!s.ok()) return s;
  return peer;
}

}  // namespace pmdb::service
