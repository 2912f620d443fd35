#include "node/core/node_core.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/core/releaser.h"
#include "node/storage/keys.h"
#include "query/canonical.h"
#include "query/engine.h"
#include "query/limits.h"
#include "query/parser.h"
#include "query/prepare.h"
#include "security/audit.h"
#include "security/case_ref.h"
#include "security/secure_sum.h"
#include "security/signed_head.h"

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
  if (settings.public_tier.enabled) {
    // The public tier spends from a project of its own, so its answers count in the region's
    // budgets and its share keeps it from crowding out the researchers' projects.
    if (!settings.disclosure.differential_privacy || !settings.disclosure.close_side_channels ||
        settings.disclosure.response_quantum_ms == 0) {
      return absl::FailedPreconditionError(
          "the public tier ([public]) needs differential privacy with side channels closed and "
          "answers paced ([disclosure] response_quantum_ms above 0)");
    }
    uint64_t shares = settings.public_tier.share_millionths;
    for (const security::Project& p : settings.privacy.projects) {
      if (p.id == kPublicProject) {
        return absl::InvalidArgumentError(
            "a project may not be called \"public\" while the public tier is on: that is its "
            "budget");
      }
      shares += p.share_millionths;
    }
    if (shares > 1'000'000) {
      return absl::InvalidArgumentError(
          StrCat("the public tier's share (",
                 security::FormatMicros(settings.public_tier.share_millionths),
                 ") and the projects' shares of the region budget add up to more than 1"));
    }
    const uint64_t share_of_region =
        static_cast<uint64_t>(static_cast<double>(settings.privacy.region_micros) *
                              static_cast<double>(settings.public_tier.share_millionths) / 1e6);
    if (settings.public_tier.budget_micros > share_of_region) {
      std::fprintf(stderr,
                   "pmdb: the public tier's budget (rho %s per %u days) is more than its share of "
                   "the region's (rho %s): the share is what holds\n",
                   security::FormatMicros(settings.public_tier.budget_micros).c_str(),
                   settings.public_tier.period_days,
                   security::FormatMicros(share_of_region).c_str());
    }
    settings.privacy.projects.push_back(
        {.id = kPublicProject,
         .members = {kPublicMember},
         .budget_micros = settings.public_tier.budget_micros,
         .period_days = settings.public_tier.period_days,
         .share_millionths = settings.public_tier.share_millionths});
  }
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
      discloser_(settings_.disclosure, secret),
      public_discloser_(
          [&] {
            security::DisclosureRules rules = settings_.disclosure;
            rules.scale = settings_.public_tier.scale;
            return rules;
          }(),
          // Keyed apart from the researchers' releases, so that a public answer never shares a
          // release (its noise, or its "released before" mark) with a researcher's count.
          StrCat(secret, "\x1fpublic tier")),
      sharing_(settings_),
      contacts_(settings_.region, store, clock),
      mask_keys_(settings_.head_key, settings_.federation_ca),
      rounds_(started_unix_),
      reference_key_(std::move(reference_key)),
      catalog_(std::move(catalog)),
      cases_(std::move(cases)),
      sources_(std::make_shared<StoreSources>(store)),
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

std::shared_ptr<const Sources> NodeCore::sources() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return sources_;
}

void NodeCore::UseShards(std::shared_ptr<const Sources> shards,
                         std::shared_ptr<ShardWrites> writes) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  sources_ = std::move(shards);
  shard_writes_ = std::move(writes);
  sharded_ = true;
}

std::shared_ptr<ShardWrites> NodeCore::shard_writes() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return shard_writes_;
}

absl::Status NodeCore::NotOnShards(std::string_view what) const {
  return absl::FailedPreconditionError(
      StrCat("region ", settings_.region, " keeps its data on shards (pmdb shard list): ", what));
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
    if (!settings_.head_key.empty()) {
      // Read each time: the files are renewed in place like the TLS ones.
      std::ifstream in(settings_.head_certificate, std::ios::binary);
      std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto signature = security::SignWithKeyFile(
          settings_.head_key, security::HeadMessage(reply.region(), reply.entries(),
                                                    reply.head_hash(), reply.time_unix_micros()));
      if (signature.ok() && !pem.empty()) {
        reply.set_signature(*signature);
        reply.set_certificate(std::move(pem));
      } else {
        std::fprintf(stderr, "pmdb: the audit head could not be signed: %s\n",
                     signature.ok() ? "the certificate is unreadable"
                                    : signature.status().ToString().c_str());
      }
    }
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
    // What the hub needs for a national round: whether this region gives shares, on which
    // terms, and the certificate its masks are agreed with (read now: it may have rotated).
    const security::DisclosureRules& rules = settings_.disclosure;
    info.set_national_shares(rules.differential_privacy && rules.close_side_channels &&
                             !settings_.federation_ca.empty() && !settings_.head_key.empty());
    info.set_national_collusion(rules.national_collusion);
    if (!settings_.head_certificate.empty()) {
      std::ifstream in(settings_.head_certificate);
      info.set_certificate(std::string(std::istreambuf_iterator<char>(in), {}));
    }
    auto held = catalog();
    for (const std::string& a : held->assemblies()) info.add_assemblies(a);
    for (const auto& [id, dataset] : held->datasets()) {
      v1::DatasetName* d = info.add_datasets();
      d->set_id(id);
      d->set_assembly(dataset.assembly());
    }
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
          return Releaser(engine, discloser_).QuoteCount(*sources()->Open(), request.criterion());
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::CountAnswer>(
      std::move(caller), "count", request.criterion(), sharing_, now, entry,
      [&](v1::Purpose purpose) {
        query::Engine engine = DisclosingEngine();
        return Releaser(engine, discloser_).Count(*sources()->Open(), request.criterion(), purpose);
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
              .QuoteBreakdown(*sources()->Open(), request.criterion(), *dims, *diagnoses);
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::BreakdownAnswer>(
      std::move(caller), "breakdown", request.criterion(), sharing_, now, entry,
      [&](v1::Purpose purpose) {
        query::Engine engine = DisclosingEngine();
        return Releaser(engine, discloser_)
            .Breakdown(*sources()->Open(), request.criterion(), *dims, *diagnoses, purpose);
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
              .QuoteFrequency(*sources()->Open(), request.criterion());
        });
    call::Finish(*audit_, std::move(entry), std::move(quote), Paced(arrived, std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::FrequencyAnswer>(std::move(caller), "frequency", request.criterion(),
                                               sharing_, now, entry, [&](v1::Purpose purpose) {
                                                 query::Engine engine = DisclosingEngine();
                                                 return Releaser(engine, discloser_)
                                                     .Frequency(*sources()->Open(),
                                                                request.criterion(), purpose);
                                               });
  Done<v1::FrequencyAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

void NodeCore::NationalShare(const Credentials& who, const v1::NationalShareRequest& request,
                             Done<v1::NationalShareAnswer> done) {
  const auto arrived = Pacer::Steady::now();
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry;
  auto caller = Authorize(who, Method::kRegionNationalShare, &entry);
  const v1::Criterion* criterion = nullptr;
  std::string kind;
  std::vector<v1::Dimension> dims;
  std::vector<std::string> diagnoses;
  switch (request.question_case()) {
    case v1::NationalShareRequest::kCount:
      kind = "count";
      criterion = &request.count().criterion();
      break;
    case v1::NationalShareRequest::kBreakdown: {
      kind = "breakdown";
      criterion = &request.breakdown().criterion();
      auto d = query::CheckDimensions(request.breakdown().dimensions());
      auto g = d.ok() ? query::CheckDiagnoses(*d, request.breakdown().diagnoses())
                      : absl::StatusOr<std::vector<std::string>>(d.status());
      if (caller.ok() && !g.ok()) caller = g.status();
      if (g.ok()) {
        dims = *d;
        diagnoses = *g;
      }
      break;
    }
    case v1::NationalShareRequest::kFrequency:
      kind = "frequency";
      criterion = &request.frequency().criterion();
      break;
    default:
      if (caller.ok()) caller = absl::InvalidArgumentError("a share of what? (no question)");
  }
  // The round: every other region's certificate checked, a secret agreed with each.
  std::vector<security::RosterMember> roster;
  for (const v1::RosterMember& m : request.roster()) {
    roster.push_back({m.region(), m.certificate()});
  }
  if (caller.ok() && settings_.federation_ca.empty()) {
    caller = absl::FailedPreconditionError(
        StrCat("region ", settings_.region, " gives no shares of national totals (no CA)"));
  }
  // The round's terms must protect this region at least as its own do: every region of it
  // adds a share of the same sigma, sized for the same collusion.
  const security::DisclosureRules& rules = settings_.disclosure;
  if (caller.ok() && (request.sigma_centi() < rules.scale.sigma_centi ||
                      request.collusion() < rules.national_collusion)) {
    caller = absl::FailedPreconditionError(
        StrCat("region ", settings_.region, " gives shares only for a total of noise sd at least ",
               rules.scale.sigma(), " with at least ", rules.national_collusion,
               " colluding regions assumed; the round asked sd ", request.sigma_centi() / 100.0,
               " and ", request.collusion()));
  }
  if (caller.ok()) {
    // The roster checked before any data is read (the masks, bound to the question as read, are
    // agreed once it has been); this region's own entry must be its current certificate, or the
    // others would mask with a key it no longer has.
    auto checked =
        security::MaskSession::Open(mask_keys_, settings_.region, roster, request.round(), "", now);
    if (!checked.ok()) caller = checked.status();
    for (const security::RosterMember& m : roster) {
      if (!caller.ok() || m.region != settings_.region) continue;
      auto same = mask_keys_.IsOwn(m.certificate_pem);
      if (!same.ok()) {
        caller = same.status();
      } else if (!*same) {
        caller =
            absl::AbortedError(StrCat("the round names a certificate of region ", settings_.region,
                                      " that is not its current one (ask its Info again)"));
      }
    }
  }
  // One round id, one share: the same masks must never cover two values. Taken before any data
  // is read, and refused on every second use, so that whether a reused id is refused does not
  // depend on the data (a release that changed with it, say).
  if (caller.ok()) {
    if (absl::Status fresh = rounds_.Take(request.round(), now); !fresh.ok()) caller = fresh;
  }
  auto share = security::ShareVariance(security::NoiseScale{request.sigma_centi()},
                                       static_cast<uint32_t>(roster.size()), request.collusion());
  if (caller.ok() && !share.ok()) caller = share.status();
  NationalRoundShare round;
  if (share.ok()) {
    round = {.roster_key = StrCat(security::Hex(security::RosterDigest(roster)), " sd ",
                                  request.sigma_centi(), " collusion ", request.collusion()),
             .share = *share,
             .honest = static_cast<uint32_t>(roster.size()) - request.collusion()};
  }
  static const v1::Criterion kNone;
  auto answer = Aggregate<v1::NationalShareAnswer>(
      std::move(caller), kind, criterion != nullptr ? *criterion : kNone, sharing_, now, entry,
      [&](v1::Purpose purpose) -> absl::StatusOr<Release<v1::NationalShareAnswer>> {
        query::Engine engine = DisclosingEngine();
        Releaser releaser(engine, discloser_);
        std::unique_ptr<Source> source = sources()->Open();
        absl::StatusOr<Release<core::NationalShare>> made =
            kind == "count" ? releaser.ShareCount(*source, *criterion, purpose, round)
            : kind == "breakdown"
                ? releaser.ShareBreakdown(*source, *criterion, dims, diagnoses, purpose, round)
                : releaser.ShareFrequency(*source, *criterion, purpose, round);
        if (!made.ok()) return made.status();
        auto masks = security::MaskSession::Open(mask_keys_, settings_.region, roster,
                                                 request.round(), made->answer.question, now);
        if (!masks.ok()) return masks.status();
        Release<v1::NationalShareAnswer> out{.answer = std::move(made->answer.answer),
                                             .fingerprint = std::move(made->fingerprint),
                                             .cost_micros = made->cost_micros};
        std::vector<int64_t> values = std::move(made->answer.values);
        values.push_back(0);  // the check: 0, no noise
        std::vector<uint64_t> masked = masks->Mask(values);
        out.answer.set_check(masked.back());
        masked.pop_back();
        for (uint64_t m : masked) out.answer.add_masked(m);
        out.answer.set_question_digest(security::QuestionDigest(made->answer.question));
        out.answer.set_honest(round.honest);
        return out;
      });
  Done<v1::NationalShareAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

}  // namespace pmdb::core

namespace pmdb::core {
namespace {

// The noise of a catalogue as requested, or why it cannot be: the sites must be single
// variant() leaves, as many as one question may hold; the noise at least a frequency
// answer's, so no site is told more precisely than a frequency question would tell it.
absl::StatusOr<security::NoiseScale> CatalogueScale(const v1::CatalogueRequest& request,
                                                    const security::DisclosureRules& rules) {
  // Many sites' exact counts at once are what a membership attack needs (docs/disclosure.md,
  // "The national catalogue"), and a batch's time is hidden only by paced answers.
  if (!rules.differential_privacy || !rules.close_side_channels || rules.response_quantum_ms == 0) {
    return absl::FailedPreconditionError(
        "this region answers catalogues only under differential privacy, with side channels "
        "closed and answers paced ([disclosure])");
  }
  const size_t most = query::Limits().max_criteria;
  if (request.sites().empty()) return absl::InvalidArgumentError("a catalogue needs sites");
  if (static_cast<size_t>(request.sites_size()) > most) {
    return absl::InvalidArgumentError(StrCat("a catalogue's batch holds at most ", most,
                                             " sites ([limits] max_criteria); ",
                                             request.sites_size(), " were given"));
  }
  for (int i = 0; i < request.sites_size(); ++i) {
    if (!request.sites(i).has_variant()) {
      return absl::InvalidArgumentError(StrCat("site ", i + 1,
                                               " of a catalogue must be one variant(), not '",
                                               query::FormatCriterion(request.sites(i)), "'"));
    }
  }
  const double floor = 2 * rules.scale.sigma();
  const double sigma = request.sigma();
  if (!(sigma >= floor) || sigma > 1e5) {
    return absl::InvalidArgumentError(
        StrCat("a catalogue's noise (sigma) must be between ", floor,
               " (a frequency answer's, twice the region's sigma) and 100000; got ", sigma));
  }
  return security::NoiseScale{static_cast<uint32_t>(std::ceil(sigma * 100 - 1e-6))};
}

// When a catalogue batch of `sites` that started at `started` may leave: its allowance
// (security::kCatalogueSiteAllowance per site), doubled until it is not yet over.
Pacer::Steady::time_point ReleaseAfter(Pacer::Steady::time_point started, int sites) {
  Pacer::Steady::duration allowance = std::chrono::duration_cast<Pacer::Steady::duration>(
      security::kCatalogueSiteAllowance * std::max(sites, 1));
  const auto now = Pacer::Steady::now();
  while (started + allowance < now && allowance < std::chrono::minutes(10)) allowance *= 2;
  return started + allowance;
}

// The question a catalogue's batch is admitted, recorded and rate-limited as: its sites OR-ed.
v1::Criterion AnyOfSites(const v1::CatalogueRequest& request) {
  if (request.sites_size() == 1) return request.sites(0);
  v1::Criterion any;
  for (const v1::Criterion& site : request.sites()) *any.mutable_any_of()->add_items() = site;
  return any;
}

}  // namespace

void NodeCore::Catalogue(const Credentials& who, const v1::CatalogueRequest& request,
                         Done<v1::CatalogueAnswer> done) {
  // Not before every site's allowance has passed, so the time to answer is the question's; work
  // that overruns it shows only as a doubling of the allowance (ReleaseAfter below).
  const auto started = Pacer::Steady::now();
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry;
  auto caller = Authorize(who, Method::kRegionCatalogue, &entry);
  auto scale = CatalogueScale(request, settings_.disclosure);
  if (caller.ok() && !scale.ok()) caller = scale.status();
  const v1::Criterion all = scale.ok() ? AnyOfSites(request) : v1::Criterion();
  const std::vector<v1::Criterion> sites(request.sites().begin(), request.sites().end());
  if (request.cost_only()) {
    auto quote = Quoted<v1::CatalogueAnswer>(
        std::move(caller), "frequency", all, sharing_, discloser_, now, entry, [&] {
          query::Engine engine = DisclosingEngine();
          return Releaser(engine, discloser_).QuoteCatalogue(*sources()->Open(), sites, *scale);
        });
    call::Finish(*audit_, std::move(entry), std::move(quote),
                 Paced(ReleaseAfter(started, request.sites_size()), std::move(done)));
    return;
  }
  auto answer = Aggregate<v1::CatalogueAnswer>(
      std::move(caller), "frequency", all, sharing_, now, entry, [&](v1::Purpose purpose) {
        query::Engine engine = DisclosingEngine();
        return Releaser(engine, discloser_).Catalogue(*sources()->Open(), sites, *scale, purpose);
      });
  Done<v1::CatalogueAnswer> paced = Paced(ReleaseAfter(started, request.sites_size()),
                                          RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

}  // namespace pmdb::core

namespace pmdb::core {

void NodeCore::PublicExists(const v1::Criterion& variant, Done<v1::PublicAnswer> done,
                            Pacer::Steady::time_point arrived) {
  const int64_t now = clock_->NowSeconds();
  v1::AuditEntry entry = call::NewEntry(Method::kPublicExists, settings_.region);
  entry.set_caller(kPublicCaller);
  entry.set_role("public");
  auto run = [&]() -> absl::StatusOr<v1::PublicAnswer> {
    const PublicTier& tier = settings_.public_tier;
    if (!tier.enabled) {
      return absl::PermissionDeniedError(
          StrCat("region ", settings_.region, " has no public tier"));
    }
    absl::Status limited = query::CheckLimits(variant);
    if (!limited.ok()) return limited;
    if (!variant.has_variant()) {
      return absl::InvalidArgumentError(
          "the public tier answers whether one variant is seen, nothing else");
    }
    entry.set_query(query::FormatCriterion(variant));
    entry.set_project(kPublicProject);
    query::Engine engine = DisclosingEngine();
    Releaser releaser(engine, public_discloser_);
    auto view = sources()->Open();
    const security::Identity anyone{.uri = kPublicCaller,
                                    .federation = settings_.federation,
                                    .role = security::Role::kResearcher,
                                    .name = kPublicMember};
    const call::Caller caller{anyone, anyone};
    auto refused = [](const absl::Status& s) -> absl::Status {
      if (s.code() != absl::StatusCode::kResourceExhausted) return s;
      return absl::ResourceExhaustedError(StrCat(
          "the region's public tier has spent its privacy budget for now (variants asked before "
          "are still answered): ",
          std::string(s.message())));
    };
    // Priced before any data is read: a question the budget refuses reads nothing, and one
    // answered before is answered from memory, so no data is read but for a paid release.
    auto quote = releaser.QuoteCount(*view, variant);
    if (!quote.ok()) return quote.status();
    std::optional<v1::PublicAnswer> kept = RememberedPublicAnswer(quote->fingerprint);
    if (!kept.has_value()) {
      auto price = sharing_.PriceRelease(caller, kPublicProject, quote->fingerprint,
                                         quote->cost_micros, now);
      if (!price.ok()) return refused(price.status());
    }
    v1::PublicAnswer answer;
    std::string fingerprint = quote->fingerprint;
    uint64_t cost = quote->cost_micros;
    if (kept.has_value()) {
      answer = *std::move(kept);
    } else {
      auto release = releaser.Count(*view, variant, v1::RESEARCH);
      if (!release.ok()) return release.status();
      const v1::ReleasedCount& count = release->answer.count();
      // Only the comparison with the threshold leaves; the noised count stays here.
      answer.set_exists(count.has_noised() && count.noised() >= int64_t{tier.threshold});
      answer.set_noise_sd(count.noise_sd());
      answer.set_threshold(tier.threshold);
      for (const std::string& w : release->answer.warnings()) answer.add_warnings(w);
      fingerprint = release->fingerprint;
      cost = release->cost_micros;
    }
    auto charged = sharing_.ChargeRelease(caller, kPublicProject, fingerprint, cost, now);
    if (!charged.ok()) return refused(charged.status());
    RememberPublicAnswer(fingerprint, answer);
    entry.set_release(fingerprint);
    entry.set_rho_micros(*charged);
    entry.set_released(StrCat("exists=", answer.exists() ? "true" : "false"));
    return answer;
  };
  auto answer = run();
  Done<v1::PublicAnswer> paced =
      Paced(arrived, RefundIfLost(entry, answer.ok(), now, std::move(done)));
  call::Finish(*audit_, std::move(entry), std::move(answer), std::move(paced));
}

std::optional<v1::PublicAnswer> NodeCore::RememberedPublicAnswer(
    const std::string& fingerprint) const {
  std::lock_guard<std::mutex> lock(public_mu_);
  auto it = public_answers_.find(fingerprint);
  if (it == public_answers_.end()) return std::nullopt;
  return it->second;
}

void NodeCore::RememberPublicAnswer(const std::string& fingerprint,
                                    const v1::PublicAnswer& answer) {
  std::lock_guard<std::mutex> lock(public_mu_);
  // Bounded: after a restart or a clear a repeat is evaluated again (and is still free).
  if (public_answers_.size() >= 100'000) public_answers_.clear();
  public_answers_.emplace(fingerprint, answer);
}

}  // namespace pmdb::core
