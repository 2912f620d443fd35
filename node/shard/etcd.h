// Etcd: a small client of etcd's v3 API through its JSON gateway (POST /v3/kv/range and the
// like), enough for a sharded region's shard map, its shards' membership leases and the node's
// shards' membership leases (shard_map.h). etcd is the consensus; pmdb keeps none of its own.
//
// Over https:// with the federation's TLS files (mutual TLS: etcd started with
// --client-cert-auth and the federation CA as --trusted-ca-file), or http:// on loopback for a
// test. One request per connection; every call (name resolution, connect, handshake, request
// and answer together) ends by its deadline. Thread-safe (no shared state but the configuration).
#ifndef PMDB_NODE_SHARD_ETCD_H_
#define PMDB_NODE_SHARD_ETCD_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "security/peer_check.h"

namespace pmdb::shard {

struct EtcdEntry {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct EtcdOptions {
  // "http://127.0.0.1:2379" or "https://etcd.region.example:2379".
  std::string endpoint;
  security::TlsFiles tls;  // https only: our certificate and the CA etcd's must chain to
  std::chrono::milliseconds timeout{3000};
};

class Etcd {
 public:
  // Checks the endpoint's form (and, for https, that the TLS files are given); connects lazily.
  static absl::StatusOr<Etcd> Connect(EtcdOptions options);

  // Every key starting with `prefix`, in key order.
  absl::StatusOr<std::vector<EtcdEntry>> List(const std::string& prefix) const;
  // `lease` 0: the key lives until deleted.
  absl::Status Put(const std::string& key, const std::string& value, int64_t lease = 0) const;
  // Writes `key` only when it holds `expected` (std::nullopt: only when it does not exist);
  // false when it held something else.
  absl::StatusOr<bool> PutIf(const std::string& key, const std::optional<std::string>& expected,
                             const std::string& value, int64_t lease = 0) const;
  absl::Status Delete(const std::string& key) const;
  // One transaction: when every key of `expect` holds its value (std::nullopt: does not exist),
  // writes `put` and deletes `remove`; false when any held something else.
  using Expect = std::pair<std::string, std::optional<std::string>>;
  struct Write {
    std::string key;
    std::string value;
    int64_t lease = 0;
  };
  absl::StatusOr<bool> Commit(const std::vector<Expect>& expect, const std::vector<Write>& put,
                              const std::vector<std::string>& remove) const;

  // A lease of `ttl_seconds`: keys written with it vanish when it is not kept alive.
  absl::StatusOr<int64_t> GrantLease(int64_t ttl_seconds) const;
  // Renews the lease; NOT_FOUND when it has expired.
  absl::Status KeepAlive(int64_t lease) const;
  absl::Status Revoke(int64_t lease) const;

  const std::string& endpoint() const { return options_.endpoint; }

 private:
  Etcd(EtcdOptions options, bool tls, std::string host, std::string port)
      : options_(std::move(options)), tls_(tls), host_(std::move(host)), port_(std::move(port)) {}
  // POSTs `body` (JSON) to `path` and returns the answer's body.
  absl::StatusOr<std::string> Post(const std::string& path, const std::string& body) const;

  EtcdOptions options_;
  bool tls_;
  std::string host_;
  std::string port_;
};

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_ETCD_H_
