#include "node/transport/federation_service.h"

#include "node/transport/peer.h"
#include "node/transport/reactor.h"

namespace pmdb::transport {

grpc::ServerUnaryReactor* FederationServiceImpl::Info(grpc::CallbackServerContext* context,
                                                      const v1::InfoRequest* request,
                                                      v1::FederationInfo* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->Info(CredentialsOf(*context), context->deadline(), *request, ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Count(grpc::CallbackServerContext* context,
                                                       const v1::CountRequest* request,
                                                       v1::FederatedCount* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->Count(CredentialsOf(*context), context->deadline(), *request, ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Breakdown(grpc::CallbackServerContext* context,
                                                           const v1::BreakdownRequest* request,
                                                           v1::FederatedBreakdown* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->Breakdown(CredentialsOf(*context), context->deadline(), *request,
                  ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Frequency(grpc::CallbackServerContext* context,
                                                           const v1::FrequencyRequest* request,
                                                           v1::FederatedFrequency* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->Frequency(CredentialsOf(*context), context->deadline(), *request,
                  ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::Catalogue(grpc::CallbackServerContext* context,
                                                           const v1::CatalogueRequest* request,
                                                           v1::FederatedCatalogue* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->Catalogue(CredentialsOf(*context), context->deadline(), *request,
                  ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::SimilarCases(
    grpc::CallbackServerContext* context, const v1::SimilarCasesRequest* request,
    v1::FederatedSimilarCases* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->SimilarCases(CredentialsOf(*context), context->deadline(), *request,
                     ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::RequestContact(
    grpc::CallbackServerContext* context, const v1::ContactRequest* request,
    v1::ContactTicket* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->RequestContact(CredentialsOf(*context), context->deadline(), *request,
                       ReplyWith(reactor, reply));
  return reactor;
}

grpc::ServerUnaryReactor* FederationServiceImpl::ContactStatus(
    grpc::CallbackServerContext* context, const v1::ContactStatusRequest* request,
    v1::ContactTicket* reply) {
  auto* reactor = context->DefaultReactor();
  hub_->ContactStatus(CredentialsOf(*context), context->deadline(), *request,
                      ReplyWith(reactor, reply));
  return reactor;
}

}  // namespace pmdb::transport
