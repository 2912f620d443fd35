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
};

struct RankedCases {
  v1::SimilarCasesAnswer answer;
  std::vector<uint32_t> ordinals;  // of the matches, for the audit log
};

// REQUIRES: `question` passed vocab::NormalizeCaseQuery; `view` is the store `index` was built
// from, at the same time or later.
absl::StatusOr<RankedCases> RankCases(const query::CaseIndex& index, const storage::ReadView& view,
                                      const v1::CaseQuery& question, const RankOptions& options);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SIMILAR_H_
