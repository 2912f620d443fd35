// ShardSet: a sharded region's node asks its shards (shard_service.h) instead of reading its own
// store. Each question goes to every shard in the shard map (shard_map.h) at once; counts,
// breakdown cells and AC/AN add exactly, since every person is in exactly one shard's range. The
// node then applies the region's disclosure rules once, on the region's total (core::Releaser).
//
// A shard that is down, not a member, too slow or failing makes the whole answer fail with an
// error that names it: never a smaller count. The map is re-read from etcd every `refresh`; the
// shards' datasets and reference files are copied into the node's own store when they change so
// that the node checks questions against the same catalog a single store would have.
#ifndef PMDB_NODE_SHARD_SHARD_SET_H_
#define PMDB_NODE_SHARD_SHARD_SET_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "node/core/source.h"
#include "node/core/upload.h"
#include "node/shard/etcd.h"
#include "node/shard/shard_map.h"
#include "node/storage/store.h"
#include "pmdb/v1/shard.grpc.pb.h"
#include "security/peer_check.h"

namespace pmdb::shard {

struct ShardSetOptions {
  std::string region;
  std::string federation;
  EtcdOptions etcd;
  security::TlsFiles tls;  // the node's own: shards accept their region's node only
  std::chrono::milliseconds deadline{10000};  // per question, for all shards together
  std::chrono::milliseconds refresh{2000};
  // The node's hold on the region (shard_map.h): while it fails, every answer and write fails
  // with its reason, and writes carry its token. Null: no check (tools, tests of the set alone).
  std::shared_ptr<const Leadership> leadership;
};

class ShardSet final : public core::Sources, public core::ShardWrites {
 public:
  // Reads the shard map (an unreachable etcd is an error) and syncs the catalog once, then
  // re-reads both every `refresh` until destroyed. `reload` re-reads the node's catalog after
  // the shards' data meta was copied into `node_store`.
  static absl::StatusOr<std::shared_ptr<ShardSet>> Start(ShardSetOptions options,
                                                         storage::Store* node_store,
                                                         std::function<absl::Status()> reload);
  ~ShardSet() override;
  // Stops the refreshes (and their catalog reloads); the set still answers. Idempotent.
  void Stop();

  std::unique_ptr<core::Source> Open() const override;
  std::string Describe() const override;
  // The serving shards' people, summed; an error when any does not answer.
  std::optional<absl::StatusOr<core::PeopleCounts>> People() const override;
  bool remote() const override { return true; }
  // Asks every shard which holds the subject.
  absl::StatusOr<std::optional<uint32_t>> OrdinalOf(const std::string& subject) const override;
  // Asks the shard whose range holds `ordinal`.
  absl::StatusOr<std::optional<core::PersonRecord>> Person(uint32_t ordinal) const override;
  // Sums the shards' term counts, then has every shard rank its cases with the region's
  // information content, and merges their best.
  absl::StatusOr<core::RankedCases> RankCases(const v1::CaseQuery& question,
                                              const core::CaseSearch& search) const override;

  // The operators' writes (core::ShardWrites). An upload goes to the shard that holds the
  // people it names; new people go to the newest shard. An upload that names people on two
  // shards, or known people elsewhere than the newest shard together with new ones, is refused
  // (split it), so that a person is never given a second ordinal on another shard. Opt-outs go to
  // every shard and fail, naming the shard, unless every shard recorded them.
  absl::StatusOr<v1::IngestReply> Ingest(const core::Upload& upload) override;
  absl::StatusOr<v1::ConsentReply> OptOut(const v1::ConsentRequest& request) override;

  // Reads the map and membership now, connects to new shards, and copies the shards' data meta.
  absl::Status Refresh();

  // One shard as the node sees it.
  struct Shard {
    v1::ShardEntry entry;
    bool alive = false;
    std::shared_ptr<v1::ShardService::Stub> stub;
    std::shared_ptr<v1::ShardAdminService::Stub> admin;
    std::string problem;  // why it is not asked (its store is not the one the map names)
  };

 private:
  ShardSet(ShardSetOptions options, Etcd etcd, storage::Store* node_store,
           std::function<absl::Status()> reload)
      : options_(std::move(options)),
        etcd_(std::move(etcd)),
        node_store_(node_store),
        reload_(std::move(reload)) {}
  // Copies the shards' data meta into the node's store when it differs, and reloads the catalog
  // (again until that works).
  absl::Status SyncCatalog(const std::vector<v1::ShardDescription>& replies);
  void Run();

  const ShardSetOptions options_;
  const Etcd etcd_;
  storage::Store* node_store_;
  std::function<absl::Status()> reload_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const Shard>> shards_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  // The shards as of the last refresh, all of them answering and as the map names them; or why
  // not (this node does not lead the region now, a gap in the ranges, a shard's problem).
  absl::StatusOr<std::vector<std::shared_ptr<const Shard>>> Serving() const;
  // OK while this node leads the region (or nothing is checked).
  absl::Status Leading() const;
  // A context for a write to a shard: it carries the leader token.
  void Lead(grpc::ClientContext* context) const;
  absl::Status last_refresh_ ABSL_GUARDED_BY(mu_);
  uint64_t served_end_ ABSL_GUARDED_BY(mu_) = 0;  // as kept in the node's store
  std::atomic<bool> catalog_current_{false};      // refreshes run on the thread and after ingests
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable wake_;
  std::mutex refresh_mu_;  // one Refresh at a time
  std::mutex writes_mu_;   // one ingest or opt-out at a time
  std::thread thread_;
};

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_SHARD_SET_H_
