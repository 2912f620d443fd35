// Merging what the regions released into one federated answer. Pure functions over the
// regions' results, in the configured order of the regions, so they are tested without a
// server. Only released numbers are merged: a sum of exact counts is exact, a sum that includes
// a range is a range, every number passes the national floor (security::Floor) again, and a
// region that did not answer contributes nothing and makes the answer partial; it is never
// counted as zero.
#ifndef PMDB_NODE_HUB_MERGE_H_
#define PMDB_NODE_HUB_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/federation.pb.h"
#include "pmdb/v1/national.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::hub {

// One region's outcome for one federated question.
template <typename Answer>
struct RegionResult {
  std::string region;
  absl::StatusOr<Answer> answer = absl::UnknownError("no answer");
};

// How a region's failure is reported: deadline exceeded; refused (permission, budget,
// authentication); invalid question; anything else unavailable.
v1::RegionStatus RegionStatusOf(const absl::Status& status);

v1::FederationInfo MergeInfo(std::vector<RegionResult<v1::RegionInfo>> results,
                             const std::string& federation);

// `floor` is the hub's min_count.
v1::FederatedCount MergeCounts(std::vector<RegionResult<v1::CountAnswer>> results, uint32_t floor);

// Totals per cell, matched by labels in the order of the first answering region, and every
// region's cells with the region id as the last label.
v1::FederatedBreakdown MergeBreakdowns(std::vector<RegionResult<v1::BreakdownAnswer>> results,
                                       const std::vector<v1::Dimension>& dimensions,
                                       uint32_t floor);

v1::FederatedFrequency MergeFrequencies(std::vector<RegionResult<v1::FrequencyAnswer>> results,
                                        uint32_t floor);

// Every site's national AC and AN, summed over the regions that answered for all `sites` (in
// the request's order); a region that answered for another number of sites is reported
// unavailable and not added.
v1::FederatedCatalogue MergeCatalogues(std::vector<RegionResult<v1::CatalogueAnswer>> results,
                                       size_t sites, uint32_t floor);

// National totals (national.proto) from every configured region's outcome: the regions of the
// round that succeeded hold their shares, the others why they are not counted. The shares'
// masked values are summed (the masks cancel) into one noised number per value, shown through
// the hub's floor with the noise of every share added; no region's number is shown. No share
// at all: no number, never 0. Shares that do not fit together (other lengths or cells) give no
// number either, and say so.
v1::FederatedCount MergeNationalCount(std::vector<RegionResult<v1::NationalShareAnswer>> results,
                                      uint32_t rounds, uint32_t floor);
v1::FederatedBreakdown MergeNationalBreakdown(
    std::vector<RegionResult<v1::NationalShareAnswer>> results,
    const std::vector<v1::Dimension>& dimensions, uint32_t rounds, uint32_t floor);
v1::FederatedFrequency MergeNationalFrequency(
    std::vector<RegionResult<v1::NationalShareAnswer>> results, uint32_t rounds, uint32_t floor);

// The national top `top`: by score, ties to the region listed first, then to the region's own
// order, so an answer is reproducible. Notes come from the first region that reported any.
v1::FederatedSimilarCases MergeSimilarCases(
    std::vector<RegionResult<v1::SimilarCasesAnswer>> results, uint32_t top);

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_MERGE_H_
