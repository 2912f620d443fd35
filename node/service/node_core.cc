#include "node/service/node_core.h"

#include <algorithm>
#include <chrono>

#include "node/base/strings.h"
#include "node/service/peer.h"
#include "node/storage/keys.h"
#include "query/case_query.h"
#include "query/engine.h"
#include "security/case_ref.h"
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

// A key made once per store and kept in it (the noise key, so answers stay the same across
// restarts; the case reference key, so references outlive a restart).
absl::StatusOr<std::string> StoredSecret(storage::Store& store, std::string_view name,
                                         absl::StatusOr<std::string> (*make)()) {
  auto view = store.Snapshot();
  auto existing = view->Get(storage::Family::kMeta, name);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return **existing;
  auto secret = make();
  if (!secret.ok()) return secret.status();
  storage::WriteBatch batch = store.NewBatch();
  batch.Put(storage::Family::kMeta, name, *secret);
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
  auto secret = StoredSecret(*store, keys::kMetaNoiseSecret, &security::NewNoiseSecret);
  if (!secret.ok()) return secret.status();
  auto reference_key =
      StoredSecret(*store, keys::kMetaReferenceKey, &security::NewReferenceKey);
  if (!reference_key.ok()) return reference_key.status();
  auto view = store->Snapshot();
  auto catalog = query::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  auto cases = query::CaseIndex::Build(*view, **catalog);
  if (!cases.ok()) return cases.status();
  std::unique_ptr<NodeCore> core(new NodeCore(std::move(settings), store, audit,
                                              std::move(*secret), std::move(*reference_key),
                                              std::move(*catalog), std::move(*cases)));
  // Today's questions count against today's budget, also across a restart.
  int64_t day_start = NowSeconds() / 86400 * 86400;
  auto today = security::ListAudit(*view, {.since_unix_micros = day_start * 1000000});
  if (!today.ok()) return today.status();
  const std::string similar = security::MethodName(security::Method::kRegionSimilarCases);
  for (const v1::AuditEntry& e : *today) {
    if (e.method() == similar) {
      if (e.outcome() == "ok") (void)core->searches_.Charge(e.caller(), e.time_unix_micros() / 1000000);
      continue;
    }
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
                   std::string secret, std::string reference_key,
                   std::shared_ptr<const query::Catalog> catalog,
                   std::shared_ptr<const query::CaseIndex> cases)
    : settings_(std::move(settings)),
      store_(store),
      audit_(audit),
      discloser_(settings_.disclosure, std::move(secret)),
      budget_(settings_.disclosure),
      searches_(settings_.clinician.daily_searches, "similar-case searches"),
      reference_key_(std::move(reference_key)),
      catalog_(std::move(catalog)),
      cases_(std::move(cases)) {}

std::shared_ptr<const query::Catalog> NodeCore::catalog() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return catalog_;
}

std::shared_ptr<const query::CaseIndex> NodeCore::cases() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return cases_;
}

absl::Status NodeCore::ReloadCatalog() {
  auto view = store_->Snapshot();
  auto catalog = query::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  auto cases = query::CaseIndex::Build(*view, **catalog);
  if (!cases.ok()) return cases.status();
  std::lock_guard<std::mutex> lock(catalog_mu_);
  catalog_ = std::move(*catalog);
  cases_ = std::move(*cases);
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

absl::Status NodeCore::CheckSimilar(const Caller& caller, v1::CaseQuery* query,
                                    v1::AuditEntry* entry) {
  absl::Status normalized = query::NormalizeCaseQuery(query);
  entry->set_query(query::FormatCaseQuery(*query));
  if (!normalized.ok()) return normalized;
  if (!settings_.participate) {
    return absl::PermissionDeniedError(StrCat("region ", settings_.region,
                                              " does not take part in federated questions"));
  }
  std::string role = security::RoleName(caller.user.role);
  auto share = settings_.sharing.find(role);
  if (share == settings_.sharing.end() || share->second.kinds.count("similar") == 0) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " does not share similar cases with a ", role));
  }
  return searches_.Charge(caller.user.uri, NowSeconds());
}

absl::StatusOr<v1::SimilarCasesAnswer> NodeCore::SimilarCases(const v1::CaseQuery& query,
                                                              uint32_t top, bool local,
                                                              v1::AuditEntry* entry) const {
  if (top == 0) top = 10;
  if (top > settings_.clinician.max_top) {
    return absl::InvalidArgumentError(
        StrCat("top is at most ", settings_.clinician.max_top, " in region ", settings_.region));
  }
  auto index = cases();
  auto view = store_->Snapshot();
  auto carriers = query::ReadCarriers(*view, query);
  if (!carriers.ok()) return carriers.status();
  // Consent as of now, not as of the index: a withdrawal counts at once.
  auto care = view->GetBitmap(keys::Consent("care"));
  if (!care.ok()) return care.status();
  auto ranked = query::RankSimilar(*index, query, *carriers, top,
                                   [&](uint32_t ordinal) { return care->Contains(ordinal); });
  if (!ranked.ok()) return ranked.status();
  v1::SimilarCasesAnswer answer;
  int64_t expires = NowSeconds() + settings_.clinician.reference_ttl_seconds;
  for (query::ScoredCase& scored : ranked->top) {
    uint32_t ordinal = index->at(scored.position).ordinal;
    v1::CaseMatch& m = *answer.add_matches() = std::move(scored.match);
    m.set_region(settings_.region);
    m.set_contact(settings_.clinician.contact);
    if (local) {
      auto record = view->Get(storage::Family::kIndividuals, keys::Individual(ordinal));
      if (!record.ok()) return record.status();
      v1::IndividualRecord r;
      if (record->has_value() && r.ParseFromString(**record)) m.set_subject_id(r.subject_id());
    } else {
      auto ref = security::SealCaseReference(reference_key_,
                                             {settings_.region, ordinal, expires});
      if (!ref.ok()) return ref.status();
      m.set_case_reference(*ref);
      m.set_reference_expires_unix(expires);
    }
    entry->add_individuals(ordinal);
  }
  for (v1::TermNote& n : ranked->notes) *answer.add_notes() = std::move(n);
  answer.set_cases_considered(ranked->considered);
  entry->set_released(StrCat("matches=", answer.matches_size()));
  return answer;
}

absl::StatusOr<v1::ContactRecord> NodeCore::ReadContact(const std::string& id) const {
  auto view = store_->Snapshot();
  auto raw = view->Get(storage::Family::kContact, keys::Contact(id));
  if (!raw.ok()) return raw.status();
  v1::ContactRecord record;
  if (!raw->has_value()) {
    return absl::NotFoundError(StrCat("no contact request ", settings_.region, "/", id));
  }
  if (!record.ParseFromString(**raw)) {
    return absl::DataLossError(StrCat("contact request ", id, " cannot be read"));
  }
  return record;
}

namespace {

v1::ContactTicket TicketOf(const std::string& region, const v1::ContactRecord& r) {
  v1::ContactTicket t;
  t.set_request_id(StrCat(region, "/", r.id()));
  t.set_region(region);
  t.set_state(r.state());
  t.set_answer(r.answer());
  t.set_created_unix(r.created_unix());
  t.set_answered_unix(r.answered_unix());
  return t;
}

// "vast/1a2b…" or "1a2b…" -> "1a2b…" when the region matches.
absl::StatusOr<std::string> LocalRequestId(const std::string& region, const std::string& id) {
  std::string local = id;
  size_t slash = id.find('/');
  if (slash != std::string::npos) {
    if (id.substr(0, slash) != region) {
      return absl::NotFoundError(StrCat("request ", id, " is not one of region ", region));
    }
    local = id.substr(slash + 1);
  }
  if (local.empty() || local.size() > 64) {
    return absl::InvalidArgumentError("not a contact request id");
  }
  return local;
}

}  // namespace

absl::StatusOr<v1::ContactTicket> NodeCore::RequestContact(const Caller& caller,
                                                           const v1::ContactRequest& request,
                                                           v1::AuditEntry* entry) {
  entry->set_query("contact request");
  std::string role = security::RoleName(caller.user.role);
  auto share = settings_.sharing.find(role);
  if (!settings_.participate || share == settings_.sharing.end() ||
      share->second.kinds.count("similar") == 0) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " takes no contact requests from a ", role));
  }
  if (Trim(request.reason()).empty()) {
    return absl::InvalidArgumentError("a contact request needs a reason (why you ask)");
  }
  if (request.reason().size() > 2000) {
    return absl::InvalidArgumentError("the reason is longer than 2000 characters");
  }
  auto ref = security::OpenCaseReference(reference_key_, settings_.region,
                                         request.case_reference(), NowSeconds());
  if (!ref.ok()) return ref.status();
  entry->add_individuals(ref->ordinal);
  auto lock = store_->WriteLock();
  auto view = store_->Snapshot();
  auto care = view->GetBitmap(keys::Consent("care"));
  if (!care.ok()) return care.status();
  if (!care->Contains(ref->ordinal)) {
    return absl::FailedPreconditionError("the case is no longer available for care use");
  }
  auto id = security::RandomHex(8);
  if (!id.ok()) return id.status();
  v1::ContactRecord record;
  record.set_id(*id);
  record.set_requester(caller.user.uri);
  record.set_reason(request.reason());
  record.set_ordinal(ref->ordinal);
  record.set_created_unix(NowSeconds());
  record.set_state(v1::CONTACT_PENDING);
  storage::WriteBatch batch = store_->NewBatch();
  batch.Put(storage::Family::kContact, keys::Contact(*id), record.SerializeAsString());
  absl::Status written = store_->Write(batch);
  if (!written.ok()) return written;
  entry->set_query(StrCat("contact request ", *id));
  entry->set_released(StrCat("request=", settings_.region, "/", *id));
  return TicketOf(settings_.region, record);
}

absl::StatusOr<v1::ContactTicket> NodeCore::ContactStatus(const Caller& caller,
                                                          const std::string& request_id,
                                                          v1::AuditEntry* entry) const {
  entry->set_query(StrCat("contact status ", request_id));
  auto local = LocalRequestId(settings_.region, request_id);
  if (!local.ok()) return local.status();
  auto record = ReadContact(*local);
  if (!record.ok()) return record.status();
  // Another clinician's request does not exist as far as this caller can tell.
  if (record->requester() != caller.user.uri) {
    return absl::NotFoundError(StrCat("no contact request ", request_id, " of yours"));
  }
  entry->set_released(StrCat("state=", v1::ContactState_Name(record->state())));
  return TicketOf(settings_.region, *record);
}

absl::StatusOr<v1::ContactListReply> NodeCore::ContactList(v1::ContactState state) const {
  auto view = store_->Snapshot();
  v1::ContactListReply reply;
  absl::Status failure;
  absl::Status s = view->Scan(
      storage::Family::kContact, keys::kContactPrefix, keys::PrefixEnd(keys::kContactPrefix),
      [&](std::string_view, std::string_view value) {
        v1::ContactRecord r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          failure = absl::DataLossError("a contact request cannot be read");
          return false;
        }
        if (state != v1::CONTACT_STATE_UNSPECIFIED && r.state() != state) return true;
        v1::ContactView* v = reply.add_requests();
        *v->mutable_ticket() = TicketOf(settings_.region, r);
        v->set_requester(r.requester());
        v->set_reason(r.reason());
        auto raw = view->Get(storage::Family::kIndividuals, keys::Individual(r.ordinal()));
        v1::IndividualRecord ind;
        if (raw.ok() && raw->has_value() && ind.ParseFromString(**raw)) {
          v->set_subject_id(ind.subject_id());
          v->set_care_unit(ind.care_unit());
        }
        return true;
      });
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  std::sort(reply.mutable_requests()->begin(), reply.mutable_requests()->end(),
            [](const v1::ContactView& a, const v1::ContactView& b) {
              return std::make_pair(a.ticket().created_unix(), a.ticket().request_id()) <
                     std::make_pair(b.ticket().created_unix(), b.ticket().request_id());
            });
  return reply;
}

absl::StatusOr<v1::ContactTicket> NodeCore::ContactAnswer(const Caller& caller,
                                                          const v1::ContactAnswerRequest& request,
                                                          v1::AuditEntry* entry) {
  entry->set_query(StrCat("contact answer ", request.request_id()));
  auto local = LocalRequestId(settings_.region, request.request_id());
  if (!local.ok()) return local.status();
  auto lock = store_->WriteLock();
  auto record = ReadContact(*local);
  if (!record.ok()) return record.status();
  entry->add_individuals(record->ordinal());
  if (record->state() != v1::CONTACT_PENDING) {
    return absl::FailedPreconditionError(
        StrCat("request ", settings_.region, "/", *local, " was already answered (",
               v1::ContactState_Name(record->state()), ")"));
  }
  record->set_state(request.accept() ? v1::CONTACT_ACCEPTED : v1::CONTACT_DECLINED);
  record->set_answer(request.message());
  record->set_answered_by(caller.user.uri);
  record->set_answered_unix(NowSeconds());
  storage::WriteBatch batch = store_->NewBatch();
  batch.Put(storage::Family::kContact, keys::Contact(*local), record->SerializeAsString());
  absl::Status written = store_->Write(batch);
  if (!written.ok()) return written;
  entry->set_released(StrCat("state=", v1::ContactState_Name(record->state())));
  return TicketOf(settings_.region, *record);
}

void NodeCore::Finish(v1::AuditEntry entry, const absl::Status& outcome,
                      std::function<void(const absl::Status&)> reply) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  if (!outcome.ok()) {
    entry.set_released("");
    entry.clear_individuals();
  }
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
  if (!outcome.ok()) entry.clear_individuals();
  absl::Status written = audit_->AppendAndWait(std::move(entry));
  if (!written.ok()) {
    return absl::InternalError("the audit log could not be written; nothing was released");
  }
  return outcome;
}

}  // namespace pmdb::service
