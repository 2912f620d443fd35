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
#include "pmdb/v1/records.pb.h"
#include "pmdb/v1/similar.pb.h"
#include "query/catalog.h"
#include "query/similarity.h"
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

  // ---- clinicians
  // The region's rules for a clinician's similar-cases question: takes part, shares similar
  // cases with clinicians, and the clinician has searches left today ([sharing.clinician]
  // daily_searches; RESOURCE_EXHAUSTED otherwise). Normalizes the question and fills
  // entry.query.
  absl::Status CheckSimilar(const Caller& caller, v1::CaseQuery* query, v1::AuditEntry* entry);
  // The region's top cases for the question. Each match carries a sealed case reference (or,
  // with `local`, the subject id instead); the entry records which individuals were returned.
  absl::StatusOr<v1::SimilarCasesAnswer> SimilarCases(const v1::CaseQuery& query, uint32_t top,
                                                      bool local, v1::AuditEntry* entry) const;
  // Stores a clinician's request to contact the care unit of the referenced case.
  absl::StatusOr<v1::ContactTicket> RequestContact(const Caller& caller,
                                                   const v1::ContactRequest& request,
                                                   v1::AuditEntry* entry);
  // The state of one of the caller's own requests (another clinician's is NOT_FOUND).
  absl::StatusOr<v1::ContactTicket> ContactStatus(const Caller& caller,
                                                  const std::string& request_id,
                                                  v1::AuditEntry* entry) const;
  // ---- operators
  absl::StatusOr<v1::ContactListReply> ContactList(v1::ContactState state) const;
  absl::StatusOr<v1::ContactTicket> ContactAnswer(const Caller& caller,
                                                  const v1::ContactAnswerRequest& request,
                                                  v1::AuditEntry* entry);

  // Re-reads datasets and reference files and re-indexes the cases after an ingest or a
  // consent change.
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
           std::string secret, std::string reference_key,
           std::shared_ptr<const query::Catalog> catalog,
           std::shared_ptr<const query::CaseIndex> cases);
  std::shared_ptr<const query::Catalog> catalog() const;
  std::shared_ptr<const query::CaseIndex> cases() const;
  absl::StatusOr<v1::ContactRecord> ReadContact(const std::string& id) const;

  NodeSettings settings_;
  storage::Store* store_;
  security::AuditLog* audit_;
  security::Discloser discloser_;
  security::QueryBudget budget_;
  security::DailyLimit searches_;  // similar-case searches per clinician
  std::string reference_key_;
  mutable std::mutex catalog_mu_;
  std::shared_ptr<const query::Catalog> catalog_;
  std::shared_ptr<const query::CaseIndex> cases_;
};

// Purpose whose consent applies to a role's questions: research for researchers.
v1::Purpose PurposeOf(security::Role role);

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_NODE_CORE_H_
