// Planner: decides the order in which the conjuncts of an AND are evaluated.
//
// Point-lookup leaves (variant, hpo, dx, treatment, sex, age, dataset) are fetched first and
// ordered by their exact size, smallest first, so the running intersection shrinks as fast as
// possible. Leaves that scan (range, gene) and nested OR/AND come next, since the executor skips
// them once the intersection is empty. Negations come last and are applied as set differences,
// which never needs the complement materialized.
#ifndef PMDB_QUERY_PLANNER_H_
#define PMDB_QUERY_PLANNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "pmdb/v1/query.pb.h"

namespace pmdb::query {

struct PlanStep {
  const v1::Criterion* criterion;  // for a negation: the negated criterion
  bool subtract = false;           // apply as AND NOT
  std::optional<uint64_t> size;    // exact size when known before evaluation
};

// True for leaves answered by point lookups.
bool IsPointLeaf(const v1::Criterion& c);

// REQUIRES: `size_of` returns the size of every point leaf it is given.
std::vector<PlanStep> PlanConjunction(
    const v1::CriterionList& conjuncts,
    const std::function<uint64_t(const v1::Criterion&)>& size_of);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_PLANNER_H_
