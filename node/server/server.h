// Process lifecycle for a regional node and the national hub: open the store, build the TLS
// credentials, register the services (plus gRPC health checking and server reflection), listen.
#ifndef PMDB_NODE_SERVER_SERVER_H_
#define PMDB_NODE_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "node/server/config.h"

namespace pmdb::server {

class Server {
 public:
  virtual ~Server() = default;
  // The port actually bound (useful with port 0).
  virtual int port() const = 0;
  // The operations endpoint's port ([metrics] listen), 0 when there is none.
  virtual int ops_port() const = 0;
  // The HTTPS front end's port ([https] listen at the hub, [public] listen at a node), 0 when
  // there is none.
  virtual int https_port() const { return 0; }
  // A node's operators' web page ([https] listen at a node), 0 when there is none.
  virtual int page_port() const { return 0; }
  // Stops taking calls, lets running ones finish (up to `grace`), closes the store.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;
  virtual void Wait() = 0;
};

absl::StatusOr<std::unique_ptr<Server>> StartNode(const NodeConfig& config);
// A shard of a sharded region (pmdb shard serve): its store becomes the shard of its range in
// the region's shard map, it serves ShardService to the region's node, and keeps its membership
// in etcd alive while it runs.
absl::StatusOr<std::unique_ptr<Server>> StartShard(const ShardServeConfig& config);
absl::StatusOr<std::unique_ptr<Server>> StartHub(const HubConfig& config);

}  // namespace pmdb::server

#endif  // PMDB_NODE_SERVER_SERVER_H_
