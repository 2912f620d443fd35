#include "node/hub/hub_service.h"

#include <atomic>
#include <functional>

#include "node/base/strings.h"
#include "node/service/status.h"
#include "query/engine.h"
#include "query/federation.h"
#include "query/parser.h"
#include "security/policy.h"
#include "security/tls.h"

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

v1::ReleasedCount Zero() { return v1::ReleasedCount(); }

std::string Summary(size_t ok, size_t total) { return StrCat(" regions=", ok, "/", total); }

}  // namespace

// The caller's identity, authorized for `method`; fills the audit entry.
static absl::StatusOr<security::Identity> Authenticate(const grpc::CallbackServerContext& context,
                                                       Method method, const std::string& federation,
                                                       v1::AuditEntry* entry) {
  entry->set_method(security::MethodName(method));
  auto auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("no TLS peer");
  auto peer = security::PeerIdentity(*auth);
  if (!peer.ok()) return peer.status();
  entry->set_caller(peer->uri);
  entry->set_role(security::RoleName(peer->role));
  absl::Status s = security::Authorize(*peer, method, {.is_hub = true, .federation = federation});
  if (!s.ok()) return s;
  return peer;
}

// Audits, then finishes the researcher's call.
static void Reply(security::AuditLog* audit, grpc::ServerUnaryReactor* reactor,
                  v1::AuditEntry entry, const absl::Status& outcome) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  audit->Append(std::move(entry), [reactor, outcome](absl::Status written) {
    reactor->Finish(service::ToGrpc(
        written.ok() ? outcome
                     : absl::InternalError("the audit log could not be written; nothing released")));
  });
}

std::chrono::system_clock::time_point DeadlineFor(const grpc::CallbackServerContext& context,
                                                  std::chrono::milliseconds limit) {
  auto ours = std::chrono::system_clock::now() + limit;
  return std::min(ours, context.deadline());
}

grpc::ServerUnaryReactor* FederationServiceImpl::Info(grpc::CallbackServerContext* context,
                                                      const v1::InfoRequest* request,
                                                      v1::FederationInfo* reply) {
  auto* reactor = context->DefaultReactor();
  v1::AuditEntry entry;
  auto user = Authenticate(*context, Method::kFederationInfo, settings_.federation, &entry);
  if (!user.ok()) {
    Reply(audit_, reactor, std::move(entry), user.status());
    return reactor;
  }
  using Fan = FanOut<v1::RegionInfo>;
  Start<v1::RegionInfo>(
      regions_, *user, DeadlineFor(*context, settings_.deadline),
      [request](v1::RegionService::StubInterface* stub, Fan::Leg* leg,
                std::function<void(grpc::Status)> cb) {
        stub->async()->Info(&leg->context, request, &leg->answer, std::move(cb));
      },
      [this, reply, reactor, entry = std::move(entry)](Fan& fan) mutable {
        reply->set_federation(settings_.federation);
        size_t ok = 0;
        for (size_t i = 0; i < regions_.size(); ++i) {
          const auto& leg = *fan.legs[i];
          v1::RegionPart part = Part(regions_[i], leg.status, leg.elapsed_ms);
          if (leg.status.ok()) {
            ++ok;
            *part.mutable_info() = leg.answer;
          }
          *reply->add_regions() = std::move(part);
        }
        entry.set_released(Summary(ok, regions_.size()).substr(1));
        Reply(audit_, reactor, std::move(entry), absl::OkStatus());
      });
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Count(grpc::CallbackServerContext* context,
                                                       const v1::CountRequest* request,
                                                       v1::FederatedCount* reply) {
  auto* reactor = context->DefaultReactor();
  v1::AuditEntry entry;
  auto user = Authenticate(*context, Method::kFederationCount, settings_.federation, &entry);
  if (!user.ok()) {
    Reply(audit_, reactor, std::move(entry), user.status());
    return reactor;
  }
  entry.set_query(query::FormatCriterion(request->criterion()));
  using Fan = FanOut<v1::CountAnswer>;
  Start<v1::CountAnswer>(
      regions_, *user, DeadlineFor(*context, settings_.deadline),
      [request](v1::RegionService::StubInterface* stub, Fan::Leg* leg,
                std::function<void(grpc::Status)> cb) {
        stub->async()->Count(&leg->context, request, &leg->answer, std::move(cb));
      },
      [this, reply, reactor, entry = std::move(entry)](Fan& fan) mutable {
        uint32_t floor = settings_.disclosure.min_count;
        v1::ReleasedCount total = Zero();
        size_t ok = 0;
        for (size_t i = 0; i < regions_.size(); ++i) {
          const auto& leg = *fan.legs[i];
          v1::RegionPart part = Part(regions_[i], leg.status, leg.elapsed_ms);
          if (leg.status.ok()) {
            ++ok;
            v1::CountAnswer a = leg.answer;
            *a.mutable_count() = security::Floor(a.count(), floor);
            total = query::AddReleased(total, a.count());
            *part.mutable_count() = std::move(a);
          }
          *reply->add_regions() = std::move(part);
        }
        *reply->mutable_total() = security::Floor(total, floor);
        reply->set_partial(ok < regions_.size());
        reply->mutable_disclosure()->set_min_count(floor);
        entry.set_released(StrCat("total=", query::FormatReleased(reply->total()),
                                  Summary(ok, regions_.size())));
        Reply(audit_, reactor, std::move(entry), absl::OkStatus());
      });
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                           const v1::BreakdownRequest* request,
                                                           v1::FederatedBreakdown* reply) {
  auto* reactor = context->DefaultReactor();
  v1::AuditEntry entry;
  auto user = Authenticate(*context, Method::kFederationBreakdown, settings_.federation, &entry);
  absl::Status s = user.status();
  if (s.ok() && (request->dimensions_size() == 0 || request->dimensions_size() > 2)) {
    s = absl::InvalidArgumentError("a breakdown has one or two dimensions");
  }
  if (!s.ok()) {
    Reply(audit_, reactor, std::move(entry), s);
    return reactor;
  }
  entry.set_query(query::FormatCriterion(request->criterion()));
  using Fan = FanOut<v1::BreakdownAnswer>;
  Start<v1::BreakdownAnswer>(
      regions_, *user, DeadlineFor(*context, settings_.deadline),
      [request](v1::RegionService::StubInterface* stub, Fan::Leg* leg,
                std::function<void(grpc::Status)> cb) {
        stub->async()->Breakdown(&leg->context, request, &leg->answer, std::move(cb));
      },
      [this, request, reply, reactor, entry = std::move(entry)](Fan& fan) mutable {
        uint32_t floor = settings_.disclosure.min_count;
        std::vector<std::pair<std::string, const v1::BreakdownAnswer*>> answers;
        size_t ok = 0;
        for (size_t i = 0; i < regions_.size(); ++i) {
          auto& leg = *fan.legs[i];
          v1::RegionPart part = Part(regions_[i], leg.status, leg.elapsed_ms);
          if (leg.status.ok()) {
            ++ok;
            for (v1::ReleasedCell& cell : *leg.answer.mutable_cells()) {
              *cell.mutable_count() = security::Floor(cell.count(), floor);
            }
            answers.emplace_back(regions_[i].id, &leg.answer);
            v1::BreakdownAnswer summary = leg.answer;
            summary.clear_cells();  // the cells are in reply.cells with the region label
            *part.mutable_breakdown() = std::move(summary);
          }
          *reply->add_regions() = std::move(part);
        }
        query::MergedBreakdown merged = query::MergeBreakdowns(answers);
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
        entry.set_released(StrCat("by=", by, " cells=", reply->totals_size(),
                                  Summary(ok, regions_.size())));
        Reply(audit_, reactor, std::move(entry), absl::OkStatus());
      });
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                           const v1::FrequencyRequest* request,
                                                           v1::FederatedFrequency* reply) {
  auto* reactor = context->DefaultReactor();
  v1::AuditEntry entry;
  auto user = Authenticate(*context, Method::kFederationFrequency, settings_.federation, &entry);
  if (!user.ok()) {
    Reply(audit_, reactor, std::move(entry), user.status());
    return reactor;
  }
  entry.set_query(query::FormatCriterion(request->criterion()));
  using Fan = FanOut<v1::FrequencyAnswer>;
  Start<v1::FrequencyAnswer>(
      regions_, *user, DeadlineFor(*context, settings_.deadline),
      [request](v1::RegionService::StubInterface* stub, Fan::Leg* leg,
                std::function<void(grpc::Status)> cb) {
        stub->async()->Frequency(&leg->context, request, &leg->answer, std::move(cb));
      },
      [this, reply, reactor, entry = std::move(entry)](Fan& fan) mutable {
        uint32_t floor = settings_.disclosure.min_count;
        v1::ReleasedCount ac = Zero(), an = Zero();
        size_t ok = 0;
        for (size_t i = 0; i < regions_.size(); ++i) {
          const auto& leg = *fan.legs[i];
          v1::RegionPart part = Part(regions_[i], leg.status, leg.elapsed_ms);
          if (leg.status.ok()) {
            ++ok;
            v1::FrequencyAnswer a = leg.answer;
            *a.mutable_ac() = security::Floor(a.ac(), floor);
            *a.mutable_an() = security::Floor(a.an(), floor);
            ac = query::AddReleased(ac, a.ac());
            an = query::AddReleased(an, a.an());
            *part.mutable_frequency() = std::move(a);
          }
          *reply->add_regions() = std::move(part);
        }
        *reply->mutable_ac() = security::Floor(ac, floor);
        *reply->mutable_an() = security::Floor(an, floor);
        reply->set_partial(ok < regions_.size());
        reply->mutable_disclosure()->set_min_count(floor);
        entry.set_released(StrCat("ac=", query::FormatReleased(reply->ac()),
                                  " an=", query::FormatReleased(reply->an()),
                                  Summary(ok, regions_.size())));
        Reply(audit_, reactor, std::move(entry), absl::OkStatus());
      });
  return reactor;
}

}  // namespace pmdb::hub
