// RegionService over gRPC: the questions the hub forwards to a node on an end user's behalf.
// Each handler is the same five steps: the caller's credentials, the request, the core
// (core::NodeCore authorizes, applies the region's policy, answers and audits), the reply, the
// status.
#ifndef PMDB_NODE_TRANSPORT_REGION_SERVICE_H_
#define PMDB_NODE_TRANSPORT_REGION_SERVICE_H_

#include <functional>

#include "node/core/node_core.h"
#include "pmdb/v1/region.grpc.pb.h"

namespace pmdb::transport {

class RegionServiceImpl final : public v1::RegionService::CallbackService {
 public:
  // Runs a job elsewhere; false when it cannot take one now.
  using Offload = std::function<bool(std::function<void()>)>;

  // `core` must outlive the service. With `offload`, the aggregate questions (count, breakdown,
  // frequency, catalogue) run there instead of on gRPC's callback threads: a sharded region's
  // node waits for its shards' answers, which arrive on those same threads.
  explicit RegionServiceImpl(core::NodeCore* core, Offload offload = {})
      : core_(core), offload_(std::move(offload)) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request, v1::RegionInfo* reply) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::CountRequest* request, v1::CountAnswer* reply) override;
  grpc::ServerUnaryReactor* Breakdown(grpc::CallbackServerContext* context,
                                      const v1::BreakdownRequest* request,
                                      v1::BreakdownAnswer* reply) override;
  grpc::ServerUnaryReactor* Frequency(grpc::CallbackServerContext* context,
                                      const v1::FrequencyRequest* request,
                                      v1::FrequencyAnswer* reply) override;
  grpc::ServerUnaryReactor* Catalogue(grpc::CallbackServerContext* context,
                                      const v1::CatalogueRequest* request,
                                      v1::CatalogueAnswer* reply) override;
  grpc::ServerUnaryReactor* NationalShare(grpc::CallbackServerContext* context,
                                          const v1::NationalShareRequest* request,
                                          v1::NationalShareAnswer* reply) override;
  grpc::ServerUnaryReactor* SimilarCases(grpc::CallbackServerContext* context,
                                         const v1::SimilarCasesRequest* request,
                                         v1::SimilarCasesAnswer* reply) override;
  grpc::ServerUnaryReactor* RequestContact(grpc::CallbackServerContext* context,
                                           const v1::ContactRequest* request,
                                           v1::ContactTicket* reply) override;
  grpc::ServerUnaryReactor* ContactStatus(grpc::CallbackServerContext* context,
                                          const v1::ContactStatusRequest* request,
                                          v1::ContactTicket* reply) override;
  grpc::ServerUnaryReactor* AuditHead(grpc::CallbackServerContext* context,
                                      const v1::AuditHeadRequest* request,
                                      v1::AuditHeadReply* reply) override;

 private:
  // `job` on the offload pool, or here without one; a full pool answers UNAVAILABLE.
  void Run(grpc::ServerUnaryReactor* reactor, std::function<void()> job);

  core::NodeCore* core_;
  Offload offload_;
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_REGION_SERVICE_H_
