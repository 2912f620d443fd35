#include "node/transport/grpc_region_client.h"

#include "node/transport/status.h"
#include "security/policy.h"

namespace pmdb::transport {
namespace {

// One outgoing call: its context and the answer live until gRPC calls back, which it does
// exactly once. The request is the caller's (RegionClient's contract keeps it alive until then),
// so six regions share one copy of it.
template <typename Request, typename Answer, typename Issue>
void Send(const hub::Outgoing& call, const Request& request, hub::Done<Answer> done, Issue issue) {
  struct InFlight {
    grpc::ClientContext context;
    Answer answer;
    hub::Done<Answer> done;
  };
  auto* f = new InFlight;
  f->done = std::move(done);
  f->context.set_deadline(call.deadline);
  f->context.AddMetadata(security::kOnBehalfOfKey, call.on_behalf_of);
  issue(&f->context, &request, &f->answer, [f](grpc::Status status) {
    std::unique_ptr<InFlight> owned(f);
    if (status.ok()) {
      owned->done(std::move(owned->answer));
    } else {
      owned->done(FromGrpc(status));
    }
  });
}

}  // namespace

void GrpcRegionClient::Info(const hub::Outgoing& call, const v1::InfoRequest& request,
                            hub::Done<v1::RegionInfo> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->Info(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::NationalShare(const hub::Outgoing& call,
                                     const v1::NationalShareRequest& request,
                                     hub::Done<v1::NationalShareAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->NationalShare(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::Count(const hub::Outgoing& call, const v1::CountRequest& request,
                             hub::Done<v1::CountAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->Count(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::Breakdown(const hub::Outgoing& call, const v1::BreakdownRequest& request,
                                 hub::Done<v1::BreakdownAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->Breakdown(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::Frequency(const hub::Outgoing& call, const v1::FrequencyRequest& request,
                                 hub::Done<v1::FrequencyAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->Frequency(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::Catalogue(const hub::Outgoing& call, const v1::CatalogueRequest& request,
                                 hub::Done<v1::CatalogueAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->Catalogue(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::SimilarCases(const hub::Outgoing& call,
                                    const v1::SimilarCasesRequest& request,
                                    hub::Done<v1::SimilarCasesAnswer> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->SimilarCases(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::RequestContact(const hub::Outgoing& call, const v1::ContactRequest& request,
                                      hub::Done<v1::ContactTicket> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->RequestContact(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::ContactStatus(const hub::Outgoing& call,
                                     const v1::ContactStatusRequest& request,
                                     hub::Done<v1::ContactTicket> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->ContactStatus(context, req, answer, std::move(cb));
  });
}

void GrpcRegionClient::AuditHead(const hub::Outgoing& call, const v1::AuditHeadRequest& request,
                                 hub::Done<v1::AuditHeadReply> done) {
  Send(call, request, std::move(done), [this](auto* context, auto* req, auto* answer, auto cb) {
    stub_->async()->AuditHead(context, req, answer, std::move(cb));
  });
}

}  // namespace pmdb::transport
