// A six-region federation for integration tests: a real CA and certificates, a small synthetic
// cohort per region in a real store, six nodes and a hub serving real gRPC over mutual TLS on
// 127.0.0.1 with ports picked by the kernel, and clients holding the certificates of the
// people involved.
#ifndef PMDB_TESTS_INTEGRATION_FEDERATION_FIXTURE_H_
#define PMDB_TESTS_INTEGRATION_FEDERATION_FIXTURE_H_

#include <grpcpp/channel.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/server/config.h"
#include "node/server/server.h"
#include "node/transport/tls.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "pmdb/v1/region.grpc.pb.h"
#include "tests/test_util.h"

namespace pmdb::testing {

inline const std::vector<std::string>& SixRegions() {
  static const std::vector<std::string> regions = {"norr",   "mellan", "stockholm-gotland",
                                                   "sydost", "vast",   "syd"};
  return regions;
}

inline constexpr char kFederation[] = "test-fed";

// A pmdb child process (pmdb node / pmdb hub) whose first line of output names its port.
class ChildProcess {
 public:
  // `open_files` > 0: the child's open-files limit (soft and hard).
  // `stderr_path`: where the child's standard error goes (inherited when empty).
  explicit ChildProcess(const std::vector<std::string>& args, uint64_t open_files = 0,
                        const std::string& stderr_path = "");
  ~ChildProcess();
  int port() const { return port_; }
  void Signal(int sig);
  void Kill();

 private:
  int pid_ = -1;
  int port_ = 0;
  int out_ = -1;  // the child's standard output, kept open so that later lines do not fail
};

// An HTTPS answer as curl (the peer tool a user would use) got it.
struct HttpsReply {
  int status = 0;  // 0: no HTTP answer at all (the TLS handshake failed)
  std::string body;
  std::string headers;
  int curl_exit = 0;  // curl's own exit code (non-zero: no answer, e.g. a refused handshake)
};

// `method` `url` (HEAD: headers only) with curl, trusting `ca`, holding PREFIX.crt/.key when
// `cert_prefix` is not empty, sending `body` (as application/json unless `headers` name a
// Content-Type).
HttpsReply CurlHttps(const std::string& method, const std::string& url, const std::string& ca,
                     const std::string& cert_prefix, const std::string& body = "",
                     const std::vector<std::string>& headers = {});

class Federation {
 public:
  // Creates the CA, the certificates and one store per region (`individuals` each, genotyped
  // at `variants` sites that every region shares).
  explicit Federation(int individuals = 200, int variants = 40);
  ~Federation();

  // Issues PREFIX.key/.crt for an identity path under spiffe://test-fed/.
  std::string Issue(const std::string& path, const std::string& prefix, bool server = false);
  security::TlsFiles Files(const std::string& prefix) const;

  // Node config for `region`, editable before StartNodes.
  server::NodeConfig& node_config(const std::string& region) { return node_configs_[region]; }
  // Writes a configuration for running `region`'s node as a process of its own (ChildProcess):
  // its [node] table (listening on `port`, 0 for any), its [tls] files, then `extra` (more
  // tables, TOML). Returns the file's path.
  std::string ChildNodeConfig(const std::string& region, const std::string& extra, int port = 0);
  void StartNodes();
  // `tweak` edits the hub's configuration before it starts.
  void StartHub(int deadline_ms = 2000,
                const std::map<std::string, std::string>& extra_regions = {},
                const std::function<void(server::HubConfig&)>& tweak = {});
  void StopHub() { hub_.reset(); }
  void StopNode(const std::string& region);
  // Starts (again) one node with its config; it listens on a new port.
  void StartNode(const std::string& region);
  int node_port(const std::string& region) const { return nodes_.at(region)->port(); }
  int hub_port() const { return hub_->port(); }
  int node_ops_port(const std::string& region) const { return nodes_.at(region)->ops_port(); }
  int hub_ops_port() const { return hub_->ops_port(); }
  int hub_https_port() const { return hub_->https_port(); }
  // The public tier's port ([public] listen), 0 without one.
  int node_public_port(const std::string& region) const { return nodes_.at(region)->https_port(); }
  // The operators' web page's port ([https] listen at the node), 0 without one.
  int node_page_port(const std::string& region) const { return nodes_.at(region)->page_port(); }

  // A channel to `port` as `prefix`'s certificate, expecting the server `server_path`.
  std::shared_ptr<grpc::Channel> Channel(const std::string& prefix, int port,
                                         const std::string& server_path) const;
  std::unique_ptr<v1::FederationService::Stub> Hub(const std::string& prefix = "anna") const;
  std::unique_ptr<v1::AdminService::Stub> Admin(const std::string& prefix,
                                                const std::string& region) const;
  std::unique_ptr<v1::RegionService::Stub> Region(const std::string& prefix,
                                                  const std::string& region) const;

  // Exact counts in each region's store, computed before the nodes start.
  uint64_t ExactCount(const std::string& region, const std::string& expr) const;

  const TempDir& dir() const { return dir_; }
  std::string ca_dir() const { return dir_.Path("ca"); }
  std::string db(const std::string& region) const { return dir_.Path(region + ".db"); }

 private:
  TempDir dir_;
  std::map<std::string, server::NodeConfig> node_configs_;
  std::map<std::string, std::unique_ptr<server::Server>> nodes_;
  std::unique_ptr<server::Server> hub_;
};

}  // namespace pmdb::testing

#endif  // PMDB_TESTS_INTEGRATION_FEDERATION_FIXTURE_H_
