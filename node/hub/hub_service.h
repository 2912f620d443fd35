// The national hub's FederationService: authenticates the researcher or clinician, fans the
// question out to every configured region concurrently (each call with the hub's deadline and
// the end user's identity attached), merges what came back (sums under the national disclosure
// floor; a global top-k of similar cases), audits, and replies with one part per region. A
// region that did not answer is reported, never counted. Contact requests go to the one region
// named in the case reference.
#ifndef PMDB_NODE_HUB_HUB_SERVICE_H_
#define PMDB_NODE_HUB_HUB_SERVICE_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pmdb/v1/federation.grpc.pb.h"
#include "pmdb/v1/region.grpc.pb.h"
#include "security/audit.h"
#include "security/disclosure.h"

namespace pmdb::hub {

struct Region {
  std::string id;
  std::shared_ptr<v1::RegionService::StubInterface> stub;
};

struct HubSettings {
  std::string federation;
  std::chrono::milliseconds deadline{2000};
  security::DisclosureRules disclosure;  // min_count is the national floor
};

class FederationServiceImpl final : public v1::FederationService::CallbackService {
 public:
  FederationServiceImpl(HubSettings settings, std::vector<Region> regions,
                        security::AuditLog* audit)
      : settings_(std::move(settings)), regions_(std::move(regions)), audit_(audit) {}

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
  HubSettings settings_;
  std::vector<Region> regions_;
  security::AuditLog* audit_;
};

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_HUB_SERVICE_H_
