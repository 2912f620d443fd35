// NodeCore: what the RegionService and AdminService handlers share — authentication,
// authorization, the region's sharing policy, the question budget, disclosure control, the
// engine and the audit log. Handlers stay thin: authenticate → check → answer → audit → reply.
#ifndef PMDB_NODE_SERVICE_NODE_CORE_H_
#define PMDB_NODE_SERVICE_NODE_CORE_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "node/service/settings.h"
#include "node/storage/store.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/audit.pb.h"
#include "query/catalog.h"
#include "security/audit.h"
#include "security/disclosure.h"
#include "security/identity.h"
#include "security/policy.h"

namespace pmdb::service {

struct Caller {
  security::Identity peer;  // who holds the TLS connection
  security::Identity user;  // who asks: the peer, or the end user the hub forwards
};

class NodeCore {
 public:
  // `store` and `audit` must outlive the core. The noise key is made once and kept in the
  // store; today's questions are charged to the budget again from the audit log.
  static absl::StatusOr<std::unique_ptr<NodeCore>> Create(NodeSettings settings,
                                                          storage::Store* store,
                                                          security::AuditLog* audit);

  // An audit entry for a call to `method`, with the region filled in.
  v1::AuditEntry NewEntry(security::Method method) const;

  // The caller of a call, authorized for `method`; fills the entry's caller, role and via.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& context,
                                      security::Method method, v1::AuditEntry* entry) const;

  // The region's own rules for an end user's question: takes part, shares this kind of result
  // and these criteria with the user's role, and the user has budget left. Fills entry.query.
  absl::Status CheckSharing(const Caller& caller, const std::string& kind,
                            const v1::Criterion& criterion, v1::AuditEntry* entry);

  // Answers; with `disclose` the region's disclosure rules are applied, otherwise exact.
  // `released` receives the audit log's summary of what leaves.
  absl::StatusOr<v1::CountAnswer> Count(const v1::Criterion& criterion, v1::Purpose purpose,
                                        bool disclose, std::string* released) const;
  absl::StatusOr<v1::BreakdownAnswer> Breakdown(const v1::Criterion& criterion,
                                                const std::vector<v1::Dimension>& dimensions,
                                                v1::Purpose purpose, bool disclose,
                                                std::string* released) const;
  absl::StatusOr<v1::FrequencyAnswer> Frequency(const v1::Criterion& criterion,
                                                v1::Purpose purpose, bool disclose,
                                                std::string* released) const;

  v1::RegionInfo Info(const Caller& caller) const;

  // Re-reads datasets and reference files after an ingest.
  absl::Status ReloadCatalog();

  // Appends the entry with the call's outcome and then runs `reply(status)`: the status to
  // send, which is INTERNAL (nothing released) when the audit write failed.
  void Finish(v1::AuditEntry entry, const absl::Status& outcome,
              std::function<void(const absl::Status&)> reply);
  absl::Status FinishAndWait(v1::AuditEntry entry, const absl::Status& outcome);

  const NodeSettings& settings() const { return settings_; }
  storage::Store& store() const { return *store_; }
  security::AuditLog& audit() const { return *audit_; }

 private:
  NodeCore(NodeSettings settings, storage::Store* store, security::AuditLog* audit,
           std::string secret, std::shared_ptr<const query::Catalog> catalog);
  std::shared_ptr<const query::Catalog> catalog() const;

  NodeSettings settings_;
  storage::Store* store_;
  security::AuditLog* audit_;
  security::Discloser discloser_;
  security::QueryBudget budget_;
  mutable std::mutex catalog_mu_;
  std::shared_ptr<const query::Catalog> catalog_;
};

// Purpose whose consent applies to a role's questions: research for researchers.
v1::Purpose PurposeOf(security::Role role);

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_NODE_CORE_H_
