// A Beacon v2 query (GET parameters or a POST beaconRequestBody) turned into pmdb's question:
// one criterion, the AND of every filter and of the genomic request parameters, plus what the
// response echoes (granularity, pagination, filters, parameters).
//
// What is understood (docs/beacon.md):
//   filters   HP:… (with its descendants), ICD10:… (the code and the codes under it), ATC:…
//             (the level and those under it), sex as NCIT:C16576 / NCIT:C20197 (PATO:0000383 /
//             PATO:0000384) or {"id": "sex", "value": "female"}, age as {"id": "age",
//             "operator": ">=", "value": "P40Y" or "40"}, and the extension
//             {"id": "pmdb:criterion", "operator": "=", "value": "<pmdb query>"} that brings OR
//             and NOT (GET: pmdb_criterion=…).
//   genomic   assemblyId with referenceName and: start + referenceBases + alternateBases (one
//             variant; start is 0-based), or start + end (any variant overlapping [start, end),
//             0-based half-open); or geneId (geneid on GET).
// Anything else that would change the answer — an unknown filter, a bracket query, a variant
// type — is refused by name rather than ignored: a Beacon that drops a condition answers a
// different question than the one asked. Every refusal depends on the request only.
#ifndef PMDB_NODE_BEACON_REQUEST_H_
#define PMDB_NODE_BEACON_REQUEST_H_

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::beacon {

enum class Granularity { kBoolean, kCount, kRecord };
std::string GranularityName(Granularity g);

struct BeaconQuery {
  v1::Criterion criterion;  // kind unset when the request names no condition (everyone)
  Granularity granularity = Granularity::kBoolean;
  uint32_t skip = 0;
  uint32_t limit = 10;
  std::string include_resultset_responses = "HIT";
  bool test_mode = false;
  std::vector<std::string> requested_schemas;
  std::vector<std::string> filter_ids;          // echoed as receivedRequestSummary.filters
  google::protobuf::Struct request_parameters;  // echoed: {"g_variant": {...}} or empty
  // What the genomic request parameters named: kVariant, kRange or kGene; KIND_NOT_SET: none.
  v1::Criterion::KindCase genomic = v1::Criterion::KIND_NOT_SET;
};

// `query` is the raw query string (after '?').
absl::StatusOr<BeaconQuery> ParseGetQuery(std::string_view query);
// `body` is a beaconRequestBody (JSON).
absl::StatusOr<BeaconQuery> ParsePostBody(std::string_view body);

// "%41+b" -> "A b"; an invalid escape is kept as written.
std::string PercentDecode(std::string_view s);

}  // namespace pmdb::beacon

#endif  // PMDB_NODE_BEACON_REQUEST_H_
