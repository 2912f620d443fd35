// What a Beacon answers from. The hub: every region, through hub::Hub exactly as a federated
// gRPC count, which authorizes the researcher, and whose regions apply their sharing policy,
// disclosure control and budgets, and audit. (A node's own Beacon, for the public tier and
// the Beacon Network, answers through core::NodeCore; not built yet.)
#ifndef PMDB_NODE_BEACON_BACKENDS_H_
#define PMDB_NODE_BEACON_BACKENDS_H_

#include <chrono>
#include <memory>

#include "node/beacon/beacon_api.h"
#include "node/hub/hub.h"

namespace pmdb::beacon {

class HubBackend : public BeaconBackend {
 public:
  // `deadline`: how long the hub waits for the regions per question (the Beacon Network cuts
  // off at 5 s). The hub must outlive this; the vocabularies may be null.
  HubBackend(hub::Hub* hub, std::chrono::milliseconds deadline,
             std::shared_ptr<const vocab::Ontology> ontology,
             std::shared_ptr<const vocab::CodeList> icd10);
  void Count(const call::Credentials& who, const v1::CountRequest& request,
             std::function<void(absl::StatusOr<v1::FederatedCount>)> done) override;
  void Frequency(const call::Credentials& who, const v1::FrequencyRequest& request,
                 std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) override;
  void SimilarCases(const call::Credentials& who, const v1::SimilarCasesRequest& request,
                    std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) override;
  void Info(const call::Credentials& who,
            std::function<void(absl::StatusOr<v1::FederationInfo>)> done) override;
  const vocab::Ontology* ontology() const override { return ontology_.get(); }
  const vocab::CodeList* icd10() const override { return icd10_.get(); }

 private:
  hub::Hub* hub_;
  std::chrono::milliseconds deadline_;
  std::shared_ptr<const vocab::Ontology> ontology_;
  std::shared_ptr<const vocab::CodeList> icd10_;
};

}  // namespace pmdb::beacon

#endif  // PMDB_NODE_BEACON_BACKENDS_H_
