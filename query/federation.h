// Merging what regions released into one federated answer. Only released numbers are merged:
// a sum of exact counts is exact, a sum that includes a range is a range, and a region that did
// not answer contributes nothing (the answer is then marked partial by the caller).
#ifndef PMDB_QUERY_FEDERATION_H_
#define PMDB_QUERY_FEDERATION_H_

#include <string>
#include <utility>
#include <vector>

#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/federation.pb.h"

namespace pmdb::query {

// [a.low + b.low, a.high + b.high], an unbounded high staying unbounded.
v1::ReleasedCount AddReleased(const v1::ReleasedCount& a, const v1::ReleasedCount& b);

// Per-cell totals over the regions' breakdowns (cells matched by labels, in the first answer's
// order), and every region's cells with the region id appended to the labels.
struct MergedBreakdown {
  std::vector<v1::ReleasedCell> totals;
  std::vector<v1::ReleasedCell> cells;
};
MergedBreakdown MergeBreakdowns(
    const std::vector<std::pair<std::string, const v1::BreakdownAnswer*>>& answers);

// "12", "0-4", "12-16", "hidden".
std::string FormatReleased(const v1::ReleasedCount& count);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_FEDERATION_H_
