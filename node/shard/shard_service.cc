#include "node/shard/shard_service.h"

#include <algorithm>
#include <cstdio>

#include "node/base/strings.h"
#include "node/core/similar.h"
#include "node/core/source.h"
#include "node/core/upload.h"
#include "node/shard/shard_map.h"
#include "node/storage/keys.h"
#include "node/transport/admin_service.h"
#include "node/transport/reactor.h"
#include "node/transport/status.h"
#include "node/transport/tls.h"

namespace pmdb::shard {
namespace {

namespace keys = storage::keys;

template <typename Reply>
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, absl::StatusOr<Reply> r,
                                 Reply* reply) {
  auto* reactor = context->DefaultReactor();
  if (r.ok()) *reply = std::move(*r);
  reactor->Finish(transport::ToGrpc(r.status()));
  return reactor;
}

}  // namespace

query::EngineOptions OptionsOf(const v1::EngineMode& mode) {
  return query::EngineOptions{.work = mode.short_circuit()
                                          ? query::Executor::Work::kShortCircuit
                                          : query::Executor::Work::kDataIndependent,
                              .checks = mode.checks_when_reached() ? query::Checks::kWhenReached
                                                                   : query::Checks::kBeforeReading,
                              .bounded_contributions = !mode.every_copy(),
                              .public_cells = !mode.cells_from_data()};
}

v1::EngineMode ModeOf(const query::EngineOptions& options) {
  v1::EngineMode mode;
  mode.set_short_circuit(options.work == query::Executor::Work::kShortCircuit);
  mode.set_checks_when_reached(options.checks == query::Checks::kWhenReached);
  mode.set_every_copy(!options.bounded_contributions);
  mode.set_cells_from_data(!options.public_cells);
  return mode;
}

absl::Status NodeOfRegion(const grpc::ServerContextBase& context, const std::string& region) {
  auto auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("a shard answers over mutual TLS only");
  auto peer = transport::PeerIdentity(*auth);
  if (!peer.ok()) return peer.status();
  if (peer->role != security::Role::kNode || peer->region != region) {
    return absl::PermissionDeniedError(
        StrCat("a shard of region ", region, " answers that region's node only, not ", peer->uri));
  }
  return absl::OkStatus();
}

// The store the node expects: refused when this one is not it.
absl::Status Expected(const storage::ReadView& view, const v1::ShardExpect& expect) {
  auto range = storage::ShardRangeOf(view);
  if (!range.ok()) return range.status();
  if (range->id != expect.store_id() || range->first != expect.first_ordinal() ||
      range->end != expect.end_ordinal()) {
    return absl::FailedPreconditionError(
        StrCat("this shard's store is ", range->id, " with ordinals ", range->first, "-",
               range->end, ", not ", expect.store_id(), " with ", expect.first_ordinal(), "-",
               expect.end_ordinal(), " as the node's shard map says (re-read the map)"));
  }
  return absl::OkStatus();
}

absl::Status ShardServiceImpl::Allowed(const grpc::CallbackServerContext& context) const {
  return NodeOfRegion(context, region_);
}

absl::StatusOr<std::shared_ptr<const vocab::Catalog>> ShardServiceImpl::CatalogAt(
    const storage::ReadView& view, const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (catalog_ == nullptr || catalog_version_ != version) {
    auto loaded = vocab::Catalog::Load(view);
    if (!loaded.ok()) return loaded.status();
    catalog_ = std::move(*loaded);
    catalog_version_ = version;
  }
  return catalog_;
}

absl::StatusOr<ShardServiceImpl::Reading> ShardServiceImpl::Begin(
    const grpc::CallbackServerContext& context, const v1::ShardExpect& expect,
    const v1::EngineMode& mode) {
  absl::Status allowed = Allowed(context);
  if (!allowed.ok()) return allowed;
  std::unique_ptr<storage::ReadView> view = store_->Snapshot();
  absl::Status expected = Expected(*view, expect);
  if (!expected.ok()) return expected;
  auto version = storage::DataVersion(*view);
  if (!version.ok()) return version.status();
  auto catalog = CatalogAt(*view, *version);
  if (!catalog.ok()) return catalog.status();
  query::Engine engine(*catalog, OptionsOf(mode));
  return Reading{std::move(view), std::move(*version), std::move(*catalog), std::move(engine)};
}

grpc::ServerUnaryReactor* ShardServiceImpl::Describe(grpc::CallbackServerContext* context,
                                                     const v1::DescribeShardRequest*,
                                                     v1::ShardDescription* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardDescription> {
    absl::Status allowed = Allowed(*context);
    if (!allowed.ok()) return allowed;
    auto view = store_->Snapshot();
    v1::ShardDescription d;
    d.set_region(region_);
    auto version = storage::DataVersion(*view);
    if (!version.ok()) return version.status();
    d.set_data_version(*version);
    absl::Status scanned = view->Scan(
        storage::Family::kMeta, "", "", [&](std::string_view key, std::string_view value) {
          if (keys::IsDataMetaKey(key)) {
            (*d.mutable_data_meta())[std::string(key)] = std::string(value);
          }
          return true;
        });
    if (!scanned.ok()) return scanned;
    auto range = storage::ShardRangeOf(*view);
    if (!range.ok()) return range.status();
    d.set_first_ordinal(range->first);
    d.set_end_ordinal(range->end);
    d.set_store_id(range->id);
    auto all = view->GetBitmap(keys::kAllIndividuals);
    auto research = view->GetBitmap(keys::Consent("research"));
    auto care = view->GetBitmap(keys::Consent("care"));
    if (!all.ok() || !research.ok() || !care.ok()) {
      return !all.ok() ? all.status() : !research.ok() ? research.status() : care.status();
    }
    d.set_individuals(all->Cardinality());
    d.set_consent_research(research->Cardinality());
    d.set_consent_care(care->Cardinality());
    auto next = view->Get(storage::Family::kMeta, keys::kMetaNextOrdinal);
    if (!next.ok()) return next.status();
    d.set_next_ordinal(next->has_value() && (*next)->size() == 4 ? keys::ReadBE32(**next)
                                                                 : range->first);
    return d;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Count(grpc::CallbackServerContext* context,
                                                  const v1::ShardCountRequest* request,
                                                  v1::ShardCount* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardCount> {
    auto r = Begin(*context, request->expect(), request->mode());
    if (!r.ok()) return r.status();
    const storage::ReadView& view = *r->view;
    const query::Engine& engine = r->engine;
    const std::string& version = r->version;
    auto a = engine.Count(view, request->criterion(), request->purpose());
    if (!a.ok()) return a.status();
    v1::ShardCount out;
    out.set_count(a->value);
    out.set_question(a->question);
    out.set_data_version(version);
    return out;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                      const v1::ShardBreakdownRequest* request,
                                                      v1::ShardBreakdown* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardBreakdown> {
    auto r = Begin(*context, request->expect(), request->mode());
    if (!r.ok()) return r.status();
    const storage::ReadView& view = *r->view;
    const query::Engine& engine = r->engine;
    const std::string& version = r->version;
    auto dims = query::CheckDimensions(request->dimensions());
    if (!dims.ok()) return dims.status();
    auto diagnoses = query::CheckDiagnoses(*dims, request->diagnoses());
    if (!diagnoses.ok()) return diagnoses.status();
    auto a = engine.Breakdown(view, request->criterion(), *dims, request->purpose(), *diagnoses);
    if (!a.ok()) return a.status();
    v1::ShardBreakdown out;
    *out.mutable_breakdown() = std::move(a->value);
    out.set_question(a->question);
    out.set_data_version(version);
    return out;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                      const v1::ShardFrequencyRequest* request,
                                                      v1::ShardFrequency* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardFrequency> {
    auto r = Begin(*context, request->expect(), request->mode());
    if (!r.ok()) return r.status();
    const storage::ReadView& view = *r->view;
    const query::Engine& engine = r->engine;
    const std::string& version = r->version;
    auto a = engine.Frequency(view, request->criterion(), request->purpose());
    if (!a.ok()) return a.status();
    v1::ShardFrequency out;
    out.mutable_frequency()->set_ac(a->value.ac);
    out.mutable_frequency()->set_an(a->value.an);
    out.set_question(a->question);
    out.set_data_version(version);
    return out;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Frequencies(grpc::CallbackServerContext* context,
                                                        const v1::ShardFrequenciesRequest* request,
                                                        v1::ShardFrequencies* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardFrequencies> {
    auto r = Begin(*context, request->expect(), request->mode());
    if (!r.ok()) return r.status();
    const storage::ReadView& view = *r->view;
    const query::Engine& engine = r->engine;
    const std::string& version = r->version;
    const std::vector<v1::Criterion> sites(request->sites().begin(), request->sites().end());
    auto a = engine.Frequencies(view, sites, request->purpose());
    if (!a.ok()) return a.status();
    v1::ShardFrequencies out;
    for (const query::Answer<query::AlleleFrequency>& site : *a) {
      v1::Frequency* f = out.add_sites();
      f->set_ac(site.value.ac);
      f->set_an(site.value.an);
      out.add_questions(site.question);
    }
    out.set_data_version(version);
    return out;
  };
  return Finish(context, run(), reply);
}

absl::StatusOr<std::shared_ptr<const query::CaseIndex>> ShardServiceImpl::CasesAt(
    const Reading& r) {
  std::lock_guard<std::mutex> lock(cases_mu_);
  if (cases_ == nullptr || cases_version_ != r.version) {
    auto built = query::CaseIndex::Build(*r.view, *r.catalog);
    if (!built.ok()) return built.status();
    cases_ = std::move(*built);
    cases_version_ = r.version;
  }
  return cases_;
}

absl::StatusOr<std::shared_ptr<const query::Weights>> ShardServiceImpl::WeightsOf(
    const Reading& r, const std::shared_ptr<const query::CaseIndex>& cases,
    const v1::ShardTermCounts& region) {
  // Map order is not fixed on the wire: the key is the counts as sorted pairs.
  std::vector<std::pair<std::string, uint64_t>> sorted(region.terms().begin(),
                                                       region.terms().end());
  std::sort(sorted.begin(), sorted.end());
  std::string key = StrCat(region.cases());
  for (const auto& [term, n] : sorted) StrAppend(&key, ";", term, "=", n);
  std::lock_guard<std::mutex> lock(cases_mu_);
  if (weights_ != nullptr && weights_cases_ == cases && weights_counts_ == key) {
    return weights_;
  }
  const vocab::Ontology* ontology = r.catalog->ontology();
  query::TermCounts counts{.cases = region.cases(), .per_term = {}};
  if (ontology != nullptr) counts.per_term.assign(ontology->size(), 0);
  for (const auto& [term, n] : sorted) {
    std::optional<uint32_t> t = ontology == nullptr ? std::nullopt : ontology->Find(term);
    if (!t.has_value()) {
      return absl::FailedPreconditionError(
          StrCat("the region's phenotype counts name ", term,
                 ", which this shard's ontology does not hold (every shard must hold the "
                 "region's reference files)"));
    }
    counts.per_term[*t] = n;
  }
  auto weights = cases->WeightsFor(std::move(counts));
  if (!weights.ok()) return weights.status();
  weights_ = std::make_shared<const query::Weights>(std::move(*weights));
  weights_cases_ = cases;
  weights_counts_ = std::move(key);
  return weights_;
}

ShardServiceImpl::ShardServiceImpl(std::string region, storage::Store* store)
    : region_(std::move(region)), store_(store) {
  warmer_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(warm_mu_);
    for (;;) {
      warm_wake_.wait(lock, [&] { return warm_wanted_ || stopping_; });
      if (stopping_) return;
      warm_wanted_ = false;
      lock.unlock();
      Warm();
      lock.lock();
    }
  });
}

ShardServiceImpl::~ShardServiceImpl() {
  {
    std::lock_guard<std::mutex> lock(warm_mu_);
    stopping_ = true;
  }
  warm_wake_.notify_all();
  warmer_.join();
}

void ShardServiceImpl::WarmSoon() {
  {
    std::lock_guard<std::mutex> lock(warm_mu_);
    warm_wanted_ = true;
  }
  warm_wake_.notify_all();
}

void ShardServiceImpl::Warm() {
  std::unique_ptr<storage::ReadView> view = store_->Snapshot();
  auto version = storage::DataVersion(*view);
  if (!version.ok()) return;
  auto catalog = CatalogAt(*view, *version);
  if (!catalog.ok()) return;
  query::Engine engine(*catalog, query::EngineOptions{});
  Reading r{std::move(view), std::move(*version), std::move(*catalog), std::move(engine)};
  auto cases = CasesAt(r);
  if (!cases.ok()) {
    std::fprintf(stderr, "pmdb shard: indexing the cases failed: %s\n",
                 cases.status().ToString().c_str());
  }
}

grpc::ServerUnaryReactor* ShardServiceImpl::TermCounts(grpc::CallbackServerContext* context,
                                                       const v1::TermCountsRequest* request,
                                                       v1::ShardTermCounts* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardTermCounts> {
    auto r = Begin(*context, request->expect(), v1::EngineMode());
    if (!r.ok()) return r.status();
    auto cases = CasesAt(*r);
    if (!cases.ok()) return cases.status();
    const query::TermCounts& own = (*cases)->ic().counts();
    v1::ShardTermCounts out;
    out.set_cases(own.cases);
    const vocab::Ontology* ontology = (*cases)->ontology();
    for (size_t t = 0; ontology != nullptr && t < own.per_term.size(); ++t) {
      if (own.per_term[t] == 0) continue;
      (*out.mutable_terms())[ontology->term(static_cast<uint32_t>(t)).id] = own.per_term[t];
    }
    out.set_data_version(r->version);
    return out;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Rank(grpc::CallbackServerContext* context,
                                                 const v1::ShardRankRequest* request,
                                                 v1::ShardRanking* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardRanking> {
    auto r = Begin(*context, request->expect(), v1::EngineMode());
    if (!r.ok()) return r.status();
    auto cases = CasesAt(*r);
    if (!cases.ok()) return cases.status();
    auto weights = WeightsOf(*r, *cases, request->region());
    if (!weights.ok()) return weights.status();
    const std::vector<uint32_t> barred(request->not_returnable().begin(),
                                       request->not_returnable().end());
    core::RankOptions options{.top = request->top(), .weights = weights->get()};
    if (!barred.empty()) {
      options.eligible = [&](uint32_t ordinal) {
        return !std::binary_search(barred.begin(), barred.end(), ordinal);
      };
    }
    auto ranked =
        core::ScoreCases(**cases, *r->view, request->question(), options, request->subject_ids());
    if (!ranked.ok()) return ranked.status();
    v1::ShardRanking out;
    *out.mutable_matches() = std::move(*ranked->answer.mutable_matches());
    for (uint32_t o : ranked->ordinals) out.add_ordinals(o);
    *out.mutable_notes() = std::move(*ranked->answer.mutable_notes());
    out.set_cases_considered(ranked->answer.cases_considered());
    out.set_data_version(r->version);
    return out;
  };
  return Finish(context, run(), reply);
}

grpc::ServerUnaryReactor* ShardServiceImpl::Person(grpc::CallbackServerContext* context,
                                                   const v1::ShardPersonRequest* request,
                                                   v1::ShardPerson* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardPerson> {
    absl::Status allowed = Allowed(*context);
    if (!allowed.ok()) return allowed;
    auto view = store_->Snapshot();
    absl::Status expected = Expected(*view, request->expect());
    if (!expected.ok()) return expected;
    auto person = core::PersonIn(*view, request->ordinal());
    if (!person.ok()) return person.status();
    v1::ShardPerson out;
    if (person->has_value()) {
      out.set_found(true);
      *out.mutable_record() = std::move((*person)->record);
      out.set_care((*person)->care);
    }
    return out;
  };
  return Finish(context, run(), reply);
}

absl::Status ShardAdminServiceImpl::Writer(const grpc::ServerContext& context) const {
  absl::Status allowed = NodeOfRegion(context, region_);
  if (!allowed.ok() || leader_ == nullptr) return allowed;
  const auto& metadata = context.client_metadata();
  auto token = metadata.find(kLeaderMetadata);
  return leader_(token == metadata.end() ? std::string()
                                         : std::string(token->second.data(), token->second.size()));
}

grpc::Status ShardAdminServiceImpl::Holds(grpc::ServerContext* context,
                                          const v1::ShardSubjectsRequest* request,
                                          v1::ShardSubjectsReply* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardSubjectsReply> {
    absl::Status allowed = NodeOfRegion(*context, region_);
    if (!allowed.ok()) return allowed;
    auto view = store_->Snapshot();
    v1::ShardSubjectsReply out;
    for (int i = 0; i < request->subjects_size(); ++i) {
      auto held =
          view->Get(storage::Family::kIndividuals, keys::SubjectIndex(request->subjects(i)));
      if (!held.ok()) return held.status();
      if (held->has_value()) {
        out.add_held(static_cast<uint32_t>(i));
        out.add_ordinals((*held)->size() == 4 ? keys::ReadBE32(**held) : 0);
      }
      auto opted = view->Get(storage::Family::kIndividuals, keys::OptOut(request->subjects(i)));
      if (!opted.ok()) return opted.status();
      if (opted->has_value()) out.add_opted_out(static_cast<uint32_t>(i));
    }
    return out;
  };
  return transport::ReplyWith(run(), reply);
}

grpc::Status ShardAdminServiceImpl::Ingest(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::IngestChunk>* reader,
                                           v1::IngestReply* reply) {
  auto run = [&]() -> absl::StatusOr<v1::IngestReply> {
    absl::Status allowed = Writer(*context);
    if (!allowed.ok()) return allowed;
    transport::GrpcUpload stream(context, reader);
    auto upload = core::ReceiveUpload(stream);
    if (!upload.ok()) return upload.status();
    auto ingested = core::IngestUpload(*store_, *upload);
    if (ingested.ok() && written_) written_();
    return ingested;
  };
  return transport::ReplyWith(run(), reply);
}

grpc::Status ShardAdminServiceImpl::OptOut(grpc::ServerContext* context,
                                           const v1::ConsentRequest* request,
                                           v1::ConsentReply* reply) {
  absl::Status allowed = Writer(*context);
  if (!allowed.ok()) return transport::ToGrpc(allowed);
  auto applied = core::ApplyOptOuts(*store_, *request);
  if (applied.ok() && written_) written_();
  return transport::ReplyWith(std::move(applied), reply);
}

bool IsReferenceKey(std::string_view key) {
  return keys::IsDataMetaKey(key) && !key.starts_with(keys::kMetaDatasetPrefix);
}

grpc::Status ShardAdminServiceImpl::AdoptReferences(grpc::ServerContext* context,
                                                    const v1::ShardReferences* request,
                                                    v1::ShardReferences* reply) {
  auto run = [&]() -> absl::StatusOr<v1::ShardReferences> {
    absl::Status allowed = Writer(*context);
    if (!allowed.ok()) return allowed;
    auto lock = store_->WriteLock();
    auto view = store_->Snapshot();
    storage::WriteBatch batch = store_->NewBatch();
    bool any = false;
    v1::ShardReferences out;
    for (const auto& [key, value] : request->entries()) {
      if (!IsReferenceKey(key)) {
        return absl::InvalidArgumentError(StrCat("'", key, "' names no reference file"));
      }
      auto held = view->Get(storage::Family::kMeta, key);
      if (!held.ok()) return held.status();
      if (held->has_value()) {
        (*out.mutable_entries())[key] = **held;
        continue;
      }
      batch.Put(storage::Family::kMeta, key, value);
      (*out.mutable_entries())[key] = value;
      any = true;
    }
    if (any) {
      absl::Status written = store_->Write(batch);
      if (!written.ok()) return written;
    }
    return out;
  };
  return transport::ReplyWith(run(), reply);
}

}  // namespace pmdb::shard
