// ShardServiceImpl: what a shard process serves (proto/pmdb/v1/shard.proto) — exact answers from
// its own store to its region's node, and to no one else: the caller's certificate must be the
// node of the shard's region (mutual TLS, node/transport/tls.h). The node checks every question
// before it asks; the shard evaluates it with the node's engine options and says which question
// it evaluated and at which data version.
//
// Thread-safe; the store must outlive the service.
#ifndef PMDB_NODE_SHARD_SHARD_SERVICE_H_
#define PMDB_NODE_SHARD_SHARD_SERVICE_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/shard.grpc.pb.h"
#include "query/engine.h"
#include "query/similarity.h"

namespace pmdb::shard {

// The engine options a request names, and back.
query::EngineOptions OptionsOf(const v1::EngineMode& mode);
v1::EngineMode ModeOf(const query::EngineOptions& options);

class ShardServiceImpl final : public v1::ShardService::CallbackService {
 public:
  // `region`: the only region whose node may call.
  ShardServiceImpl(std::string region, storage::Store* store);
  ~ShardServiceImpl() override;

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeShardRequest* request,
                                     v1::ShardDescription* reply) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::ShardCountRequest* request,
                                  v1::ShardCount* reply) override;
  grpc::ServerUnaryReactor* Breakdown(grpc::CallbackServerContext* context,
                                      const v1::ShardBreakdownRequest* request,
                                      v1::ShardBreakdown* reply) override;
  grpc::ServerUnaryReactor* Frequency(grpc::CallbackServerContext* context,
                                      const v1::ShardFrequencyRequest* request,
                                      v1::ShardFrequency* reply) override;
  grpc::ServerUnaryReactor* Frequencies(grpc::CallbackServerContext* context,
                                        const v1::ShardFrequenciesRequest* request,
                                        v1::ShardFrequencies* reply) override;
  grpc::ServerUnaryReactor* TermCounts(grpc::CallbackServerContext* context,
                                       const v1::TermCountsRequest* request,
                                       v1::ShardTermCounts* reply) override;
  grpc::ServerUnaryReactor* Rank(grpc::CallbackServerContext* context,
                                 const v1::ShardRankRequest* request,
                                 v1::ShardRanking* reply) override;
  grpc::ServerUnaryReactor* Person(grpc::CallbackServerContext* context,
                                   const v1::ShardPersonRequest* request,
                                   v1::ShardPerson* reply) override;

 private:
  // The caller must be the region's node.
  absl::Status Allowed(const grpc::CallbackServerContext& context) const;
  // What every question starts with: the caller checked, one snapshot of the store (the one the
  // node expects), its data version, and the engine with the node's options.
  struct Reading {
    std::unique_ptr<storage::ReadView> view;
    std::string version;
    std::shared_ptr<const vocab::Catalog> catalog;
    query::Engine engine;
  };
  absl::StatusOr<Reading> Begin(const grpc::CallbackServerContext& context,
                                const v1::ShardExpect& expect, const v1::EngineMode& mode);
  // The catalog as of the view's data version (re-read when the store changed).
  absl::StatusOr<std::shared_ptr<const vocab::Catalog>> CatalogAt(const storage::ReadView& view,
                                                                  const std::string& version);
  // The shard's cases as of the reading's data version (re-indexed when the store changed).
  absl::StatusOr<std::shared_ptr<const query::CaseIndex>> CasesAt(const Reading& r);

 public:
  // Indexes the store's cases as they are now, on the service's own thread, so that the next
  // similar-case search does not wait for it (after a write, and at start).
  void WarmSoon();

 private:
  void Warm();
  // The region's information content over `cases` (kept while neither changes).
  absl::StatusOr<std::shared_ptr<const query::Weights>> WeightsOf(
      const Reading& r, const std::shared_ptr<const query::CaseIndex>& cases,
      const v1::ShardTermCounts& region);

  const std::string region_;
  storage::Store* store_;
  std::mutex mu_;
  std::shared_ptr<const vocab::Catalog> catalog_ ABSL_GUARDED_BY(mu_);
  std::string catalog_version_ ABSL_GUARDED_BY(mu_);
  std::mutex cases_mu_;  // one indexing at a time
  std::shared_ptr<const query::CaseIndex> cases_ ABSL_GUARDED_BY(cases_mu_);
  std::string cases_version_ ABSL_GUARDED_BY(cases_mu_);
  std::shared_ptr<const query::Weights> weights_ ABSL_GUARDED_BY(cases_mu_);
  std::shared_ptr<const query::CaseIndex> weights_cases_ ABSL_GUARDED_BY(cases_mu_);
  std::string weights_counts_ ABSL_GUARDED_BY(cases_mu_);  // the counts, serialized
  std::mutex warm_mu_;
  std::condition_variable warm_wake_;
  bool warm_wanted_ ABSL_GUARDED_BY(warm_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(warm_mu_) = false;
  std::thread warmer_;  // last: it uses the rest
};

// The region's operators' writes, forwarded by the node (ShardSet's core::ShardWrites): which
// subjects the shard holds, ingests into its store, opt-outs. Only the region's node may call.
class ShardAdminServiceImpl final : public v1::ShardAdminService::Service {
 public:
  // `leader(token)`: OK when the token a write carries (kLeaderMetadata) is the region's
  // leading node's (shard_map.h, CheckLeader); null: writes are not checked.
  using LeaderCheck = std::function<absl::Status(const std::string& token)>;
  // `written` runs after every ingest or opt-out that changed the store.
  ShardAdminServiceImpl(std::string region, storage::Store* store, LeaderCheck leader = nullptr,
                        std::function<void()> written = nullptr)
      : region_(std::move(region)),
        store_(store),
        leader_(std::move(leader)),
        written_(std::move(written)) {}

  grpc::Status Holds(grpc::ServerContext* context, const v1::ShardSubjectsRequest* request,
                     v1::ShardSubjectsReply* reply) override;
  grpc::Status Ingest(grpc::ServerContext* context, grpc::ServerReader<v1::IngestChunk>* reader,
                      v1::IngestReply* reply) override;
  grpc::Status OptOut(grpc::ServerContext* context, const v1::ConsentRequest* request,
                      v1::ConsentReply* reply) override;
  grpc::Status AdoptReferences(grpc::ServerContext* context, const v1::ShardReferences* request,
                               v1::ShardReferences* reply) override;

 private:
  // The caller must be the region's node, and for a write the one that leads the region.
  absl::Status Writer(const grpc::ServerContext& context) const;

  const std::string region_;
  storage::Store* store_;
  LeaderCheck leader_;
  std::function<void()> written_;
};

// The meta entries that name reference files (the HPO, gene tables, the ICD-10 list); datasets
// are not among them.
bool IsReferenceKey(std::string_view key);

// OK when the call's TLS peer is the node of `region`.
absl::Status NodeOfRegion(const grpc::ServerContextBase& context, const std::string& region);

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_SHARD_SERVICE_H_
