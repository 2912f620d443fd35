// Configuration of a regional node and of the national hub, read from TOML.
//
// Every key is documented in deploy/node.example.toml and deploy/hub.example.toml. Unknown keys
// are errors (a misspelt security setting must not be silently ignored). Relative paths are
// taken relative to the configuration file's directory.
#ifndef PMDB_NODE_SERVER_CONFIG_H_
#define PMDB_NODE_SERVER_CONFIG_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/core/settings.h"
#include "node/transport/connection_gate.h"
#include "query/limits.h"
#include "security/disclosure.h"
#include "security/peer_check.h"

namespace pmdb::server {

// [https] (the hub): the standard HTTP APIs (GA4GH Beacon v2, Matchmaker Exchange) over mutual
// TLS, with the same certificates as the gRPC port (node/transport/https_server.h). Absent
// `listen`: no HTTPS.
struct HttpsConfig {
  std::string listen;
  uint32_t max_body_kb = 256;
  uint32_t read_timeout_ms = 10000;
  uint32_t max_connections = 256;
  uint32_t max_connections_per_address = 32;
  std::vector<std::string> cors_origins;  // browser origins allowed to call; none by default
};

// [beacon] (the hub): how the Beacon describes itself (/info, /service-info), and the
// vocabularies its filtering terms list.
struct BeaconConfig {
  std::string id = "se.pmdb.hub";  // reverse domain
  std::string name = "pmdb national beacon";
  std::string organization = "pmdb";
  std::string contact;  // "mailto:..." shown to users
  std::string url;      // the organization's web page (service-info); default the API's URL
  std::string environment = "prod";  // "prod", "test", "dev" or "staging"
  std::string hpo;                   // the HPO (OBO) whose terms /filtering_terms lists; optional
  std::string icd10;                 // an ICD-10 code list (vocab/code_list.h); optional
  // Sent with every Matchmaker Exchange answer (/mme/match).
  std::string disclaimer =
      "Matches are cases of the regions' clinical records with consent to care, each named by "
      "an expiring reference only its region can open; contact goes through the owning "
      "region's contact point, for the care of the patient asked about.";
};

// [public] (a node, off by default): the anonymous public tier's listener and its limits; the
// mechanism and budget are core::PublicTier (settings.public_tier).
struct PublicHttpsConfig {
  std::string listen;  // absent: no public tier
  // The certificate and key the public tier serves (one a public client trusts, from a public
  // CA); the node's own [tls] certificate when absent.
  std::string cert;
  std::string key;
  uint32_t requests_per_minute = 30;  // per client address
  uint32_t max_connections = 256;
  uint32_t max_connections_per_address = 8;
};

// [shards] (a node, off unless `etcd` is given): the region's data is on shards (node/shard),
// found through the shard map in etcd; the node's own store keeps its audit log, keys and
// contact requests.
struct ShardsConfig {
  std::string etcd;  // "https://HOST:2379" (mutual TLS with the node's [tls] files) or http://
  uint32_t deadline_ms = 10000;  // for all shards' answers to one question
  uint32_t refresh_ms = 2000;    // how often the shard map is re-read
  // How long a starting node waits for another node's hold on the region (the leader key in
  // etcd) to lapse before it gives up: a crashed node's lease lapses within 6 s.
  uint32_t leader_wait_ms = 15000;
};

// pmdb shard serve (flags, no file): one shard of a sharded region.
struct ShardServeConfig {
  std::string region;
  std::string name;  // its entry in the shard map
  std::string listen = "127.0.0.1:0";
  std::string advertise;  // HOST:PORT the node reaches it at; default: listen's
  std::string db;
  std::string etcd;                      // as [shards] etcd
  bool join = false;                     // add itself to the map (a new range) when absent
  uint64_t size = uint64_t{16} * 65536;  // the range a joining shard takes
  security::TlsFiles tls;                // the region's node identity
  uint32_t min_free_mb = 64;
  std::string metrics_listen;
  std::string log_format = "json";
  transport::ConnectionLimits limits;
};

struct NodeConfig {
  std::string listen = "127.0.0.1:0";
  std::string db;
  uint32_t min_free_mb = 64;  // writes are refused below this much free disk
  security::TlsFiles tls;
  transport::ConnectionLimits limits;
  query::QueryLimits question_limits;  // [limits] max_question_bytes, max_nesting, max_criteria
  uint32_t max_message_mb = 64;        // [limits]: the largest request (ingest chunks, opt-outs)
  std::string metrics_listen;        // [metrics] listen: metrics and probes over HTTP; "" for none
  std::string log_format = "json";   // [log] format: "json", "text" or "off" (node/base/log.h)
  bool accept_audit_damage = false;  // pmdb node --accept-audit-damage, never from the file
  core::NodeSettings settings;  // region, sharing, disclosure (federation: from the certificate)
  PublicHttpsConfig public_https;
  BeaconConfig beacon;  // how the public tier's Beacon describes itself
  // [https]: the operators' web page and pmdb's JSON admin calls, over mutual TLS with the
  // node's certificates (operators of this region only); off unless `listen` is given.
  HttpsConfig https;
  ShardsConfig shards;
};

struct RegionEndpoint {
  std::string id;
  std::string address;
};

struct HubConfig {
  std::string listen = "127.0.0.1:0";
  std::string db;  // the hub's own store: its audit log
  uint32_t min_free_mb = 64;
  security::TlsFiles tls;
  int deadline_ms = 2000;
  int witness_interval_s = 30;  // how often every region's audit head is checked (witness.h)
  transport::ConnectionLimits limits;
  query::QueryLimits question_limits;  // [limits]
  uint32_t max_message_mb = 4;         // [limits]: the largest request
  std::string metrics_listen;          // [metrics] listen
  std::string log_format = "json";     // [log] format
  HttpsConfig https;
  BeaconConfig beacon;
  bool accept_audit_damage = false;              // pmdb hub --accept-audit-damage
  std::vector<std::string> accept_region_audit;  // pmdb hub --accept-region-audit REGION
  std::vector<RegionEndpoint> regions;
  security::DisclosureRules disclosure;
  bool national = true;  // [hub] national: national totals by secure aggregation (hub.h)
};

absl::StatusOr<NodeConfig> LoadNodeConfig(const std::string& path);
absl::StatusOr<HubConfig> LoadHubConfig(const std::string& path);

}  // namespace pmdb::server

#endif  // PMDB_NODE_SERVER_CONFIG_H_
