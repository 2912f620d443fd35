// The last step of every callback handler: a call::Done that moves the core's answer into
// gRPC's reply message and finishes the call with the mapped status.
#ifndef PMDB_NODE_TRANSPORT_REACTOR_H_
#define PMDB_NODE_TRANSPORT_REACTOR_H_

#include <grpcpp/support/server_callback.h>

#include "node/call/finish.h"
#include "node/transport/status.h"

namespace pmdb::transport {

// REQUIRES: `reply` is the message gRPC gave the handler; it lives until the call finishes.
template <typename T>
call::Done<T> ReplyWith(grpc::ServerUnaryReactor* reactor, T* reply) {
  return [reactor, reply](absl::StatusOr<T> answer) {
    if (answer.ok()) *reply = std::move(*answer);
    reactor->Finish(ToGrpc(answer.status()));
  };
}

// The same for synchronous handlers.
template <typename T>
grpc::Status ReplyWith(absl::StatusOr<T> answer, T* reply) {
  if (answer.ok()) *reply = std::move(*answer);
  return ToGrpc(answer.status());
}

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_REACTOR_H_
