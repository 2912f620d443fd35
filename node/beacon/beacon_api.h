// GA4GH Beacon v2 (framework v2.x, default model) over the answers pmdb already gives: the
// framework endpoints (/, /info, /service-info, /configuration, /map, /entry_types,
// /filtering_terms), the individuals entry type (counts) and the genomicVariant entry type
// (one variant's allele frequency per region and nationally), GET and POST, granularity
// boolean and count. Transport-free: node/server routes the HTTPS front end's requests under
// the API root here, with the caller's credentials.
//
// Every number comes from BeaconBackend — the hub's federated count or frequency — which
// authorizes, and whose regions apply their sharing policy, disclosure control and budgets, and
// audit, exactly as for gRPC: nothing new leaves a region through HTTP. Records never leave:
// granularity "record" and the single-entry endpoints are refused with a Beacon error.
// Filtering terms come from the vocabularies (the HPO, the ICD-10 code list, the ATC main
// groups, sex and age), never from what the store holds, so that the list tells nothing about
// the region's patients (docs/beacon.md).
#ifndef PMDB_NODE_BEACON_BEACON_API_H_
#define PMDB_NODE_BEACON_BEACON_API_H_

#include <google/protobuf/struct.pb.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/call/caller.h"
#include "node/vocab/code_list.h"
#include "node/vocab/ontology.h"
#include "pmdb/v1/federation.pb.h"

namespace pmdb::beacon {

inline constexpr char kBeaconApiVersion[] = "v2.0.0";

// How the Beacon describes itself.
struct BeaconIdentity {
  std::string id;  // reverse domain, e.g. "se.pmdb.hub"
  std::string name;
  std::string organization;  // id and name of the organization
  std::string contact;       // "mailto:..." or a URL; may be empty
  std::string url;           // the organization's web page; empty: the Beacon's own URL
  std::string environment = "prod";
  std::string version;      // pmdb's version
  std::string description;  // one line: whose data answers
};

// What answers: the hub (every region, one part each) or a node (its own region).
class BeaconBackend {
 public:
  virtual ~BeaconBackend() = default;
  // Individuals matching the request's criterion, as released, one part per region.
  virtual void Count(const call::Credentials& who, const v1::CountRequest& request,
                     std::function<void(absl::StatusOr<v1::FederatedCount>)> done) = 0;
  // A variant's allele count and number in the cohort the criterion chooses, per region.
  virtual void Frequency(const call::Credentials& who, const v1::FrequencyRequest& request,
                         std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) = 0;
  // The federated top similar cases for a clinician (the Matchmaker Exchange API).
  virtual void SimilarCases(
      const call::Credentials& who, const v1::SimilarCasesRequest& request,
      std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) = 0;
  // The public tier (a node's, for anyone): whether one variant is seen in the region.
  virtual void Exists(const v1::Criterion& variant,
                      std::function<void(absl::StatusOr<v1::PublicAnswer>)> done) {
    (void)variant;
    done(absl::UnimplementedError("no public tier here"));
  }
  // Who answers and what they hold: each region's datasets (names and assemblies).
  virtual void Info(const call::Credentials& who,
                    std::function<void(absl::StatusOr<v1::FederationInfo>)> done) = 0;
  // Reference vocabularies for the filtering terms; null when there is none.
  virtual const vocab::Ontology* ontology() const = 0;
  virtual const vocab::CodeList* icd10() const = 0;
};

struct BeaconHttpRequest {
  std::string method;  // GET, POST, HEAD
  std::string path;    // under the API root: "/info", "/individuals", "" for the root
  std::string query;   // raw, after '?'
  std::string body;
  std::string content_type;
  std::string base_url;  // "https://host:port/api", for /map's absolute URLs
};

struct BeaconHttpReply {
  int status = 200;
  std::string body;        // JSON
  bool cacheable = false;  // metadata that only changes with the configuration
};

class BeaconApi {
 public:
  // `backend` must outlive the API; its vocabularies are read once, here. `public_tier`: a
  // node's Beacon for anyone without a certificate, which answers only whether one variant is
  // seen (BeaconBackend::Exists), as a boolean, and lists only that in its metadata.
  BeaconApi(BeaconIdentity identity, BeaconBackend* backend, bool public_tier = false);

  // Answers once, from any thread.
  void Handle(const call::Credentials& who, const BeaconHttpRequest& request,
              std::function<void(BeaconHttpReply)> reply) const;

  // A beaconErrorResponse body (also for the HTTPS front end's own refusals).
  std::string ErrorBody(int status, const std::string& message) const;

 private:
  BeaconHttpReply Info() const;
  BeaconHttpReply ServiceInfo(const std::string& base_url) const;
  BeaconHttpReply Configuration() const;
  BeaconHttpReply Map(const std::string& base_url) const;
  BeaconHttpReply EntryTypes() const;
  BeaconHttpReply FilteringTerms(const std::string& query) const;
  void Individuals(const call::Credentials& who, const BeaconHttpRequest& request,
                   std::function<void(BeaconHttpReply)> reply) const;
  void GenomicVariants(const call::Credentials& who, const BeaconHttpRequest& request,
                       std::function<void(BeaconHttpReply)> reply) const;
  // The public tier's /g_variants: one variant, no filters, a boolean.
  void PublicVariant(const BeaconHttpRequest& request,
                     std::function<void(BeaconHttpReply)> reply) const;
  // The datasets collection (every region's, or the one named by `id`).
  void Datasets(const call::Credentials& who, const BeaconHttpRequest& request,
                const std::string& id, std::function<void(BeaconHttpReply)> reply) const;
  BeaconHttpReply Error(int status, const std::string& message) const;
  // The filtering terms, built once: they come from the vocabularies alone.
  void BuildTerms();
  google::protobuf::Value TermsDocument(std::vector<google::protobuf::Value> terms) const;

  BeaconIdentity identity_;
  BeaconBackend* backend_;
  bool public_tier_;
  std::vector<google::protobuf::Value> terms_;
  google::protobuf::Value resources_;
  std::string all_terms_body_;  // every term, as /filtering_terms sends it without paging
};

// The HTTP status for a refusal: INVALID_ARGUMENT 400, PERMISSION_DENIED 403, ... .
int HttpStatusOf(const absl::Status& status);
// A refusal's text for the caller: the status's message, except for internal failures (500),
// whose text is for the operator's log.
std::string CallerMessage(const absl::Status& status);

}  // namespace pmdb::beacon

#endif  // PMDB_NODE_BEACON_BEACON_API_H_
