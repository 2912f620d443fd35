// Aggregate answers of one region: a count, a breakdown or an allele frequency computed by the
// query engine on one snapshot, then either passed through the region's disclosure rules (what
// leaves for a researcher) or kept exact (the region's own operator). Stateless; the engine and
// the view are the caller's.
#ifndef PMDB_NODE_CORE_AGGREGATES_H_
#define PMDB_NODE_CORE_AGGREGATES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "pmdb/v1/answers.pb.h"
#include "query/engine.h"
#include "security/disclosure.h"

namespace pmdb::core {

// With `discloser` null the answer is exact and says so.
absl::StatusOr<v1::CountAnswer> AnswerCount(const query::Engine& engine,
                                            const storage::ReadView& view,
                                            const v1::Criterion& criterion, v1::Purpose purpose,
                                            const security::Discloser* discloser);

// REQUIRES: `dimensions` passed query::CheckDimensions.
absl::StatusOr<v1::BreakdownAnswer> AnswerBreakdown(const query::Engine& engine,
                                                    const storage::ReadView& view,
                                                    const v1::Criterion& criterion,
                                                    const std::vector<v1::Dimension>& dimensions,
                                                    v1::Purpose purpose,
                                                    const security::Discloser* discloser);

absl::StatusOr<v1::FrequencyAnswer> AnswerFrequency(const query::Engine& engine,
                                                    const storage::ReadView& view,
                                                    const v1::Criterion& criterion,
                                                    v1::Purpose purpose,
                                                    const security::Discloser* discloser);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_AGGREGATES_H_
