// NodeCore: a regional node's answering logic, with no transport in it. gRPC handlers
// (node/transport) and any later front end hand it the caller's Credentials and a plain request
// message; it authorizes the caller (security/policy.h), applies the region's sharing policy
// (sharing.h) and budgets, answers from one store snapshot (releaser.h, similar.cc,
// contacts.h, admin.cc), audits, and hands back the answer or an absl::Status. Every call is
// audited, refused ones too, and nothing is handed back before its audit entry is durable.
//
// The methods live in files by concern: node_core.cc (lifecycle, catalog, authorization, the
// researchers' aggregates), similar.cc (the clinicians' similar cases and contact requests),
// admin.cc (the operators' calls).
//
// Thread-safe. The store, the audit log and the clock must outlive the core.
#ifndef PMDB_NODE_CORE_NODE_CORE_H_
#define PMDB_NODE_CORE_NODE_CORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "node/base/clock.h"
#include "node/base/metrics.h"
#include "node/base/pacer.h"
#include "node/call/caller.h"
#include "node/call/finish.h"
#include "node/core/contacts.h"
#include "node/core/settings.h"
#include "node/core/sharing.h"
#include "node/core/source.h"
#include "node/core/upload.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/admin.pb.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/audit.pb.h"
#include "pmdb/v1/national.pb.h"
#include "pmdb/v1/region.pb.h"
#include "pmdb/v1/similar.pb.h"
#include "query/engine.h"
#include "query/similarity.h"
#include "security/audit.h"
#include "security/disclosure.h"
#include "security/policy.h"
#include "security/secure_sum.h"

namespace pmdb::core {

using call::Credentials;
using call::Done;

class NodeCore {
 public:
  // The noise and case-reference keys are made once and kept in the store; today's questions
  // and searches are charged to the budgets again from the audit log.
  static absl::StatusOr<std::unique_ptr<NodeCore>> Create(NodeSettings settings,
                                                          storage::Store* store,
                                                          security::AuditLog* audit,
                                                          const Clock* clock = &SystemClock());

  // ---- RegionService: the hub asks on behalf of an end user. `done` runs once, after the
  // call's audit entry is durable, on the audit writer thread.
  void Info(const Credentials& who, Done<v1::RegionInfo> done);
  void Count(const Credentials& who, const v1::CountRequest& request, Done<v1::CountAnswer> done);
  void Breakdown(const Credentials& who, const v1::BreakdownRequest& request,
                 Done<v1::BreakdownAnswer> done);
  void Frequency(const Credentials& who, const v1::FrequencyRequest& request,
                 Done<v1::FrequencyAnswer> done);
  // This region's share of a national total (security/secure_sum.h): the question's exact
  // values with the region's share of the noise and the round's masks. Admitted, charged and
  // audited as the question itself would be.
  void NationalShare(const Credentials& who, const v1::NationalShareRequest& request,
                     Done<v1::NationalShareAnswer> done);
  // AC and AN at up to [limits] max_criteria sites in one release, with the noise the request
  // names (at least a frequency answer's); charged as one question of the "frequency" kind,
  // at 4 * sites / sigma^2. It leaves no sooner than security::kCatalogueSiteAllowance per site
  // after it arrived, so its time does not tell how many of the sites the region holds.
  void Catalogue(const Credentials& who, const v1::CatalogueRequest& request,
                 Done<v1::CatalogueAnswer> done);
  // The region's top cases for a clinician, each with a sealed, expiring case reference.
  void SimilarCases(const Credentials& who, const v1::SimilarCasesRequest& request,
                    Done<v1::SimilarCasesAnswer> done);
  void RequestContact(const Credentials& who, const v1::ContactRequest& request,
                      Done<v1::ContactTicket> done);
  // One of the clinician's own requests (another clinician's is NOT_FOUND).
  void ContactStatus(const Credentials& who, const v1::ContactStatusRequest& request,
                     Done<v1::ContactTicket> done);

  // The public tier (settings().public_tier), for anyone without a certificate: whether the
  // variant (a single variant() leaf) is seen in the region — its carrier count with the public
  // tier's noise reaching the threshold — charged to the public project's budget, audited as
  // PublicBeacon/Exists under "public:anonymous", paced like every answer.
  // `arrived`: when the question reached the node (its answer is paced from then).
  void PublicExists(const v1::Criterion& variant, Done<v1::PublicAnswer> done,
                    Pacer::Steady::time_point arrived = Pacer::Steady::now());

  // The hub only, on its own behalf: the chain's durable head and the hash of entry
  // `request.at - 1` (node/hub/witness.h). Not audited itself: it reads nothing but the log's
  // own hashes, and auditing it would grow the chain with every look at it.
  void AuditHead(const Credentials& who, const v1::AuditHeadRequest& request,
                 Done<v1::AuditHeadReply> done);

  // ---- AdminService: the region's own operators. Exact answers; each returns once audited.
  absl::StatusOr<v1::IngestReply> Ingest(const Credentials& who, UploadStream& upload);
  absl::StatusOr<v1::ConsentReply> Consent(const Credentials& who,
                                           const v1::ConsentRequest& request);
  absl::StatusOr<v1::AuditListReply> AuditList(const Credentials& who,
                                               const v1::AuditListRequest& request);
  absl::StatusOr<v1::StatusReply> Status(const Credentials& who);
  absl::StatusOr<v1::BackupReply> Backup(const Credentials& who, const v1::BackupRequest& request);
  absl::StatusOr<v1::AdminQueryReply> Query(const Credentials& who,
                                            const v1::AdminQueryRequest& request);
  absl::StatusOr<v1::ContactListReply> ContactList(const Credentials& who,
                                                   const v1::ContactListRequest& request);
  absl::StatusOr<v1::ContactTicket> ContactAnswer(const Credentials& who,
                                                  const v1::ContactAnswerRequest& request);
  // Similar cases in the operator's own store: subject ids instead of case references.
  absl::StatusOr<v1::SimilarCasesAnswer> LocalSimilarCases(const Credentials& who,
                                                           const v1::LocalSimilarRequest& request);

  // Re-reads datasets and reference files and re-indexes the cases after an ingest or a
  // consent change made outside the core.
  absl::Status ReloadCatalog();

  const NodeSettings& settings() const { return settings_; }

  // Answers from the shards a region's store is split across (node/shard/shard_set.h) instead
  // of the core's own store, which then keeps the audit log, keys, contact requests and the
  // catalog only. Set before the core serves.
  // `writes` takes the operators' ingests and opt-outs to the shards.
  void UseShards(std::shared_ptr<const Sources> shards, std::shared_ptr<ShardWrites> writes);
  bool sharded() const { return sharded_; }

  // Counts budget refusals and ingest progress there from now on (it must outlive the core).
  void set_metrics(metrics::Registry* registry);
  // The region's and every project's budget as they stand, for the metrics.
  std::vector<v1::BudgetState> RegionBudgets() const;

 private:
  NodeCore(NodeSettings settings, storage::Store* store, security::AuditLog* audit,
           const Clock* clock, std::string secret, std::string reference_key,
           std::shared_ptr<const vocab::Catalog> catalog,
           std::shared_ptr<const query::CaseIndex> cases);

  // An entry for `method` and the caller authorized for it.
  absl::StatusOr<call::Caller> Authorize(const Credentials& who, security::Method method,
                                         v1::AuditEntry* entry) const;
  std::shared_ptr<const vocab::Catalog> catalog() const;
  // The engine for answers that leave the region: with [disclosure] close_side_channels (the
  // default) questions are checked before any data is read, evaluated with work that does not
  // depend on the data, and breakdown cells come from the question, never from the data.
  query::Engine DisclosingEngine() const {
    if (settings_.disclosure.close_side_channels) return query::Engine(catalog());
    return query::Engine(catalog(), {.work = query::Executor::Work::kShortCircuit,
                                     .checks = query::Checks::kWhenReached,
                                     .public_cells = false});
  }
  std::shared_ptr<const query::CaseIndex> cases() const;
  // Where exact answers come from: the store, or the region's shards.
  std::shared_ptr<const Sources> sources() const;
  std::shared_ptr<ShardWrites> shard_writes() const;
  // The error of a call a sharded region's node does not take (its data is on the shards).
  absl::Status NotOnShards(std::string_view what) const;
  // `done` run through the pacer: an answer that leaves the region goes at the next multiple of
  // [disclosure] response_quantum_ms after its question arrived.
  template <typename T>
  Done<T> Paced(Pacer::Steady::time_point arrived, Done<T> done) {
    return [this, arrived, done = std::move(done)](absl::StatusOr<T> result) {
      auto kept = std::make_shared<absl::StatusOr<T>>(std::move(result));
      pacer_.Release(arrived, [kept, done] { done(std::move(*kept)); });
    };
  }
  // `done`, which takes back the answer's charge when it never left (its audit entry could not
  // be written), so that the budgets and the "released before" mark keep only what left.
  template <typename T>
  Done<T> RefundIfLost(const v1::AuditEntry& entry, bool answered, int64_t charged_at,
                       Done<T> done) {
    if (!answered || entry.rho_micros() == 0) return done;
    return [this, researcher = entry.caller(), project = entry.project(), release = entry.release(),
            micros = entry.rho_micros(), charged_at,
            done = std::move(done)](absl::StatusOr<T> result) {
      if (!result.ok()) sharing_.RefundRelease(researcher, project, release, micros, charged_at);
      done(std::move(result));
    };
  }
  // The ranked cases of a normalized question. For a clinician: references, and the probing
  // defences of [sharing.clinician]; `clinician` null: the region's operator, subject ids.
  absl::StatusOr<v1::SimilarCasesAnswer> RankCases(const v1::CaseQuery& question, uint32_t top,
                                                   const call::Caller* clinician,
                                                   v1::AuditEntry* entry);
  absl::StatusOr<v1::AdminQueryReply> ExactAnswer(const v1::AdminQueryRequest& request) const;
  // The public tier's answers by release fingerprint, so that a repeat reads no data.
  std::optional<v1::PublicAnswer> RememberedPublicAnswer(const std::string& fingerprint) const;
  void RememberPublicAnswer(const std::string& fingerprint, const v1::PublicAnswer& answer);

  NodeSettings settings_;
  security::Server here_;
  storage::Store* store_;
  security::AuditLog* audit_;
  const Clock* clock_;
  int64_t started_unix_;
  security::Discloser discloser_;
  security::Discloser public_discloser_;  // the region's rules with the public tier's noise
  SharingPolicy sharing_;
  ContactBook contacts_;
  security::MaskKeys mask_keys_;  // national totals' masks (secure_sum.h)
  security::RoundGuard rounds_;   // each round id serves one share
  std::string reference_key_;
  mutable std::mutex catalog_mu_;
  std::shared_ptr<const vocab::Catalog> catalog_;  // guarded by catalog_mu_
  std::shared_ptr<const query::CaseIndex> cases_;  // guarded by catalog_mu_
  std::shared_ptr<const Sources> sources_ ABSL_GUARDED_BY(catalog_mu_);
  std::shared_ptr<ShardWrites> shard_writes_ ABSL_GUARDED_BY(catalog_mu_);
  std::atomic<bool> sharded_{false};
  std::atomic<metrics::Registry*> metrics_{nullptr};
  mutable std::mutex public_mu_;
  std::map<std::string, v1::PublicAnswer> public_answers_ ABSL_GUARDED_BY(public_mu_);
  Pacer pacer_;  // last: it runs what still waits before the rest is destroyed
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_NODE_CORE_H_
