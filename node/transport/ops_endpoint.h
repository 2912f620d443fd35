// The operations endpoint: plain HTTP on a configured local address, for the machines that
// watch a node or the hub, which hold no client certificate:
//
//   GET /metrics   the Prometheus text format (node/base/metrics.h)
//   GET /livez     200 while the process serves HTTP at all (liveness; /healthz is the same)
//   GET /readyz    200 "ready", or 503 with one line per reason it cannot take requests now
//                  (out of descriptors, audit log not writable, disk below its reserve)
//
// Nothing here carries patient data or a question; it is still meant for a loopback or
// management-network address, not the federation's port (docs/operations.md). Each connection
// gets one request of at most 8 KiB of headers within 5 s; at most 32 at once.
#ifndef PMDB_NODE_TRANSPORT_OPS_ENDPOINT_H_
#define PMDB_NODE_TRANSPORT_OPS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/base/metrics.h"

namespace pmdb::transport {

struct OpsHandlers {
  metrics::Registry* registry = nullptr;
  // Why the server is not ready; empty when it is.
  std::function<std::vector<std::string>()> not_ready;
};

class OpsEndpoint {
 public:
  // Binds `listen` ("host:port", port 0 picks one) and serves on its own thread.
  static absl::StatusOr<std::unique_ptr<OpsEndpoint>> Start(const std::string& listen,
                                                            OpsHandlers handlers);
  ~OpsEndpoint();  // stops and waits for the thread
  int port() const;

 private:
  struct Impl;
  explicit OpsEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_OPS_ENDPOINT_H_
