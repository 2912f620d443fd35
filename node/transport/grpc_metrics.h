// gRPC server metrics under the names existing dashboards use (those of go-grpc-prometheus and
// grpc-java's Prometheus integration): grpc_server_started_total, grpc_server_handled_total and
// grpc_server_handling_seconds, labelled grpc_type, grpc_service, grpc_method (and grpc_code),
// recorded by a server interceptor so that every service, the standard ones included, counts.
// The same interceptor turns gRPC's bare UNIMPLEMENTED for a request it could not parse (of a
// method the server has) into INVALID_ARGUMENT saying so. And gRPC's own log lines are routed
// through pmdb's structured log.
#ifndef PMDB_NODE_TRANSPORT_GRPC_METRICS_H_
#define PMDB_NODE_TRANSPORT_GRPC_METRICS_H_

#include <grpcpp/server_builder.h>

#include "node/base/metrics.h"

namespace pmdb::transport {

// Describes the metrics in `registry` and adds the interceptor to `builder`; the registry must
// outlive the server.
void AddGrpcMetrics(metrics::Registry* registry, grpc::ServerBuilder& builder);

// Sends gRPC's own log messages through pmdb's structured log (node/base/log.h) as events
// "grpc", so that an operator's log holds one format. Takes effect for the whole process.
void RouteGrpcLogs();

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_GRPC_METRICS_H_
