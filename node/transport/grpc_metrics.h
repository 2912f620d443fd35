// gRPC server metrics under the names existing dashboards use (those of go-grpc-prometheus and
// grpc-java's Prometheus integration): grpc_server_started_total, grpc_server_handled_total and
// grpc_server_handling_seconds, labelled grpc_type, grpc_service, grpc_method (and grpc_code),
// recorded by a server interceptor so that every service, the standard ones included, counts.
#ifndef PMDB_NODE_TRANSPORT_GRPC_METRICS_H_
#define PMDB_NODE_TRANSPORT_GRPC_METRICS_H_

#include <grpcpp/server_builder.h>

#include "node/base/metrics.h"

namespace pmdb::transport {

// Describes the metrics in `registry` and adds the interceptor to `builder`; the registry must
// outlive the server.
void AddGrpcMetrics(metrics::Registry* registry, grpc::ServerBuilder& builder);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_GRPC_METRICS_H_
