// What an answer released, as the audit log records it (AuditEntry.released): one summary per
// answer type, the same on a node and at the hub, numbers written by security::FormatReleased.
// Never a subject id or a genotype: counts, ranges, cell and match counts, regions answering.
#ifndef PMDB_NODE_CALL_RELEASED_H_
#define PMDB_NODE_CALL_RELEASED_H_

#include <string>

#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/federation.pb.h"
#include "pmdb/v1/national.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::call {

std::string Released(const v1::CountAnswer& a);  // "count=<5"
std::string Released(
    const v1::BreakdownAnswer& a);  // "by=sex cells=4 suppressed=1 complementary=1"
std::string Released(const v1::FrequencyAnswer& a);     // "ac=12 an=2,000"
std::string Released(const v1::SimilarCasesAnswer& a);  // "matches=3"
std::string Released(const v1::CatalogueAnswer& a);     // "sites=500 noise_sd=40"
// "national share values=1 share_sd=2.04": masked, the numbers say nothing alone.
std::string Released(const v1::NationalShareAnswer& a);

// The hub's answers, each followed by " regions=ANSWERED/ASKED".
std::string Released(const v1::FederationInfo& a);      // "info regions=6/6"
std::string Released(const v1::FederatedCount& a);      // "total=1,204 regions=6/6"
std::string Released(const v1::FederatedBreakdown& a);  // of the totals, as above
std::string Released(const v1::FederatedFrequency& a);
std::string Released(const v1::FederatedSimilarCases& a);
std::string Released(const v1::FederatedCatalogue& a);

// A region's status as every answer shows it: "ok", "unavailable", "deadline exceeded",
// "refused by policy", "invalid question".
std::string RegionStatusWord(v1::RegionStatus s);

}  // namespace pmdb::call

#endif  // PMDB_NODE_CALL_RELEASED_H_
