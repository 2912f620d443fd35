// The Matchmaker Exchange search API (MME API v1.1, POST /match) at the hub, for clinicians'
// tools: the patient's features (HPO, observed or not), genomic features (gene, variant,
// zygosity) and disorders become the similar-case question the hub already answers
// (BeaconBackend::SimilarCases: clinicians only, each region's probing defences, daily search
// limits and audit), and the federated top matches come back in MME's shape: a score in
// [0, 1] and a patient stub whose id is the opaque case reference and whose contact is the
// owning region's contact point. Nothing else about a case leaves its region: the stub's
// features are the terms the case shares with the query (as released), its genomic features
// the matched genes and variants.
//
// Versioning as the API says: the request's Content-Type is
// application/vnd.ga4gh.matchmaker.v1.X+json (415 otherwise, 406 for another major version,
// with the supported versions); errors are {"message": "..."}. Transport-free.
#ifndef PMDB_NODE_BEACON_MATCHMAKER_H_
#define PMDB_NODE_BEACON_MATCHMAKER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "node/beacon/beacon_api.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::beacon {

inline constexpr char kMatchmakerMediaType[] = "application/vnd.ga4gh.matchmaker.v1.1+json";

struct MatchReply {
  int status = 200;
  std::string body;
  std::string content_type = kMatchmakerMediaType;
};

// An MME request body as pmdb's case question and how many matches to return (at most 100;
// 10 by default, or the request's _pmdb_top). INVALID_ARGUMENT naming what is wrong.
absl::StatusOr<v1::SimilarCasesRequest> ParseMatchRequest(std::string_view body);

class MatchmakerApi {
 public:
  // `backend` must outlive the API; `disclaimer` is sent with every response.
  MatchmakerApi(BeaconBackend* backend, std::string disclaimer);

  // `path` under the MME root ("/match"). Answers once, from any thread.
  void Handle(const call::Credentials& who, const std::string& method, const std::string& path,
              const std::string& content_type, const std::string& body,
              std::function<void(MatchReply)> reply) const;

 private:
  BeaconBackend* backend_;
  std::string disclaimer_;
};

}  // namespace pmdb::beacon

#endif  // PMDB_NODE_BEACON_MATCHMAKER_H_
