#include "query/planner.h"

#include <algorithm>

namespace pmdb::query {

bool IsPointLeaf(const v1::Criterion& c) {
  switch (c.kind_case()) {
    case v1::Criterion::kVariant:
    case v1::Criterion::kHpo:
    case v1::Criterion::kDiagnosis:
    case v1::Criterion::kTreatment:
    case v1::Criterion::kSex:
    case v1::Criterion::kAge:
    case v1::Criterion::kDataset:
      return true;
    default:
      return false;
  }
}

std::vector<PlanStep> PlanConjunction(
    const v1::CriterionList& conjuncts,
    const std::function<uint64_t(const v1::Criterion&)>& size_of) {
  std::vector<PlanStep> points, scans, subtractions;
  for (const v1::Criterion& c : conjuncts.items()) {
    if (c.has_negation()) {
      subtractions.push_back({&c.negation(), true, std::nullopt});
    } else if (IsPointLeaf(c)) {
      points.push_back({&c, false, size_of(c)});
    } else {
      scans.push_back({&c, false, std::nullopt});
    }
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const PlanStep& a, const PlanStep& b) { return *a.size < *b.size; });
  std::vector<PlanStep> plan = std::move(points);
  plan.insert(plan.end(), scans.begin(), scans.end());
  plan.insert(plan.end(), subtractions.begin(), subtractions.end());
  return plan;
}

}  // namespace pmdb::query
