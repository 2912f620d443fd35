#include "node/core/node_core.h"

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/core/releaser.h"
#include "node/storage/keys.h"
#include "query/canonical.h"
#include "query/engine.h"
#include "query/parser.h"
#include "query/prepare.h"
#include "security/case_ref.h"

namespace pmdb::core {
namespace {

namespace keys = storage::keys;
using security::Method;

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

}  // namespace

absl::StatusOr<std::unique_ptr<NodeCore>> NodeCore::Create(NodeSettings settings,
                                                           storage::Store* store,
                                                           security::AuditLog* audit,
                                                           const Clock* clock) {
  auto secret = StoredSecret(*store, keys::kMetaNoiseSecret, &security::NewNoiseSecret);
  if (!secret.ok()) return secret.status();
  auto reference_key = StoredSecret(*store, keys::kMetaReferenceKey, &security::NewReferenceKey);
  if (!reference_key.ok()) return reference_key.status();
  auto view = store->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  auto cases = query::CaseIndex::Build(*view, **catalog);
  if (!cases.ok()) return cases.status();
  std::unique_ptr<NodeCore> core(new NodeCore(std::move(settings), store, audit, clock,
                                              std::move(*secret), std::move(*reference_key),
                                              std::move(*catalog), std::move(*cases)));
  // What was asked and released in the budgets' open windows counts again after a restart.
  int64_t now = clock->NowSeconds();
  auto open =
      security::ListAudit(*view, {.since_unix_micros = core->sharing_.RechargeFrom(now) * 1000000});
  if (!open.ok()) return open.status();
  core->sharing_.Recharge(*open, now);
  return core;
}

NodeCore::NodeCore(NodeSettings settings, storage::Store* store, security::AuditLog* audit,
                   const Clock* clock, std::string secret, std::string reference_key,
                   std::shared_ptr<const vocab::Catalog> catalog,
                   std::shared_ptr<const query::CaseIndex> cases)
    : settings_(std::move(settings)),
      here_{.is_hub = false, .federation = settings_.federation, .region = settings_.region},
      store_(store),
      audit_(audit),
      clock_(clock),
      started_unix_(clock->NowSeconds()),
      discloser_(settings_.disclosure, std::move(secret)),
      sharing_(settings_),
      contacts_(settings_.region, store, clock),
      reference_key_(std::move(reference_key)),
      catalog_(std::move(catalog)),
      cases_(std::move(cases)),
      pacer_(std::chrono::milliseconds(settings_.disclosure.close_side_channels
                                           ? settings_.disclosure.response_quantum_ms
                                           : 0)) {}

std::shared_ptr<const vocab::Catalog> NodeCore::catalog() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return catalog_;
}

std::shared_ptr<const query::CaseIndex> NodeCore::cases() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return cases_;
}

absl::Status NodeCore::ReloadCatalog() {
  auto view = store_->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  auto cases = query::CaseIndex::Build(*view, **catalog);
  if (!cases.ok()) return cases.status();
  std::lock_guard<std::mutex> lock(catalog_mu_);
  catalog_ = std::move(*catalog);
  cases_ = std::move(*cases);
  return absl::OkStatus();
}

absl::StatusOr<call::Caller> NodeCore::Authorize(const Credentials& who, Method method,
                                                 v1::AuditEntry* entry) const {
  *entry = call::NewEntry(method, settings_.region);
  return call::Authorize(who, method, here_, entry);
}

void NodeCore::set_metrics(metrics::Registry* registry) {
  registry->Describe("pmdb_budget_refusals_total", metrics::Type::kCounter,
                     "Answers refused because a privacy budget was used up, by project.");
  registry->Describe("pmdb_ingest_received_bytes_total", metrics::Type::kCounter,
                     "Bytes of ingest uploads received (progress of an ingest under way).");
  registry->Describe("pmdb_ingest_records_total", metrics::Type::kCounter,
                     "VCF lines and Phenopackets ingested, by format.");
  registry->Describe("pmdb_ingest_individuals_new_total", metrics::Type::kCounter,
                     "Individuals new to the store, by format.");
  metrics_ = registry;
  sharing_.set_metrics(registry);
}

std::vector<v1::BudgetState> NodeCore::RegionBudgets() const {
  return sharing_.RegionBudgets(clock_->NowSeconds());
}

void NodeCore::AuditHead(const Credentials& who, const v1::AuditHeadRequest& request,
                         Done<v1::AuditHeadReply> done) {
  auto run = [&]() -> absl::StatusOr<v1::AuditHeadReply> {
    if (!who.peer.ok()) return who.peer.status();
    absl::Status allowed = security::Authorize(*who.peer, Method::kRegionAuditHead, here_);
    if (!allowed.ok()) return allowed;
    auto view = store_->Snapshot();
    auto head = security::HeadOf(*view);
    if (!head.ok()) return head.status();
    v1::AuditHeadReply reply;
    reply.set_region(settings_.region);
    reply.set_entries(head->entries);
    reply.set_head_hash(head->hash);
    reply.set_at(request.at());
    reply.set_time_unix_micros(clock_->NowSeconds() * int64_t{1000000});
    if (request.at() > 0 && request.at() <= head->entries) {
      auto hash = security::EntryHash(*view, request.at() - 1);
      if (!hash.ok()) return hash.status();
      if (hash->has_value()) reply.set_hash_at(**hash);
    }
    return reply;
  };
  done(run());
}

void NodeCore::Info(const Credentials& who, Done<v1::RegionInfo> done) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::RegionInfo> {
    auto caller = Authorize(who, Method::kRegionInfo, &entry);
    if (!caller.ok()) return caller.status();
    v1::RegionInfo info;
    info.set_region(settings_.region);
    info.set_version(kVersion);
    sharing_.Describe(*caller, &info);
    *info.mutable_disclosure() = discloser_.Applied();
    if (caller->user.role == security::Role::kResearcher) {
      auto project = sharing_.ProjectFor(*caller);
      if (project.ok()) {
        info.mutable_disclosure()->set_project(*project);
        for (v1::BudgetState& b : sharing_.Budgets(*caller, *project, clock_->NowSeconds())) {
          *info.mutable_disclosure()->add_budgets() = std::move(b);
        }
      }
    }
    for (const std::string& a : catalog()->assemblies()) info.add_assemblies(a);
    return info;
  };
  auto result = run();  // before `entry` is moved
  call::Finish(*audit_, std::move(entry), std::move(result), std::move(done));
}

namespace {

// The steps every aggregate question takes at a region: authorize, record the question, apply
// the sharing policy and rate limits, find the researcher's project, answer with disclosure,
// charge the release to the privacy budgets, record what was released and what it cost.
// The first steps of an answer and of a cost quote alike: record the question, apply the
// sharing policy and rate limits, find the project that pays.
absl::StatusOr<std::string> Admit(const call::Caller& caller, std::string_view kind,
                                  const v1::Criterion& criterion, SharingPolicy& sharing,
                                  int64_t now, v1::AuditEntry& entry) {
  // Over the limits, the question is refused before it is even recorded in full.
  absl::Status limited = query::CheckLimits(criterion);
  if (!limited.ok()) return limited;
  entry.set_query(query::FormatCriterion(criterion));
  absl::Status shared =
      sharing.CheckAggregate(caller, kind, criterion, query::CanonicalText(criterion), now);
  if (!shared.ok()) return shared;
  auto project = sharing.ProjectFor(caller);
  if (!project.ok()) return project.status();
  entry.set_project(*project);
  return project;
}

template <typename Answer, typename Compute>
absl::StatusOr<Answer> Aggregate(absl::StatusOr<call::Caller> caller, std::string_view kind,
                                 const v1::Criterion& criterion, SharingPolicy& sharing,
                                 int64_t now, v1::AuditEntry& entry, Compute compute) {
  if (!caller.ok()) return caller.status();
  auto project = Admit(*caller, kind, criterion, sharing, now, entry);
  if (!project.ok()) return project.status();
  absl::StatusOr<Release<Answer>> release = compute(PurposeOf(caller->user.role));
  if (!release.ok()) return release.status();
  // Nothing leaves before it is paid for: a refused charge discards the computed answer.
  auto charged =
      sharing.ChargeRelease(*caller, *project, release->fingerprint, release->cost_micros, now);
  if (!charged.ok()) return charged.status();
  entry.set_release(release->fingerprint);
  entry.set_rho_micros(*charged);
  Answer& answer = release->answer;
  v1::DisclosureApplied& d = *answer.mutable_disclosure();
  d.set_rho(static_cast<double>(*charged) / 1e6);
  d.set_project(*project);
  for (v1::BudgetState& b : sharing.Budgets(*caller, *project, now))
    *d.add_budgets() = std::move(b);
  entry.set_released(call::Released(answer));
  return std::move(answer);
}

// A cost quote (cost_only): the same authorization, sharing policy and project as an answer,
// then the price of the release the answer would be and what the caller has left; charges
// nothing and reads no data.
template <typename Answer, typename QuoteFn>
absl::StatusOr<Answer> Quoted(absl::StatusOr<call::Caller> caller, std::string_view kind,
                              const v1::Criterion& criterion, SharingPolicy& sharing,
                              const security::Discloser& discloser, int64_t now,
                              v1::AuditEntry& entry, QuoteFn quote) {
  if (!caller.ok()) return caller.status();
  auto project = Admit(*caller, kind, criterion, sharing, now, entry);
  if (!project.ok()) return project.status();
  absl::StatusOr<Quote> q = quote();
  if (!q.ok()) return q.status();
  Answer answer;
  v1::DisclosureApplied& d = *answer.mutable_disclosure();
  d = discloser.Applied();
  d.set_cost_only(true);
  auto price = sharing.PriceRelease(*caller, *project, q->fingerprint, q->cost_micros, now);
  uint64_t micros = price.ok() ? *price : q->cost_micros;
  d.set_rho(static_cast<double>(micros) / 1e6);
  if (!price.ok()) d.set_refusal(std::string(price.status().message()));
  d.set_project(*project);
  for (v1::BudgetState& b : sharing.Budgets(*caller, *project, now))
    *d.add_budgets() = std::move(b);
  entry.set_released(StrCat("cost quote rho=", security::FormatMicros(micros),
                            price.ok() ? "" : " (would be refused)"));
  return answer;
}

}  // namespace

void NodeCore::Count(const Credentials& who, const v1::CountRequest& request,
                     Done<v1::CountAnswer> done) {
  const auto arrived = Pacer::Steady::now();
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry;
  auto caller = Authorize(who, Method::kRegionCount, &entry);
  if (request.cost_only()) {
    auto quote = Quoted<v1::CountAnswer>(
        std::move(caller), "count", request.criterion(), sharing_, discloser_, now, entry, [&] {
          query::Engine engine = DisclosingEngine();
          return Releaser(engine, discloser_).QuoteCount(*store_->Snapshot(), request.criterion());
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer =
      Aggregate<v1::CountAnswer>(std::move(caller), "count", request.criterion(), sharing_, now,
                                 entry, [&](v1::Purpose purpose) {
                                   query::Engine engine = DisclosingEngine();
                                   return Releaser(engine, discloser_)
                                       .Count(*store_->Snapshot(), request.criterion(), purpose);
                                 });
  Done<v1::CountAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

void NodeCore::Breakdown(const Credentials& who, const v1::BreakdownRequest& request,
                         Done<v1::BreakdownAnswer> done) {
  const auto arrived = Pacer::Steady::now();
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry;
  auto caller = Authorize(who, Method::kRegionBreakdown, &entry);
  auto dims = query::CheckDimensions(request.dimensions());
  if (caller.ok() && !dims.ok()) caller = dims.status();
  auto diagnoses = dims.ok() ? query::CheckDiagnoses(*dims, request.diagnoses())
                             : absl::StatusOr<std::vector<std::string>>(dims.status());
  if (caller.ok() && !diagnoses.ok()) caller = diagnoses.status();
  if (request.cost_only()) {
    auto quote = Quoted<v1::BreakdownAnswer>(
        std::move(caller), "breakdown", request.criterion(), sharing_, discloser_, now, entry, [&] {
          query::Engine engine = DisclosingEngine();
          return Releaser(engine, discloser_)
              .QuoteBreakdown(*store_->Snapshot(), request.criterion(), *dims, *diagnoses);
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::BreakdownAnswer>(
      std::move(caller), "breakdown", request.criterion(), sharing_, now, entry,
      [&](v1::Purpose purpose) {
        query::Engine engine = DisclosingEngine();
        return Releaser(engine, discloser_)
            .Breakdown(*store_->Snapshot(), request.criterion(), *dims, *diagnoses, purpose);
      });
  Done<v1::BreakdownAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

void NodeCore::Frequency(const Credentials& who, const v1::FrequencyRequest& request,
                         Done<v1::FrequencyAnswer> done) {
  const auto arrived = Pacer::Steady::now();
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry;
  auto caller = Authorize(who, Method::kRegionFrequency, &entry);
  if (request.cost_only()) {
    auto quote = Quoted<v1::FrequencyAnswer>(
        std::move(caller), "frequency", request.criterion(), sharing_, discloser_, now, entry, [&] {
          query::Engine engine = DisclosingEngine();
          return Releaser(engine, discloser_)
              .QuoteFrequency(*store_->Snapshot(), request.criterion());
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::FrequencyAnswer>(std::move(caller), "frequency", request.criterion(),
                                               sharing_, now, entry, [&](v1::Purpose purpose) {
                                                 query::Engine engine = DisclosingEngine();
                                                 return Releaser(engine, discloser_)
                                                     .Frequency(*store_->Snapshot(),
                                                                request.criterion(), purpose);
                                               });
  Done<v1::FrequencyAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

}  // namespace pmdb::core
