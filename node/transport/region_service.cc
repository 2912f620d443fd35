#include "node/transport/region_service.h"

#include "node/transport/peer.h"
#include "node/transport/reactor.h"

namespace pmdb::transport {

void RegionServiceImpl::Run(grpc::ServerUnaryReactor* reactor, std::function<void()> job) {
  if (!offload_) {
    job();
    return;
  }
  if (!offload_(std::move(job))) {
    // The load, not the data, decides this: every question gets it alike.
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the node has too many questions waiting for its shards"));
  }
}

grpc::ServerUnaryReactor* RegionServiceImpl::Info(grpc::CallbackServerContext* context,
                                                  const v1::InfoRequest*, v1::RegionInfo* reply) {
  auto* reactor = context->DefaultReactor();
  core_->Info(CredentialsOf(*context), ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::Count(grpc::CallbackServerContext* context,
                                                   const v1::CountRequest* request,
                                                   v1::CountAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // The request and reply live until the reactor finishes.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->Count(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                       const v1::BreakdownRequest* request,
                                                       v1::BreakdownAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // The request and reply live until the reactor finishes.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->Breakdown(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                       const v1::FrequencyRequest* request,
                                                       v1::FrequencyAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // The request and reply live until the reactor finishes.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->Frequency(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::Catalogue(grpc::CallbackServerContext* context,
                                                       const v1::CatalogueRequest* request,
                                                       v1::CatalogueAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // The request and reply live until the reactor finishes.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->Catalogue(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::NationalShare(grpc::CallbackServerContext* context,
                                                           const v1::NationalShareRequest* request,
                                                           v1::NationalShareAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // The request and reply live until the reactor finishes.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->NationalShare(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::SimilarCases(grpc::CallbackServerContext* context,
                                                          const v1::SimilarCasesRequest* request,
                                                          v1::SimilarCasesAnswer* reply) {
  auto* reactor = context->DefaultReactor();
  // A sharded region ranks on its shards: wait for them off gRPC's threads, as questions do.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->SimilarCases(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::RequestContact(grpc::CallbackServerContext* context,
                                                            const v1::ContactRequest* request,
                                                            v1::ContactTicket* reply) {
  auto* reactor = context->DefaultReactor();
  // A sharded region reads the case's consent from its shard.
  Run(reactor, [this, who = CredentialsOf(*context), request, reactor, reply] {
    core_->RequestContact(who, *request, ReplyWith(reactor, reply));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::ContactStatus(grpc::CallbackServerContext* context,
                                                           const v1::ContactStatusRequest* request,
                                                           v1::ContactTicket* reply) {
  auto* reactor = context->DefaultReactor();
  core_->ContactStatus(CredentialsOf(*context), *request, ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* RegionServiceImpl::AuditHead(grpc::CallbackServerContext* context,
                                                       const v1::AuditHeadRequest* request,
                                                       v1::AuditHeadReply* reply) {
  auto* reactor = context->DefaultReactor();
  core_->AuditHead(CredentialsOf(*context), *request, ReplyWith(reactor, reply));
  return reactor;
}

}  // namespace pmdb::transport
