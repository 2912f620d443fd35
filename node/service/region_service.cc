#include "node/service/region_service.h"

#include "node/service/status.h"

namespace pmdb::service {
namespace {

using security::Method;

// Audits and replies; the reply's status decides whether the answer leaves.
grpc::ServerUnaryReactor* Done(NodeCore* core, grpc::CallbackServerContext* context,
                               v1::AuditEntry entry, const absl::Status& outcome) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  core->Finish(std::move(entry), outcome,
               [reactor](const absl::Status& s) { reactor->Finish(ToGrpc(s)); });
  return reactor;
}

absl::Status CheckDimensions(const google::protobuf::RepeatedField<int>& dims) {
  if (dims.empty() || dims.size() > 2) {
    return absl::InvalidArgumentError("a breakdown has one or two dimensions");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* RegionServiceImpl::Info(grpc::CallbackServerContext* context,
                                                  const v1::InfoRequest*, v1::RegionInfo* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionInfo);
  auto caller = core_->Authenticate(*context, Method::kRegionInfo, &entry);
  if (caller.ok()) *reply = core_->Info(*caller);
  return Done(core_, context, std::move(entry), caller.status());
}

grpc::ServerUnaryReactor* RegionServiceImpl::Count(grpc::CallbackServerContext* context,
                                                   const v1::CountRequest* request,
                                                   v1::CountAnswer* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionCount);
  auto caller = core_->Authenticate(*context, Method::kRegionCount, &entry);
  absl::Status s = caller.status();
  if (s.ok()) s = core_->CheckSharing(*caller, "count", request->criterion(), &entry);
  if (s.ok()) {
    std::string released;
    auto a = core_->Count(request->criterion(), PurposeOf(caller->user.role), true, &released);
    s = a.status();
    if (s.ok()) {
      *reply = std::move(*a);
      entry.set_released(released);
    }
  }
  return Done(core_, context, std::move(entry), s);
}

grpc::ServerUnaryReactor* RegionServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                       const v1::BreakdownRequest* request,
                                                       v1::BreakdownAnswer* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionBreakdown);
  auto caller = core_->Authenticate(*context, Method::kRegionBreakdown, &entry);
  absl::Status s = caller.status();
  if (s.ok()) s = CheckDimensions(request->dimensions());
  if (s.ok()) s = core_->CheckSharing(*caller, "breakdown", request->criterion(), &entry);
  if (s.ok()) {
    std::vector<v1::Dimension> dims;
    for (int d : request->dimensions()) dims.push_back(static_cast<v1::Dimension>(d));
    std::string released;
    auto a = core_->Breakdown(request->criterion(), dims, PurposeOf(caller->user.role), true,
                              &released);
    s = a.status();
    if (s.ok()) {
      *reply = std::move(*a);
      entry.set_released(released);
    }
  }
  return Done(core_, context, std::move(entry), s);
}

grpc::ServerUnaryReactor* RegionServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                       const v1::FrequencyRequest* request,
                                                       v1::FrequencyAnswer* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionFrequency);
  auto caller = core_->Authenticate(*context, Method::kRegionFrequency, &entry);
  absl::Status s = caller.status();
  if (s.ok()) s = core_->CheckSharing(*caller, "frequency", request->criterion(), &entry);
  if (s.ok()) {
    std::string released;
    auto a = core_->Frequency(request->criterion(), PurposeOf(caller->user.role), true, &released);
    s = a.status();
    if (s.ok()) {
      *reply = std::move(*a);
      entry.set_released(released);
    }
  }
  return Done(core_, context, std::move(entry), s);
}

grpc::ServerUnaryReactor* RegionServiceImpl::SimilarCases(grpc::CallbackServerContext* context,
                                                          const v1::SimilarCasesRequest* request,
                                                          v1::SimilarCasesAnswer* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionSimilarCases);
  auto caller = core_->Authenticate(*context, Method::kRegionSimilarCases, &entry);
  absl::Status s = caller.status();
  v1::CaseQuery question = request->patient();
  if (s.ok()) s = core_->CheckSimilar(*caller, &question, &entry);
  if (s.ok()) {
    auto a = core_->SimilarCases(question, request->top(), false, &entry);
    s = a.status();
    if (s.ok()) *reply = std::move(*a);
  }
  return Done(core_, context, std::move(entry), s);
}

grpc::ServerUnaryReactor* RegionServiceImpl::RequestContact(grpc::CallbackServerContext* context,
                                                            const v1::ContactRequest* request,
                                                            v1::ContactTicket* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionRequestContact);
  auto caller = core_->Authenticate(*context, Method::kRegionRequestContact, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    auto t = core_->RequestContact(*caller, *request, &entry);
    s = t.status();
    if (s.ok()) *reply = std::move(*t);
  }
  return Done(core_, context, std::move(entry), s);
}

grpc::ServerUnaryReactor* RegionServiceImpl::ContactStatus(grpc::CallbackServerContext* context,
                                                           const v1::ContactStatusRequest* request,
                                                           v1::ContactTicket* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kRegionContactStatus);
  auto caller = core_->Authenticate(*context, Method::kRegionContactStatus, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    auto t = core_->ContactStatus(*caller, request->request_id(), &entry);
    s = t.status();
    if (s.ok()) *reply = std::move(*t);
  }
  return Done(core_, context, std::move(entry), s);
}

}  // namespace pmdb::service
