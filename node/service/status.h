// The one place where absl::Status and grpc::Status meet.
#ifndef PMDB_NODE_SERVICE_STATUS_H_
#define PMDB_NODE_SERVICE_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pmdb::service {

grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_STATUS_H_
