// RegionService handlers: questions the hub forwards on behalf of an end user. Each call is
// authenticated (the hub only), checked against the region's sharing policy and the user's
// budget, answered under disclosure control, and audited before the reply leaves. Similar cases
// and contact requests are for clinicians; the matches returned are audited by individual.
#ifndef PMDB_NODE_SERVICE_REGION_SERVICE_H_
#define PMDB_NODE_SERVICE_REGION_SERVICE_H_

#include "node/service/node_core.h"
#include "pmdb/v1/region.grpc.pb.h"

namespace pmdb::service {

class RegionServiceImpl final : public v1::RegionService::CallbackService {
 public:
  explicit RegionServiceImpl(NodeCore* core) : core_(core) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request, v1::RegionInfo* reply) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::CountRequest* request,
                                  v1::CountAnswer* reply) override;
  grpc::ServerUnaryReactor* Breakdown(grpc::CallbackServerContext* context,
                                      const v1::BreakdownRequest* request,
                                      v1::BreakdownAnswer* reply) override;
  grpc::ServerUnaryReactor* Frequency(grpc::CallbackServerContext* context,
                                      const v1::FrequencyRequest* request,
                                      v1::FrequencyAnswer* reply) override;
  grpc::ServerUnaryReactor* SimilarCases(grpc::CallbackServerContext* context,
                                         const v1::SimilarCasesRequest* request,
                                         v1::SimilarCasesAnswer* reply) override;
  grpc::ServerUnaryReactor* RequestContact(grpc::CallbackServerContext* context,
                                           const v1::ContactRequest* request,
                                           v1::ContactTicket* reply) override;
  grpc::ServerUnaryReactor* ContactStatus(grpc::CallbackServerContext* context,
                                          const v1::ContactStatusRequest* request,
                                          v1::ContactTicket* reply) override;

 private:
  NodeCore* core_;
};

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_REGION_SERVICE_H_
