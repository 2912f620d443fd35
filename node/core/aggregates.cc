#include "node/core/aggregates.h"

#include <set>

#include "node/base/strings.h"
#include "node/storage/store.h"
#include "security/released.h"

namespace pmdb::core {
namespace {

// What a release is keyed on: the kind of answer, the canonical text of the question the engine
// evaluated, the breakdown's dimensions and the data version of the snapshot it was computed on
// (the discloser adds its mechanism and scale).
absl::StatusOr<std::string> ReleaseOf(std::string_view kind, const std::string& question,
                                      const storage::ReadView& view,
                                      const std::vector<v1::Dimension>& dimensions = {},
                                      const std::vector<std::string>& diagnoses = {}) {
  auto version = storage::DataVersion(view);
  if (!version.ok()) return version.status();
  std::string q = StrCat(kind, " ", question);
  for (v1::Dimension d : dimensions) StrAppend(&q, " by ", query::DimensionName(d));
  for (const std::string& d : diagnoses) StrAppend(&q, " ", d);
  StrAppend(&q, " @", *version);
  return q;
}

v1::DisclosureApplied Applied(const security::Discloser* discloser) {
  if (discloser != nullptr) return discloser->Applied();
  v1::DisclosureApplied exact;
  exact.set_exact(true);
  exact.set_mechanism("exact");
  exact.set_description("exact: the region's own operator, audited");
  return exact;
}

template <typename Answer>
void AddWarnings(std::vector<std::string>& warnings, Answer& a) {
  for (std::string& w : warnings) a.add_warnings(std::move(w));
}

}  // namespace

absl::StatusOr<Release<v1::CountAnswer>> AnswerCount(const query::Engine& engine,
                                                     const storage::ReadView& view,
                                                     const v1::Criterion& criterion,
                                                     v1::Purpose purpose,
                                                     const security::Discloser* discloser) {
  auto r = engine.Count(view, criterion, purpose);
  if (!r.ok()) return r.status();
  Release<v1::CountAnswer> out;
  v1::CountAnswer& a = out.answer;
  if (discloser != nullptr) {
    auto release = ReleaseOf("count", r->question, view);
    if (!release.ok()) return release.status();
    *a.mutable_count() = discloser->ReleaseCount(r->value, *release);
    out.fingerprint = discloser->Fingerprint(*release);
    out.cost_micros = discloser->CostMicros();
  } else {
    *a.mutable_count() = security::ExactCount(r->value);
  }
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return out;
}

absl::StatusOr<Release<v1::BreakdownAnswer>> AnswerBreakdown(
    const query::Engine& engine, const storage::ReadView& view, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
    v1::Purpose purpose, const security::Discloser* discloser) {
  auto r = engine.Breakdown(view, criterion, dimensions, purpose, diagnoses);
  if (!r.ok()) return r.status();
  Release<v1::BreakdownAnswer> out;
  v1::BreakdownAnswer& a = out.answer;
  for (v1::Dimension d : dimensions) a.add_dimensions(d);
  if (discloser != nullptr) {
    auto release = ReleaseOf("breakdown", r->question, view, dimensions, diagnoses);
    if (!release.ok()) return release.status();
    for (v1::ReleasedCell& cell : discloser->ReleaseBreakdown(r->value, *release)) {
      *a.add_cells() = std::move(cell);
    }
    out.fingerprint = discloser->Fingerprint(*release);
    // The cost follows from the question alone: it is known before any data is read.
    out.cost_micros = discloser->CostMicros(query::CellsPerPerson(dimensions, diagnoses));
  } else {
    for (const v1::BreakdownCell& cell : r->value.cells()) {
      v1::ReleasedCell* c = a.add_cells();
      *c->mutable_labels() = cell.labels();
      *c->mutable_count() = security::ExactCount(cell.count());
    }
  }
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return out;
}

absl::StatusOr<Release<v1::FrequencyAnswer>> AnswerFrequency(const query::Engine& engine,
                                                             const storage::ReadView& view,
                                                             const v1::Criterion& criterion,
                                                             v1::Purpose purpose,
                                                             const security::Discloser* discloser) {
  auto r = engine.Frequency(view, criterion, purpose);
  if (!r.ok()) return r.status();
  Release<v1::FrequencyAnswer> out;
  v1::FrequencyAnswer& a = out.answer;
  if (discloser != nullptr) {
    auto release = ReleaseOf("frequency", r->question, view);
    if (!release.ok()) return release.status();
    // One person adds up to two alleles to AC and to AN (a diploid call), so each number's
    // noise is twice a count's and each costs what a count does.
    *a.mutable_ac() = discloser->ReleaseCount(r->value.ac, *release + " ac", 2);
    *a.mutable_an() = discloser->ReleaseCount(r->value.an, *release + " an", 2);
    out.fingerprint = discloser->Fingerprint(*release);
    out.cost_micros = 2 * discloser->CostMicros();
  } else {
    *a.mutable_ac() = security::ExactCount(r->value.ac);
    *a.mutable_an() = security::ExactCount(r->value.an);
  }
  *a.mutable_disclosure() = Applied(discloser);
  AddWarnings(r->warnings, a);
  return out;
}

namespace {

absl::StatusOr<Quote> QuoteOf(absl::StatusOr<query::Prepared> q, std::string_view kind,
                              const storage::ReadView& view,
                              const std::vector<v1::Dimension>& dimensions,
                              const std::vector<std::string>& diagnoses, uint64_t cost_micros,
                              const security::Discloser& discloser) {
  if (!q.ok()) return q.status();
  auto release = ReleaseOf(kind, q->text, view, dimensions, diagnoses);
  if (!release.ok()) return release.status();
  return Quote{discloser.Fingerprint(*release), cost_micros};
}

}  // namespace

absl::StatusOr<Quote> QuoteCount(const query::Engine& engine, const storage::ReadView& view,
                                 const v1::Criterion& criterion,
                                 const security::Discloser& discloser) {
  return QuoteOf(engine.CheckCount(criterion), "count", view, {}, {}, discloser.CostMicros(),
                 discloser);
}

absl::StatusOr<Quote> QuoteBreakdown(const query::Engine& engine, const storage::ReadView& view,
                                     const v1::Criterion& criterion,
                                     const std::vector<v1::Dimension>& dimensions,
                                     const std::vector<std::string>& diagnoses,
                                     const security::Discloser& discloser) {
  return QuoteOf(engine.CheckBreakdown(criterion, dimensions, diagnoses), "breakdown", view,
                 dimensions, diagnoses,
                 discloser.CostMicros(query::CellsPerPerson(dimensions, diagnoses)), discloser);
}

absl::StatusOr<Quote> QuoteFrequency(const query::Engine& engine, const storage::ReadView& view,
                                     const v1::Criterion& criterion,
                                     const security::Discloser& discloser) {
  return QuoteOf(engine.CheckFrequency(criterion), "frequency", view, {}, {},
                 2 * discloser.CostMicros(), discloser);
}

}  // namespace pmdb::core
