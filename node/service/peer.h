// The first step of every handler, on a node and on the hub: who is calling, and may they call
// this method here. The audit entry records the caller whether or not they are let in.
#ifndef PMDB_NODE_SERVICE_PEER_H_
#define PMDB_NODE_SERVICE_PEER_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "pmdb/v1/audit.pb.h"
#include "security/identity.h"
#include "security/policy.h"

namespace pmdb::service {

// The TLS peer's identity, authorized for `method` at `here`; fills entry.caller and .role.
absl::StatusOr<security::Identity> AuthorizePeer(const grpc::ServerContextBase& context,
                                                 security::Method method,
                                                 const security::Server& here,
                                                 v1::AuditEntry* entry);

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_PEER_H_
