// Ranking a region's similar cases for one question, shared by the node (core::NodeCore, for
// clinicians through the hub and for operators) and the operator's own store (pmdb similar
// --db): the region's case index scored against the question, cases without care consent as of
// now left out, each match with the region's contact and either a sealed, expiring case
// reference or, on the region's own side, the subject id.
#ifndef PMDB_NODE_CORE_SIMILAR_H_
#define PMDB_NODE_CORE_SIMILAR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "pmdb/v1/similar.pb.h"
#include "query/similarity.h"

namespace pmdb::core {

struct RankOptions {
  std::string region;   // set on every match ("" on a bare store)
  std::string contact;  // the region's contact point
  uint32_t top = 10;
  const std::string* reference_key = nullptr;  // null: subject ids instead of references
  int64_t expires_unix = 0;                    // when the references stop working
  // Who may be returned at all (besides care consent); null: everyone.
  std::function<bool(uint32_t ordinal)> eligible;
  double min_score = 0;  // matches below are not returned
  // The IC to score with instead of the index's own (a shard's cases with its region's IC).
  const query::Weights* weights = nullptr;
};

struct RankedCases {
  v1::SimilarCasesAnswer answer;
  std::vector<uint32_t> ordinals;  // of the matches, for the audit log
};

// REQUIRES: `question` passed vocab::NormalizeCaseQuery; `view` is the store `index` was built
// from, at the same time or later.
absl::StatusOr<RankedCases> RankCases(const query::CaseIndex& index, const storage::ReadView& view,
                                      const v1::CaseQuery& question, const RankOptions& options);

// The two halves of RankCases, for a sharded region: each shard scores its cases (its best
// options.top, with subject ids when `subject_ids`, nothing else of the options' presentation),
// and the node merges the shards' lists (MergeRanked) and presents the result (PresentCases).
absl::StatusOr<RankedCases> ScoreCases(const query::CaseIndex& index, const storage::ReadView& view,
                                       const v1::CaseQuery& question, const RankOptions& options,
                                       bool subject_ids);
// The best `top` of several scored lists, as one ranking over all their cases would order them
// (score, then ordinal); cases considered are added up, notes taken from the first list.
RankedCases MergeRanked(std::vector<RankedCases> lists, uint32_t top);
// Region, contact and a sealed reference (with options.reference_key) on every match; matches
// below options.min_score dropped.
absl::Status PresentCases(const RankOptions& options, RankedCases* ranked);

// What a sharded region's node asks of its shards for a similar-case search
// (core::Sources::RankCases).
struct CaseSearch {
  uint32_t top = 10;
  std::vector<uint32_t> not_returnable;  // ordinals that may not be returned (sharing limits)
  bool subject_ids = false;              // the region's operator's own search
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SIMILAR_H_
