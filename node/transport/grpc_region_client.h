// hub::RegionClient over gRPC: one RegionService stub per region, called through gRPC's
// callback API with the call's deadline and the end user's identity in the pmdb-on-behalf-of
// metadata entry. gRPC statuses come back as absl::Status (status.h).
#ifndef PMDB_NODE_TRANSPORT_GRPC_REGION_CLIENT_H_
#define PMDB_NODE_TRANSPORT_GRPC_REGION_CLIENT_H_

#include <memory>

#include "node/hub/region_client.h"
#include "pmdb/v1/region.grpc.pb.h"

namespace pmdb::transport {

class GrpcRegionClient final : public hub::RegionClient {
 public:
  explicit GrpcRegionClient(std::shared_ptr<v1::RegionService::StubInterface> stub)
      : stub_(std::move(stub)) {}

  void Info(const hub::Outgoing& call, const v1::InfoRequest& request,
            hub::Done<v1::RegionInfo> done) override;
  void Count(const hub::Outgoing& call, const v1::CountRequest& request,
             hub::Done<v1::CountAnswer> done) override;
  void Breakdown(const hub::Outgoing& call, const v1::BreakdownRequest& request,
                 hub::Done<v1::BreakdownAnswer> done) override;
  void Frequency(const hub::Outgoing& call, const v1::FrequencyRequest& request,
                 hub::Done<v1::FrequencyAnswer> done) override;
  void Catalogue(const hub::Outgoing& call, const v1::CatalogueRequest& request,
                 hub::Done<v1::CatalogueAnswer> done) override;
  void SimilarCases(const hub::Outgoing& call, const v1::SimilarCasesRequest& request,
                    hub::Done<v1::SimilarCasesAnswer> done) override;
  void RequestContact(const hub::Outgoing& call, const v1::ContactRequest& request,
                      hub::Done<v1::ContactTicket> done) override;
  void ContactStatus(const hub::Outgoing& call, const v1::ContactStatusRequest& request,
                     hub::Done<v1::ContactTicket> done) override;
  void AuditHead(const hub::Outgoing& call, const v1::AuditHeadRequest& request,
                 hub::Done<v1::AuditHeadReply> done) override;
  void NationalShare(const hub::Outgoing& call, const v1::NationalShareRequest& request,
                     hub::Done<v1::NationalShareAnswer> done) override;

 private:
  std::shared_ptr<v1::RegionService::StubInterface> stub_;
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_GRPC_REGION_CLIENT_H_
