#include "node/core/aggregates.h"

#include "node/base/strings.h"
#include "query/parser.h"
#include "security/released.h"

namespace pmdb::core {
namespace {

// What the noise is keyed on: the kind of answer and the question in canonical form.
std::string Question(std::string_view kind, const v1::Criterion& criterion,
                     const std::vector<v1::Dimension>& dimensions = {}) {
  std::string q = StrCat(kind, " ", query::FormatCriterion(criterion));
  for (v1::Dimension d : dimensions) StrAppend(&q, " by ", query::DimensionName(d));
  return q;
}

v1::DisclosureApplied Applied(const security::Discloser* discloser) {
  if (discloser != nullptr) return discloser->Applied();
  v1::DisclosureApplied exact;
  exact.set_exact(true);
  return exact;
}

template <typename Answer>
void AddWarnings(std::vector<std::string>& warnings, Answer& a) {
  for (std::string& w : warnings) a.add_warnings(std::move(w));
}

}  // namespace

absl::StatusOr<v1::CountAnswer> AnswerCount(const query::Engine& engine,
                                            const storage::ReadView& view,
                                            const v1::Criterion& criterion, v1::Purpose purpose,
                                            const security::Discloser* discloser) {
  auto r = engine.Count(view, criterion, purpose);
  if (!r.ok()) return r.status();
  v1::CountAnswer a;
  *a.mutable_count() = discloser != nullptr
                           ? discloser->ReleaseCount(r->value, Question("count", criterion))
                           : security::ExactCount(r->value);
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return a;
}

absl::StatusOr<v1::BreakdownAnswer> AnswerBreakdown(const query::Engine& engine,
                                                    const storage::ReadView& view,
                                                    const v1::Criterion& criterion,
                                                    const std::vector<v1::Dimension>& dimensions,
                                                    v1::Purpose purpose,
                                                    const security::Discloser* discloser) {
  auto r = engine.Breakdown(view, criterion, dimensions, purpose);
  if (!r.ok()) return r.status();
  v1::BreakdownAnswer a;
  for (v1::Dimension d : dimensions) a.add_dimensions(d);
  if (discloser != nullptr) {
    for (v1::ReleasedCell& cell :
         discloser->ReleaseBreakdown(r->value, Question("breakdown", criterion, dimensions))) {
      *a.add_cells() = std::move(cell);
    }
  } else {
    for (const v1::BreakdownCell& cell : r->value.cells()) {
      v1::ReleasedCell* out = a.add_cells();
      *out->mutable_labels() = cell.labels();
      *out->mutable_count() = security::ExactCount(cell.count());
    }
  }
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return a;
}

absl::StatusOr<v1::FrequencyAnswer> AnswerFrequency(const query::Engine& engine,
                                                    const storage::ReadView& view,
                                                    const v1::Criterion& criterion,
                                                    v1::Purpose purpose,
                                                    const security::Discloser* discloser) {
  auto r = engine.Frequency(view, criterion, purpose);
  if (!r.ok()) return r.status();
  v1::FrequencyAnswer a;
  if (discloser != nullptr) {
    std::string q = Question("frequency", criterion);
    *a.mutable_ac() = discloser->ReleaseCount(r->value.ac, q + " ac");
    *a.mutable_an() = discloser->ReleaseCount(r->value.an, q + " an");
  } else {
    *a.mutable_ac() = security::ExactCount(r->value.ac);
    *a.mutable_an() = security::ExactCount(r->value.an);
  }
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return a;
}

}  // namespace pmdb::core
