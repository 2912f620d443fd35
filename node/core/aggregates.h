// Aggregate answers of one region: a count, a breakdown or an allele frequency computed by the
// query engine on one snapshot, then either passed through the region's disclosure rules (what
// leaves for a researcher) or kept exact (the region's own operator). Stateless; the engine and
// the view are the caller's.
//
// A disclosed answer's noise is keyed on the release: the kind of answer, the question's
// canonical form (query/canonical.h) and the snapshot's data version. The caller charges the
// release's cost to the privacy budgets before the answer may leave.
#ifndef PMDB_NODE_CORE_AGGREGATES_H_
#define PMDB_NODE_CORE_AGGREGATES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "pmdb/v1/answers.pb.h"
#include "query/engine.h"
#include "security/disclosure.h"

namespace pmdb::core {

// An answer with what releasing it costs: its fingerprint (equal for the same release) and its
// price in micro-rho. Both empty / 0 for exact answers.
template <typename Answer>
struct Release {
  Answer answer;
  std::string fingerprint;
  uint64_t cost_micros = 0;
};

// With `discloser` null the answer is exact and says so.
absl::StatusOr<Release<v1::CountAnswer>> AnswerCount(const query::Engine& engine,
                                                     const storage::ReadView& view,
                                                     const v1::Criterion& criterion,
                                                     v1::Purpose purpose,
                                                     const security::Discloser* discloser);

// REQUIRES: `dimensions` passed query::CheckDimensions, `diagnoses` query::CheckDiagnoses.
absl::StatusOr<Release<v1::BreakdownAnswer>> AnswerBreakdown(
    const query::Engine& engine, const storage::ReadView& view, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
    v1::Purpose purpose, const security::Discloser* discloser);

absl::StatusOr<Release<v1::FrequencyAnswer>> AnswerFrequency(const query::Engine& engine,
                                                             const storage::ReadView& view,
                                                             const v1::Criterion& criterion,
                                                             v1::Purpose purpose,
                                                             const security::Discloser* discloser);

// What releasing an answer would cost, from the question alone and the data version (which says
// whether the same release was made before): the release's fingerprint and price. Reads no
// data; the checks are the answer's own, so a question the answer would refuse is refused here.
struct Quote {
  std::string fingerprint;
  uint64_t cost_micros = 0;
};
absl::StatusOr<Quote> QuoteCount(const query::Engine& engine, const storage::ReadView& view,
                                 const v1::Criterion& criterion,
                                 const security::Discloser& discloser);
absl::StatusOr<Quote> QuoteBreakdown(const query::Engine& engine, const storage::ReadView& view,
                                     const v1::Criterion& criterion,
                                     const std::vector<v1::Dimension>& dimensions,
                                     const std::vector<std::string>& diagnoses,
                                     const security::Discloser& discloser);
absl::StatusOr<Quote> QuoteFrequency(const query::Engine& engine, const storage::ReadView& view,
                                     const v1::Criterion& criterion,
                                     const security::Discloser& discloser);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_AGGREGATES_H_
