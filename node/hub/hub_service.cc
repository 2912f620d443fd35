#include "node/hub/hub_service.h"

#include <atomic>
#include <functional>

#include "node/base/strings.h"
#include "node/service/peer.h"
#include "node/service/status.h"
#include "query/case_query.h"
#include "query/engine.h"
#include "query/federation.h"
#include "query/parser.h"
#include "security/case_ref.h"
#include "security/policy.h"

namespace pmdb::hub {
namespace {

using security::Method;
using Clock = std::chrono::steady_clock;

v1::RegionStatus StatusOf(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return v1::REGION_OK;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return v1::REGION_DEADLINE_EXCEEDED;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return v1::REGION_REFUSED;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
      return v1::REGION_INVALID;
    default:
      return v1::REGION_UNAVAILABLE;
  }
}

// One federated call in flight: the researcher's call, one outgoing call per region, and what
// to do when the last region has answered or failed.
template <typename Answer>
struct FanOut {
  struct Leg {
    grpc::ClientContext context;
    Answer answer;
    grpc::Status status;
    Clock::time_point started;
    uint32_t elapsed_ms = 0;
  };
  std::vector<std::unique_ptr<Leg>> legs;
  std::atomic<size_t> remaining{0};
  std::function<void()> done;

  void Finished() {
    if (remaining.fetch_sub(1) == 1) done();
  }
};

// Starts one call per region. `call(stub, context, leg)` issues the asynchronous call and must
// run `leg_done` when it completes.
template <typename Answer>
std::shared_ptr<FanOut<Answer>> Start(
    const std::vector<Region>& regions, const security::Identity& user,
    std::chrono::system_clock::time_point deadline,
    const std::function<void(v1::RegionService::StubInterface*, typename FanOut<Answer>::Leg*,
                             std::function<void(grpc::Status)>)>& call,
    std::function<void(FanOut<Answer>&)> done) {
  auto fan = std::make_shared<FanOut<Answer>>();
  for (size_t i = 0; i < regions.size(); ++i) {
    fan->legs.push_back(std::make_unique<typename FanOut<Answer>::Leg>());
  }
  fan->remaining = regions.size();
  // The shared state stays alive until `done` has run (the last callback holds it).
  fan->done = [fan_raw = fan.get(), done = std::move(done)] { done(*fan_raw); };
  for (size_t i = 0; i < regions.size(); ++i) {
    auto* leg = fan->legs[i].get();
    leg->context.set_deadline(deadline);
    leg->context.AddMetadata(security::kOnBehalfOfKey, user.uri);
    leg->started = Clock::now();
    call(regions[i].stub.get(), leg, [fan, leg](grpc::Status s) {
      leg->status = std::move(s);
      leg->elapsed_ms = static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - leg->started)
              .count());
      fan->Finished();
    });
  }
  return fan;
}

v1::RegionPart Part(const Region& region, const grpc::Status& status, uint32_t elapsed_ms) {
  v1::RegionPart part;
  part.set_region(region.id);
  part.set_status(StatusOf(status));
  part.set_elapsed_ms(elapsed_ms);
  if (!status.ok()) part.set_detail(status.error_message());
  return part;
}

std::string Summary(size_t ok, size_t total) { return StrCat(" regions=", ok, "/", total); }

// The caller's identity, authorized for `method`; fills the audit entry.
absl::StatusOr<security::Identity> Authenticate(const grpc::CallbackServerContext& context,
                                                Method method, const std::string& federation,
                                                v1::AuditEntry* entry) {
  entry->set_method(security::MethodName(method));
  return service::AuthorizePeer(context, method, {.is_hub = true, .federation = federation}, entry);
}

// Audits, then finishes the researcher's call.
void Reply(security::AuditLog* audit, grpc::ServerUnaryReactor* reactor, v1::AuditEntry entry,
           const absl::Status& outcome) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  audit->Append(std::move(entry), [reactor, outcome](absl::Status written) {
    reactor->Finish(service::ToGrpc(
        written.ok() ? outcome
                     : absl::InternalError("the audit log could not be written; nothing released")));
  });
}

// The hub's per-region deadline, or the caller's own when that comes sooner.
std::chrono::system_clock::time_point DeadlineFor(const grpc::CallbackServerContext& context,
                                                  std::chrono::milliseconds limit) {
  auto ours = std::chrono::system_clock::now() + limit;
  return std::min(ours, context.deadline());
}

// One federated question from start to reply. `call` issues a region's asynchronous call;
// `each` folds one answering region's answer into the reply and its part; `finish` completes
// the reply once every region has answered or failed and returns the audit log's summary of
// what was released. Parts come in the configured order of the regions.
template <typename Answer>
struct Federation {
  using Leg = typename FanOut<Answer>::Leg;
  std::function<void(v1::RegionService::StubInterface*, Leg*, std::function<void(grpc::Status)>)>
      call;
  std::function<void(size_t region, Answer& answer, v1::RegionPart& part)> each;
  std::function<v1::RegionPart*()> add_part;
  std::function<std::string(size_t answered)> finish;
};

template <typename Answer>
grpc::ServerUnaryReactor* Federate(const HubSettings& settings, const std::vector<Region>& regions,
                                   security::AuditLog* audit, grpc::CallbackServerContext* context,
                                   Method method, std::string question,
                                   const absl::Status& precheck, Federation<Answer> f) {
  auto* reactor = context->DefaultReactor();
  v1::AuditEntry entry;
  auto user = Authenticate(*context, method, settings.federation, &entry);
  absl::Status s = user.ok() ? precheck : user.status();
  if (!s.ok()) {
    Reply(audit, reactor, std::move(entry), s);
    return reactor;
  }
  entry.set_query(std::move(question));
  auto call = f.call;  // `f` moves into the completion below
  Start<Answer>(regions, *user, DeadlineFor(*context, settings.deadline), call,
                [&regions, audit, reactor, f = std::move(f),
                 entry = std::move(entry)](FanOut<Answer>& fan) mutable {
                  size_t ok = 0;
                  for (size_t i = 0; i < regions.size(); ++i) {
                    auto& leg = *fan.legs[i];
                    v1::RegionPart part = Part(regions[i], leg.status, leg.elapsed_ms);
                    if (leg.status.ok()) {
                      ++ok;
                      f.each(i, leg.answer, part);
                    }
                    *f.add_part() = std::move(part);
                  }
                  entry.set_released(StrCat(f.finish(ok), Summary(ok, regions.size())));
                  Reply(audit, reactor, std::move(entry), absl::OkStatus());
                });
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* FederationServiceImpl::Info(grpc::CallbackServerContext* context,
                                                      const v1::InfoRequest* request,
                                                      v1::FederationInfo* reply) {
  reply->set_federation(settings_.federation);
  Federation<v1::RegionInfo> f;
  f.call = [request](auto* stub, auto* leg, auto done) {
    stub->async()->Info(&leg->context, request, &leg->answer, std::move(done));
  };
  f.each = [](size_t, v1::RegionInfo& a, v1::RegionPart& part) { *part.mutable_info() = a; };
  f.add_part = [reply] { return reply->add_regions(); };
  f.finish = [](size_t) { return std::string("info"); };
  return Federate(settings_, regions_, audit_, context, Method::kFederationInfo, "",
                  absl::OkStatus(), std::move(f));
}

grpc::ServerUnaryReactor* FederationServiceImpl::Count(grpc::CallbackServerContext* context,
                                                       const v1::CountRequest* request,
                                                       v1::FederatedCount* reply) {
  const uint32_t floor = settings_.disclosure.min_count;
  Federation<v1::CountAnswer> f;
  f.call = [request](auto* stub, auto* leg, auto done) {
    stub->async()->Count(&leg->context, request, &leg->answer, std::move(done));
  };
  f.each = [reply, floor](size_t, v1::CountAnswer& a, v1::RegionPart& part) {
    *a.mutable_count() = security::Floor(a.count(), floor);
    *reply->mutable_total() = query::AddReleased(reply->total(), a.count());
    *part.mutable_count() = std::move(a);
  };
  f.add_part = [reply] { return reply->add_regions(); };
  f.finish = [this, reply, floor](size_t ok) {
    *reply->mutable_total() = security::Floor(reply->total(), floor);
    reply->set_partial(ok < regions_.size());
    reply->mutable_disclosure()->set_min_count(floor);
    return StrCat("total=", query::FormatReleased(reply->total()));
  };
  return Federate(settings_, regions_, audit_, context, Method::kFederationCount,
                  query::FormatCriterion(request->criterion()), absl::OkStatus(), std::move(f));
}

grpc::ServerUnaryReactor* FederationServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                           const v1::BreakdownRequest* request,
                                                           v1::FederatedBreakdown* reply) {
  const uint32_t floor = settings_.disclosure.min_count;
  absl::Status precheck = request->dimensions_size() == 0 || request->dimensions_size() > 2
                              ? absl::InvalidArgumentError("a breakdown has one or two dimensions")
                              : absl::OkStatus();
  // The regions' answers are merged once all are in; until then they stay in the legs.
  auto answered = std::make_shared<std::vector<std::pair<std::string, const v1::BreakdownAnswer*>>>();
  Federation<v1::BreakdownAnswer> f;
  f.call = [request](auto* stub, auto* leg, auto done) {
    stub->async()->Breakdown(&leg->context, request, &leg->answer, std::move(done));
  };
  f.each = [this, floor, answered](size_t i, v1::BreakdownAnswer& a, v1::RegionPart& part) {
    for (v1::ReleasedCell& cell : *a.mutable_cells()) {
      *cell.mutable_count() = security::Floor(cell.count(), floor);
    }
    answered->emplace_back(regions_[i].id, &a);
    v1::BreakdownAnswer summary = a;
    summary.clear_cells();  // the cells are in reply.cells, labelled with the region
    *part.mutable_breakdown() = std::move(summary);
  };
  f.add_part = [reply] { return reply->add_regions(); };
  f.finish = [this, request, reply, floor, answered](size_t ok) {
    query::MergedBreakdown merged = query::MergeBreakdowns(*answered);
    *reply->mutable_dimensions() = request->dimensions();
    for (v1::ReleasedCell& cell : merged.totals) {
      *cell.mutable_count() = security::Floor(cell.count(), floor);
      *reply->add_totals() = std::move(cell);
    }
    for (v1::ReleasedCell& cell : merged.cells) *reply->add_cells() = std::move(cell);
    reply->set_partial(ok < regions_.size());
    reply->mutable_disclosure()->set_min_count(floor);
    std::string by;
    for (int d : request->dimensions()) {
      StrAppend(&by, by.empty() ? "" : ",", query::DimensionName(static_cast<v1::Dimension>(d)));
    }
    return StrCat("by=", by, " cells=", reply->totals_size());
  };
  return Federate(settings_, regions_, audit_, context, Method::kFederationBreakdown,
                  query::FormatCriterion(request->criterion()), precheck, std::move(f));
}

grpc::ServerUnaryReactor* FederationServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                           const v1::FrequencyRequest* request,
                                                           v1::FederatedFrequency* reply) {
  const uint32_t floor = settings_.disclosure.min_count;
  Federation<v1::FrequencyAnswer> f;
  f.call = [request](auto* stub, auto* leg, auto done) {
    stub->async()->Frequency(&leg->context, request, &leg->answer, std::move(done));
  };
  f.each = [reply, floor](size_t, v1::FrequencyAnswer& a, v1::RegionPart& part) {
    *a.mutable_ac() = security::Floor(a.ac(), floor);
    *a.mutable_an() = security::Floor(a.an(), floor);
    *reply->mutable_ac() = query::AddReleased(reply->ac(), a.ac());
    *reply->mutable_an() = query::AddReleased(reply->an(), a.an());
    *part.mutable_frequency() = std::move(a);
  };
  f.add_part = [reply] { return reply->add_regions(); };
  f.finish = [this, reply, floor](size_t ok) {
    *reply->mutable_ac() = security::Floor(reply->ac(), floor);
    *reply->mutable_an() = security::Floor(reply->an(), floor);
    reply->set_partial(ok < regions_.size());
    reply->mutable_disclosure()->set_min_count(floor);
    return StrCat("ac=", query::FormatReleased(reply->ac()), " an=",
                  query::FormatReleased(reply->an()));
  };
  return Federate(settings_, regions_, audit_, context, Method::kFederationFrequency,
                  query::FormatCriterion(request->criterion()), absl::OkStatus(), std::move(f));
}

grpc::ServerUnaryReactor* FederationServiceImpl::SimilarCases(
    grpc::CallbackServerContext* context, const v1::SimilarCasesRequest* request,
    v1::FederatedSimilarCases* reply) {
  // The question is checked here too, so a malformed one is refused once, not six times.
  v1::CaseQuery question = request->patient();
  absl::Status precheck = query::NormalizeCaseQuery(&question);
  uint32_t top = request->top() == 0 ? 10 : request->top();
  if (precheck.ok() && top > 100) precheck = absl::InvalidArgumentError("top is at most 100");
  // Each region ranks its own cases; the hub keeps the best `top` of all of them. Ties go to the
  // region listed first, then to the region's own order, so an answer is reproducible.
  struct Ranked {
    v1::CaseMatch match;
    size_t region;
    int rank;
  };
  auto ranked = std::make_shared<std::vector<Ranked>>();
  Federation<v1::SimilarCasesAnswer> f;
  f.call = [request](auto* stub, auto* leg, auto done) {
    stub->async()->SimilarCases(&leg->context, request, &leg->answer, std::move(done));
  };
  f.each = [reply, ranked](size_t i, v1::SimilarCasesAnswer& a, v1::RegionPart& part) {
    for (int k = 0; k < a.matches_size(); ++k) {
      ranked->push_back({std::move(*a.mutable_matches(k)), i, k});
    }
    a.clear_matches();
    if (reply->notes_size() == 0) *reply->mutable_notes() = a.notes();
    *part.mutable_similar() = std::move(a);
  };
  f.add_part = [reply] { return reply->add_regions(); };
  f.finish = [this, reply, ranked, top](size_t ok) {
    std::stable_sort(ranked->begin(), ranked->end(), [](const Ranked& a, const Ranked& b) {
      if (a.match.score() != b.match.score()) return a.match.score() > b.match.score();
      if (a.region != b.region) return a.region < b.region;
      return a.rank < b.rank;
    });
    for (size_t k = 0; k < ranked->size() && k < top; ++k) {
      *reply->add_matches() = std::move((*ranked)[k].match);
    }
    reply->set_partial(ok < regions_.size());
    return StrCat("matches=", reply->matches_size());
  };
  return Federate(settings_, regions_, audit_, context, Method::kFederationSimilarCases,
                  query::FormatCaseQuery(question), precheck, std::move(f));
}

namespace {

// One call forwarded to one region on behalf of the clinician.
struct Forwarded {
  grpc::ClientContext context;
  v1::AuditEntry entry;
};

const Region* FindRegion(const std::vector<Region>& regions, const std::string& id) {
  for (const Region& r : regions) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

// Sends `call` to the region named `region_id`, audits and replies with its outcome.
template <typename Call>
grpc::ServerUnaryReactor* Forward(const HubSettings& settings, const std::vector<Region>& regions,
                                  security::AuditLog* audit, grpc::CallbackServerContext* context,
                                  Method method, const absl::StatusOr<std::string>& region_id,
                                  std::string question, Call call) {
  auto* reactor = context->DefaultReactor();
  auto fwd = std::make_shared<Forwarded>();
  auto user = Authenticate(*context, method, settings.federation, &fwd->entry);
  fwd->entry.set_query(std::move(question));
  absl::Status s = user.ok() ? region_id.status() : user.status();
  const Region* region = nullptr;
  if (s.ok()) {
    region = FindRegion(regions, *region_id);
    if (region == nullptr) {
      s = absl::NotFoundError(StrCat("no region ", *region_id, " in this federation"));
    }
  }
  if (!s.ok()) {
    Reply(audit, reactor, std::move(fwd->entry), s);
    return reactor;
  }
  fwd->context.set_deadline(DeadlineFor(*context, settings.deadline));
  fwd->context.AddMetadata(security::kOnBehalfOfKey, user->uri);
  std::string id = region->id;
  call(region->stub.get(), &fwd->context, [fwd, audit, reactor, id](grpc::Status status) {
    absl::Status outcome = service::FromGrpc(status);
    if (!status.ok() && StatusOf(status) == v1::REGION_UNAVAILABLE) {
      outcome = absl::UnavailableError(StrCat("region ", id, " did not answer: ",
                                              status.error_message()));
    } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      outcome = absl::DeadlineExceededError(StrCat("region ", id, " did not answer in time"));
    }
    fwd->entry.set_released(StrCat("region=", id));
    Reply(audit, reactor, std::move(fwd->entry), outcome);
  });
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* FederationServiceImpl::RequestContact(
    grpc::CallbackServerContext* context, const v1::ContactRequest* request,
    v1::ContactTicket* reply) {
  auto region = security::RegionOfReference(request->case_reference());
  return Forward(settings_, regions_, audit_, context, Method::kFederationRequestContact, region,
                 StrCat("contact request region=", region.ok() ? *region : "?"),
                 [request, reply](auto* stub, grpc::ClientContext* ctx, auto done) {
                   stub->async()->RequestContact(ctx, request, reply, std::move(done));
                 });
}

grpc::ServerUnaryReactor* FederationServiceImpl::ContactStatus(
    grpc::CallbackServerContext* context, const v1::ContactStatusRequest* request,
    v1::ContactTicket* reply) {
  const std::string& id = request->request_id();
  size_t slash = id.find('/');
  absl::StatusOr<std::string> region =
      slash == std::string::npos || slash == 0
          ? absl::StatusOr<std::string>(absl::InvalidArgumentError(
                "a request id is REGION/ID, as RequestContact returned it"))
          : absl::StatusOr<std::string>(id.substr(0, slash));
  return Forward(settings_, regions_, audit_, context, Method::kFederationContactStatus, region,
                 StrCat("contact status ", id),
                 [request, reply](auto* stub, grpc::ClientContext* ctx, auto done) {
                   stub->async()->ContactStatus(ctx, request, reply, std::move(done));
                 });
}

}  // namespace pmdb::hub
