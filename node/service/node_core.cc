#include "node/service/node_core.h"

#include <chrono>

#include "node/base/strings.h"
#include "node/service/peer.h"
#include "node/storage/keys.h"
#include "query/engine.h"
#include "query/parser.h"

namespace pmdb::service {
namespace {

namespace keys = storage::keys;
using security::Method;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The noise key: made once per store and kept in it, so answers stay the same across restarts.
absl::StatusOr<std::string> NoiseSecret(storage::Store& store) {
  auto view = store.Snapshot();
  auto existing = view->Get(storage::Family::kMeta, keys::kMetaNoiseSecret);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return **existing;
  auto secret = security::NewNoiseSecret();
  if (!secret.ok()) return secret.status();
  storage::WriteBatch batch = store.NewBatch();
  batch.Put(storage::Family::kMeta, keys::kMetaNoiseSecret, *secret);
  absl::Status s = store.Write(batch);
  if (!s.ok()) return s;
  return *secret;
}

std::string Range(const v1::ReleasedCount& c) {
  if (c.low() == c.high()) return StrCat(c.low());
  if (c.high() == UINT64_MAX) return "hidden";
  return StrCat(c.low(), "-", c.high());
}

v1::ReleasedCount Exact(uint64_t v) {
  v1::ReleasedCount c;
  c.set_low(v);
  c.set_high(v);
  return c;
}

std::string Question(const std::string& kind, const v1::Criterion& criterion,
                     const std::vector<v1::Dimension>& dimensions = {}) {
  std::string q = StrCat(kind, " ", query::FormatCriterion(criterion));
  for (v1::Dimension d : dimensions) StrAppend(&q, " by ", query::DimensionName(d));
  return q;
}

}  // namespace

v1::Purpose PurposeOf(security::Role role) {
  return role == security::Role::kClinician ? v1::CARE : v1::RESEARCH;
}

absl::StatusOr<std::unique_ptr<NodeCore>> NodeCore::Create(NodeSettings settings,
                                                           storage::Store* store,
                                                           security::AuditLog* audit) {
  auto secret = NoiseSecret(*store);
  if (!secret.ok()) return secret.status();
  auto view = store->Snapshot();
  auto catalog = query::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  std::unique_ptr<NodeCore> core(
      new NodeCore(std::move(settings), store, audit, std::move(*secret), std::move(*catalog)));
  // Today's questions count against today's budget, also across a restart.
  int64_t day_start = NowSeconds() / 86400 * 86400;
  auto today = security::ListAudit(*view, {.since_unix_micros = day_start * 1000000});
  if (!today.ok()) return today.status();
  for (const v1::AuditEntry& e : *today) {
    if (!e.method().starts_with("RegionService/") || e.outcome() != "ok" || e.query().empty()) {
      continue;
    }
    auto criterion = query::ParseCriterion(e.query());
    if (!criterion.ok()) continue;
    std::vector<std::string> leaves;
    for (query::Leaf& leaf : query::Leaves(*criterion)) leaves.push_back(std::move(leaf.text));
    (void)core->budget_.Charge(e.caller(), e.query(), std::move(leaves),
                               e.time_unix_micros() / 1000000);
  }
  return core;
}

NodeCore::NodeCore(NodeSettings settings, storage::Store* store, security::AuditLog* audit,
                   std::string secret, std::shared_ptr<const query::Catalog> catalog)
    : settings_(std::move(settings)),
      store_(store),
      audit_(audit),
      discloser_(settings_.disclosure, std::move(secret)),
      budget_(settings_.disclosure),
      catalog_(std::move(catalog)) {}

std::shared_ptr<const query::Catalog> NodeCore::catalog() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return catalog_;
}

absl::Status NodeCore::ReloadCatalog() {
  auto view = store_->Snapshot();
  auto catalog = query::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  std::lock_guard<std::mutex> lock(catalog_mu_);
  catalog_ = std::move(*catalog);
  return absl::OkStatus();
}

v1::AuditEntry NodeCore::NewEntry(Method method) const {
  v1::AuditEntry e;
  e.set_method(security::MethodName(method));
  e.set_region(settings_.region);
  return e;
}

absl::StatusOr<Caller> NodeCore::Authenticate(const grpc::ServerContextBase& context,
                                              Method method, v1::AuditEntry* entry) const {
  security::Server here{.is_hub = false, .federation = settings_.federation,
                        .region = settings_.region};
  auto peer = AuthorizePeer(context, method, here, entry);
  if (!peer.ok()) return peer.status();
  Caller caller{*peer, *peer};
  if (peer->role == security::Role::kHub) {
    auto it = context.client_metadata().find(security::kOnBehalfOfKey);
    if (it == context.client_metadata().end()) {
      return absl::PermissionDeniedError("the hub did not say on whose behalf it asks");
    }
    auto user = security::ParseIdentity(std::string_view(it->second.data(), it->second.size()));
    if (!user.ok()) return absl::PermissionDeniedError(std::string(user.status().message()));
    entry->set_caller(user->uri);
    entry->set_role(security::RoleName(user->role));
    entry->set_via(peer->uri);
    absl::Status s = security::AuthorizeEndUser(*user, method, here);
    if (!s.ok()) return s;
    caller.user = *user;
  }
  return caller;
}

absl::Status NodeCore::CheckSharing(const Caller& caller, const std::string& kind,
                                    const v1::Criterion& criterion, v1::AuditEntry* entry) {
  // The canonical form is what the audit log keeps and what the budget is charged on, so
  // reformatting a question changes neither; the method names the kind.
  std::string canonical = query::FormatCriterion(criterion);
  entry->set_query(canonical);
  if (!settings_.participate) {
    return absl::PermissionDeniedError(StrCat("region ", settings_.region,
                                              " does not take part in federated questions"));
  }
  std::string role = security::RoleName(caller.user.role);
  auto share = settings_.sharing.find(role);
  if (share == settings_.sharing.end()) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " shares nothing with a ", role));
  }
  if (share->second.kinds.count(kind) == 0) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " does not share ", kind, " results with a ", role));
  }
  std::vector<query::Leaf> leaves = query::Leaves(criterion);
  if (leaves.empty()) return absl::InvalidArgumentError("the question has no criteria");
  std::vector<std::string> texts;
  for (query::Leaf& leaf : leaves) {
    if (share->second.criteria.count(leaf.kind) == 0) {
      return absl::PermissionDeniedError(StrCat("region ", settings_.region, " does not answer ",
                                                leaf.kind, "() criteria for a ", role));
    }
    texts.push_back(std::move(leaf.text));
  }
  return budget_.Charge(caller.user.uri, canonical, std::move(texts), NowSeconds());
}

absl::StatusOr<v1::CountAnswer> NodeCore::Count(const v1::Criterion& criterion,
                                                v1::Purpose purpose, bool disclose,
                                                std::string* released) const {
  query::Engine engine(catalog());
  auto view = store_->Snapshot();
  auto r = engine.Count(*view, criterion, purpose);
  if (!r.ok()) return r.status();
  v1::CountAnswer a;
  if (disclose) {
    *a.mutable_count() = discloser_.ReleaseCount(r->value, Question("count", criterion));
    *a.mutable_disclosure() = discloser_.Applied();
  } else {
    *a.mutable_count() = Exact(r->value);
    a.mutable_disclosure()->set_exact(true);
  }
  for (std::string& w : r->warnings) a.add_warnings(std::move(w));
  *released = StrCat("count=", Range(a.count()));
  return a;
}

absl::StatusOr<v1::BreakdownAnswer> NodeCore::Breakdown(
    const v1::Criterion& criterion, const std::vector<v1::Dimension>& dimensions,
    v1::Purpose purpose, bool disclose, std::string* released) const {
  query::Engine engine(catalog());
  auto view = store_->Snapshot();
  auto r = engine.Breakdown(*view, criterion, dimensions, purpose);
  if (!r.ok()) return r.status();
  v1::BreakdownAnswer a;
  for (v1::Dimension d : dimensions) a.add_dimensions(d);
  size_t suppressed = 0, complementary = 0;
  if (disclose) {
    for (v1::ReleasedCell& cell :
         discloser_.ReleaseBreakdown(r->value, Question("breakdown", criterion, dimensions))) {
      suppressed += cell.suppressed();
      complementary += cell.complementary();
      *a.add_cells() = std::move(cell);
    }
    *a.mutable_disclosure() = discloser_.Applied();
  } else {
    for (const v1::BreakdownCell& cell : r->value.cells()) {
      v1::ReleasedCell* out = a.add_cells();
      *out->mutable_labels() = cell.labels();
      *out->mutable_count() = Exact(cell.count());
    }
    a.mutable_disclosure()->set_exact(true);
  }
  for (std::string& w : r->warnings) a.add_warnings(std::move(w));
  std::string by;
  for (v1::Dimension d : dimensions) StrAppend(&by, by.empty() ? "" : ",", query::DimensionName(d));
  *released = StrCat("by=", by, " cells=", a.cells_size(), " suppressed=", suppressed,
                     " complementary=", complementary);
  return a;
}

absl::StatusOr<v1::FrequencyAnswer> NodeCore::Frequency(const v1::Criterion& criterion,
                                                        v1::Purpose purpose, bool disclose,
                                                        std::string* released) const {
  query::Engine engine(catalog());
  auto view = store_->Snapshot();
  auto r = engine.Frequency(*view, criterion, purpose);
  if (!r.ok()) return r.status();
  v1::FrequencyAnswer a;
  if (disclose) {
    std::string q = Question("frequency", criterion);
    *a.mutable_ac() = discloser_.ReleaseCount(r->value.ac, q + " ac");
    *a.mutable_an() = discloser_.ReleaseCount(r->value.an, q + " an");
    *a.mutable_disclosure() = discloser_.Applied();
  } else {
    *a.mutable_ac() = Exact(r->value.ac);
    *a.mutable_an() = Exact(r->value.an);
    a.mutable_disclosure()->set_exact(true);
  }
  for (std::string& w : r->warnings) a.add_warnings(std::move(w));
  *released = StrCat("ac=", Range(a.ac()), " an=", Range(a.an()));
  return a;
}

v1::RegionInfo NodeCore::Info(const Caller& caller) const {
  v1::RegionInfo info;
  info.set_region(settings_.region);
  info.set_version(kVersion);
  info.set_participating(settings_.participate);
  auto share = settings_.sharing.find(security::RoleName(caller.user.role));
  if (settings_.participate && share != settings_.sharing.end()) {
    for (const std::string& k : share->second.kinds) info.add_kinds(k);
    for (const std::string& c : share->second.criteria) info.add_criteria(c);
  }
  *info.mutable_disclosure() = discloser_.Applied();
  for (const std::string& a : catalog()->assemblies()) info.add_assemblies(a);
  return info;
}

void NodeCore::Finish(v1::AuditEntry entry, const absl::Status& outcome,
                      std::function<void(const absl::Status&)> reply) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  if (!outcome.ok()) entry.set_released("");
  audit_->Append(std::move(entry), [outcome, reply = std::move(reply)](absl::Status written) {
    if (!written.ok()) {
      reply(absl::InternalError("the audit log could not be written; nothing was released"));
    } else {
      reply(outcome);
    }
  });
}

absl::Status NodeCore::FinishAndWait(v1::AuditEntry entry, const absl::Status& outcome) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  absl::Status written = audit_->AppendAndWait(std::move(entry));
  if (!written.ok()) {
    return absl::InternalError("the audit log could not be written; nothing was released");
  }
  return outcome;
}

}  // namespace pmdb::service
