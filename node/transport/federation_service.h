// FederationService over gRPC: the national hub's front door for researchers and clinicians.
// Each handler hands the caller's credentials, its deadline and the request to hub::Hub, which
// fans out, merges and audits; the reply and status go back as they come.
#ifndef PMDB_NODE_TRANSPORT_FEDERATION_SERVICE_H_
#define PMDB_NODE_TRANSPORT_FEDERATION_SERVICE_H_

#include "node/hub/hub.h"
#include "pmdb/v1/federation.grpc.pb.h"

namespace pmdb::transport {

class FederationServiceImpl final : public v1::FederationService::CallbackService {
 public:
  // `hub` must outlive the service.
  explicit FederationServiceImpl(hub::Hub* hub) : hub_(hub) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::FederationInfo* reply) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::CountRequest* request,
                                  v1::FederatedCount* reply) override;
  grpc::ServerUnaryReactor* Breakdown(grpc::CallbackServerContext* context,
                                      const v1::BreakdownRequest* request,
                                      v1::FederatedBreakdown* reply) override;
  grpc::ServerUnaryReactor* Frequency(grpc::CallbackServerContext* context,
                                      const v1::FrequencyRequest* request,
                                      v1::FederatedFrequency* reply) override;
  grpc::ServerUnaryReactor* Catalogue(grpc::CallbackServerContext* context,
                                      const v1::CatalogueRequest* request,
                                      v1::FederatedCatalogue* reply) override;
  grpc::ServerUnaryReactor* SimilarCases(grpc::CallbackServerContext* context,
                                         const v1::SimilarCasesRequest* request,
                                         v1::FederatedSimilarCases* reply) override;
  grpc::ServerUnaryReactor* RequestContact(grpc::CallbackServerContext* context,
                                           const v1::ContactRequest* request,
                                           v1::ContactTicket* reply) override;
  grpc::ServerUnaryReactor* ContactStatus(grpc::CallbackServerContext* context,
                                          const v1::ContactStatusRequest* request,
                                          v1::ContactTicket* reply) override;

 private:
  hub::Hub* hub_;
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_FEDERATION_SERVICE_H_
