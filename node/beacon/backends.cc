#include "node/beacon/backends.h"

#include <utility>

namespace pmdb::beacon {

HubBackend::HubBackend(hub::Hub* hub, std::chrono::milliseconds deadline,
                       std::shared_ptr<const vocab::Ontology> ontology,
                       std::shared_ptr<const vocab::CodeList> icd10)
    : hub_(hub), deadline_(deadline), ontology_(std::move(ontology)), icd10_(std::move(icd10)) {}

void HubBackend::Count(const call::Credentials& who, const v1::CountRequest& request,
                       std::function<void(absl::StatusOr<v1::FederatedCount>)> done) {
  // The hub reads the request until it answers.
  auto kept = std::make_shared<v1::CountRequest>(request);
  hub_->Count(who, std::chrono::system_clock::now() + deadline_, *kept,
              [kept, done = std::move(done)](absl::StatusOr<v1::FederatedCount> answer) {
                done(std::move(answer));
              });
}

void HubBackend::Frequency(const call::Credentials& who, const v1::FrequencyRequest& request,
                           std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) {
  auto kept = std::make_shared<v1::FrequencyRequest>(request);
  hub_->Frequency(who, std::chrono::system_clock::now() + deadline_, *kept,
                  [kept, done = std::move(done)](absl::StatusOr<v1::FederatedFrequency> answer) {
                    done(std::move(answer));
                  });
}

void HubBackend::SimilarCases(const call::Credentials& who, const v1::SimilarCasesRequest& request,
                              std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) {
  auto kept = std::make_shared<v1::SimilarCasesRequest>(request);
  hub_->SimilarCases(
      who, std::chrono::system_clock::now() + deadline_, *kept,
      [kept, done = std::move(done)](absl::StatusOr<v1::FederatedSimilarCases> answer) {
        done(std::move(answer));
      });
}

void HubBackend::Info(const call::Credentials& who,
                      std::function<void(absl::StatusOr<v1::FederationInfo>)> done) {
  auto kept = std::make_shared<v1::InfoRequest>();
  hub_->Info(who, std::chrono::system_clock::now() + deadline_, *kept,
             [kept, done = std::move(done)](absl::StatusOr<v1::FederationInfo> answer) {
               done(std::move(answer));
             });
}

}  // namespace pmdb::beacon
