#include "node/hub/hub.h"

#include <atomic>
#include <memory>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/hub/merge.h"
#include "node/vocab/case_query.h"
#include "query/engine.h"
#include "query/parser.h"
#include "query/prepare.h"
#include "security/case_ref.h"

namespace pmdb::hub {
namespace {

using security::Method;

// Asks every region and runs `done` with all their results once the last one has answered or
// failed. Results keep the configured order of the regions.
template <typename Request, typename Answer>
void AskAll(const std::vector<Region>& regions, const Outgoing& out, const Request& request,
            void (RegionClient::*ask)(const Outgoing&, const Request&, Done<Answer>),
            std::function<void(std::vector<RegionResult<Answer>>)> done) {
  struct Gather {
    std::vector<RegionResult<Answer>> results;
    std::atomic<size_t> remaining{0};
    std::function<void(std::vector<RegionResult<Answer>>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(regions.size());
  gather->remaining = regions.size();
  gather->done = std::move(done);
  if (regions.empty()) {
    gather->done({});
    return;
  }
  for (size_t i = 0; i < regions.size(); ++i) {
    gather->results[i].region = regions[i].id;
    ((*regions[i].client).*ask)(out, request, [gather, i](absl::StatusOr<Answer> a) {
      gather->results[i].answer = std::move(a);
      if (gather->remaining.fetch_sub(1) == 1) gather->done(std::move(gather->results));
    });
  }
}

// The question as the audit log records it, or nothing when it is over the limits (it is then
// refused with `*limited`, before it is recorded in full or asked of anyone).
std::string Recorded(const v1::Criterion& criterion, absl::Status* limited) {
  *limited = query::CheckLimits(criterion);
  return limited->ok() ? query::FormatCriterion(criterion) : "(over the limits)";
}

const Region* FindRegion(const std::vector<Region>& regions, const std::string& id) {
  for (const Region& r : regions) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace

Hub::Hub(HubSettings settings, std::vector<Region> regions, security::AuditLog* audit)
    : settings_(std::move(settings)),
      here_{.is_hub = true, .federation = settings_.federation},
      regions_(std::move(regions)),
      audit_(audit) {}

Deadline Hub::RegionDeadline(Deadline caller) const {
  return std::min(std::chrono::system_clock::now() + settings_.deadline, caller);
}

template <typename Request, typename Answer, typename Reply, typename Merge>
void Hub::Federate(const Credentials& who, Deadline deadline, Method method,
                   const std::string& question, const absl::Status& precheck,
                   const Request& request,
                   void (RegionClient::*ask)(const Outgoing&, const Request&, Done<Answer>),
                   Merge merge, Done<Reply> done) {
  v1::AuditEntry entry = call::NewEntry(method, "");
  auto caller = call::Authorize(who, method, here_, &entry);
  absl::Status s = caller.ok() ? precheck : caller.status();
  if (!s.ok()) {
    call::Finish(*audit_, std::move(entry), absl::StatusOr<Reply>(s), std::move(done));
    return;
  }
  entry.set_query(question);
  Outgoing out{.on_behalf_of = caller->user.uri, .deadline = RegionDeadline(deadline)};
  AskAll<Request, Answer>(
      regions_, out, request, ask,
      [audit = audit_, merge = std::move(merge), entry = std::move(entry),
       done = std::move(done)](std::vector<RegionResult<Answer>> results) mutable {
        Reply reply = merge(std::move(results));
        entry.set_released(call::Released(reply));
        call::Finish(*audit, std::move(entry), absl::StatusOr<Reply>(std::move(reply)),
                     std::move(done));
      });
}

void Hub::Info(const Credentials& who, Deadline deadline, const v1::InfoRequest& request,
               Done<v1::FederationInfo> done) {
  Federate<v1::InfoRequest, v1::RegionInfo, v1::FederationInfo>(
      who, deadline, Method::kFederationInfo, "", absl::OkStatus(), request, &RegionClient::Info,
      [federation = settings_.federation](auto results) {
        return MergeInfo(std::move(results), federation);
      },
      std::move(done));
}

void Hub::Count(const Credentials& who, Deadline deadline, const v1::CountRequest& request,
                Done<v1::FederatedCount> done) {
  absl::Status limited;
  std::string recorded = Recorded(request.criterion(), &limited);
  Federate<v1::CountRequest, v1::CountAnswer, v1::FederatedCount>(
      who, deadline, Method::kFederationCount, recorded, limited, request, &RegionClient::Count,
      [floor = settings_.disclosure.min_count](auto results) {
        return MergeCounts(std::move(results), floor);
      },
      std::move(done));
}

void Hub::Breakdown(const Credentials& who, Deadline deadline, const v1::BreakdownRequest& request,
                    Done<v1::FederatedBreakdown> done) {
  absl::Status checked;
  std::string recorded = Recorded(request.criterion(), &checked);
  auto dims = query::CheckDimensions(request.dimensions());
  if (checked.ok()) checked = dims.status();
  if (checked.ok()) checked = query::CheckDiagnoses(*dims, request.diagnoses()).status();
  Federate<v1::BreakdownRequest, v1::BreakdownAnswer, v1::FederatedBreakdown>(
      who, deadline, Method::kFederationBreakdown, recorded, checked, request,
      &RegionClient::Breakdown,
      [floor = settings_.disclosure.min_count,
       dims = dims.ok() ? *dims : std::vector<v1::Dimension>{}](auto results) {
        return MergeBreakdowns(std::move(results), dims, floor);
      },
      std::move(done));
}

void Hub::Frequency(const Credentials& who, Deadline deadline, const v1::FrequencyRequest& request,
                    Done<v1::FederatedFrequency> done) {
  absl::Status limited;
  std::string recorded = Recorded(request.criterion(), &limited);
  Federate<v1::FrequencyRequest, v1::FrequencyAnswer, v1::FederatedFrequency>(
      who, deadline, Method::kFederationFrequency, recorded, limited, request,
      &RegionClient::Frequency,
      [floor = settings_.disclosure.min_count](auto results) {
        return MergeFrequencies(std::move(results), floor);
      },
      std::move(done));
}

void Hub::SimilarCases(const Credentials& who, Deadline deadline,
                       const v1::SimilarCasesRequest& request,
                       Done<v1::FederatedSimilarCases> done) {
  // The question is checked here too, so a malformed one is refused once, not six times.
  v1::CaseQuery question = request.patient();
  absl::Status precheck = vocab::NormalizeCaseQuery(&question);
  uint32_t top = request.top() == 0 ? 10 : request.top();
  if (precheck.ok() && top > kMaxFederatedTop) {
    precheck = absl::InvalidArgumentError(StrCat("top is at most ", kMaxFederatedTop));
  }
  Federate<v1::SimilarCasesRequest, v1::SimilarCasesAnswer, v1::FederatedSimilarCases>(
      who, deadline, Method::kFederationSimilarCases, vocab::FormatCaseQuery(question), precheck,
      request, &RegionClient::SimilarCases,
      [top](auto results) { return MergeSimilarCases(std::move(results), top); }, std::move(done));
}

template <typename Request>
void Hub::Forward(const Credentials& who, Deadline deadline, Method method,
                  const absl::StatusOr<std::string>& region_id, const std::string& question,
                  const Request& request,
                  void (RegionClient::*ask)(const Outgoing&, const Request&,
                                            Done<v1::ContactTicket>),
                  Done<v1::ContactTicket> done) {
  v1::AuditEntry entry = call::NewEntry(method, "");
  auto caller = call::Authorize(who, method, here_, &entry);
  entry.set_query(question);
  absl::Status s = caller.ok() ? region_id.status() : caller.status();
  const Region* region = nullptr;
  if (s.ok()) {
    region = FindRegion(regions_, *region_id);
    if (region == nullptr) {
      s = absl::NotFoundError(StrCat("no region ", *region_id, " in this federation"));
    }
  }
  if (!s.ok()) {
    call::Finish(*audit_, std::move(entry), absl::StatusOr<v1::ContactTicket>(s), std::move(done));
    return;
  }
  Outgoing out{.on_behalf_of = caller->user.uri, .deadline = RegionDeadline(deadline)};
  ((*region->client).*ask)(
      out, request,
      [audit = audit_, id = region->id, entry = std::move(entry),
       done = std::move(done)](absl::StatusOr<v1::ContactTicket> ticket) mutable {
        // The clinician learns which region failed them, not just that something did.
        if (ticket.status().code() == absl::StatusCode::kDeadlineExceeded) {
          ticket = absl::DeadlineExceededError(StrCat("region ", id, " did not answer in time"));
        } else if (!ticket.ok() && RegionStatusOf(ticket.status()) == v1::REGION_UNAVAILABLE) {
          ticket = absl::UnavailableError(
              StrCat("region ", id, " did not answer: ", std::string(ticket.status().message())));
        }
        entry.set_released(StrCat("region=", id));
        call::Finish(*audit, std::move(entry), std::move(ticket), std::move(done));
      });
}

void Hub::RequestContact(const Credentials& who, Deadline deadline,
                         const v1::ContactRequest& request, Done<v1::ContactTicket> done) {
  auto region = security::RegionOfReference(request.case_reference());
  Forward(who, deadline, Method::kFederationRequestContact, region,
          StrCat("contact request region=", region.ok() ? *region : "?"), request,
          &RegionClient::RequestContact, std::move(done));
}

void Hub::ContactStatus(const Credentials& who, Deadline deadline,
                        const v1::ContactStatusRequest& request, Done<v1::ContactTicket> done) {
  const std::string& id = request.request_id();
  size_t slash = id.find('/');
  absl::StatusOr<std::string> region =
      slash == std::string::npos || slash == 0
          ? absl::StatusOr<std::string>(absl::InvalidArgumentError(
                "a request id is REGION/ID, as RequestContact returned it"))
          : absl::StatusOr<std::string>(id.substr(0, slash));
  Forward(who, deadline, Method::kFederationContactStatus, region, StrCat("contact status ", id),
          request, &RegionClient::ContactStatus, std::move(done));
}

}  // namespace pmdb::hub
