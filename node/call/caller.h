// Who is calling. A transport (gRPC today, HTTPS later) reports what it verified about the
// caller as Credentials: the TLS peer's identity and, on calls from the hub, the end user it
// forwards. Authorize turns them into the Caller the node's core and the hub work with, checked
// against the role x method table (security/policy.h) wherever the call arrived.
#ifndef PMDB_NODE_CALL_CALLER_H_
#define PMDB_NODE_CALL_CALLER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "pmdb/v1/audit.pb.h"
#include "security/identity.h"
#include "security/policy.h"

namespace pmdb::call {

struct Credentials {
  // The TLS peer's identity as the transport verified it in the handshake, or why there is none.
  absl::StatusOr<security::Identity> peer = absl::UnauthenticatedError("no TLS peer");
  // The end user's identity URI that came with the call (security::kOnBehalfOfKey). Only a call
  // from the hub to a node may carry one; elsewhere it is ignored.
  std::optional<std::string> on_behalf_of;
};

struct Caller {
  security::Identity peer;  // who holds the connection
  security::Identity user;  // who asks: the peer, or the end user the hub forwards
};

// The caller, authorized for `method` at `here`. Fills entry.caller and .role (and .via for an
// end user forwarded by the hub) whether or not the call is let in, so refusals are audited
// with the identity that was refused.
absl::StatusOr<Caller> Authorize(const Credentials& credentials, security::Method method,
                                 const security::Server& here, v1::AuditEntry* entry);

}  // namespace pmdb::call

#endif  // PMDB_NODE_CALL_CALLER_H_
