// The first step of every gRPC handler on a node and on the hub: what the transport verified
// about the caller, as the core's plain call::Credentials (the TLS peer's identity and the end
// user the hub forwards in the pmdb-on-behalf-of metadata entry).
#ifndef PMDB_NODE_TRANSPORT_PEER_H_
#define PMDB_NODE_TRANSPORT_PEER_H_

#include <grpcpp/server_context.h>

#include "node/call/caller.h"

namespace pmdb::transport {

call::Credentials CredentialsOf(const grpc::ServerContextBase& context);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_PEER_H_
