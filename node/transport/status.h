// The one place where absl::Status and grpc::Status meet (both use the canonical codes).
#ifndef PMDB_NODE_TRANSPORT_STATUS_H_
#define PMDB_NODE_TRANSPORT_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pmdb::transport {

grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_STATUS_H_
