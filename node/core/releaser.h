// Releaser: the one face through which a region's aggregate answers leave it. A count, a
// breakdown or an allele frequency is computed by the query engine on one snapshot and turned
// into what the caller receives here, and only here:
//
//   * errors: the question's own (query::Prepare, the engine's Check*) come from checks that
//     read no data and pass as they are; any error once data is being read (a failing disk, a
//     corrupt record) becomes one fixed text, whatever it was, and the real one goes to the
//     node's log (stderr) only;
//   * warnings and the release's key come from those same checks, never from the evaluation;
//   * numbers pass through the discloser's mechanism (security/disclosure.h), keyed on the kind
//     of answer, the canonical question, its shape and the snapshot's data version;
//   * the cost follows from the question's shape alone.
//
// What the caller of a Releaser adds around it (authorization, sharing policy, the budgets'
// refusals, pacing) depends on the question, the caller and public configuration only;
// docs/disclosure.md lists every field of every answer and what it depends on.
//
// A Releaser without a discloser answers exactly, for the region's own operator, with errors as
// they are. Stateless; the engine, source and discloser are the caller's.
#ifndef PMDB_NODE_CORE_RELEASER_H_
#define PMDB_NODE_CORE_RELEASER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "node/core/source.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/national.pb.h"
#include "query/engine.h"
#include "security/disclosure.h"
#include "security/secure_sum.h"

namespace pmdb::core {

// An answer with what releasing it costs: its fingerprint (equal for the same release) and its
// price in micro-rho. Both empty / 0 for exact answers.
template <typename Answer>
struct Release {
  Answer answer;
  std::string fingerprint;
  uint64_t cost_micros = 0;
};

// What releasing an answer would cost, from the question alone and the data version (which says
// whether the same release was made before).
struct Quote {
  std::string fingerprint;
  uint64_t cost_micros = 0;
};

// A region's share of a national total (security/secure_sum.h) before it is masked: it never
// leaves the region as it is.
struct NationalShare {
  std::vector<int64_t> values;     // exact value plus this region's noise share, unclamped
  v1::NationalShareAnswer answer;  // cells' labels, share_sd, disclosure, warnings; no values
  std::string question;            // what it is a share of: kind, canonical form, shape
};

// A round of a national total as a region takes part in it: what its share is keyed on besides
// the question (the round's roster), and each region's noise variance per unit of sensitivity
// (sigma^2 / honest, honest = the round's regions less those that may collude).
struct NationalRoundShare {
  std::string roster_key;
  security::Rational share;
  uint32_t honest = 1;
};

// The text of every error that arises once data is being read, in a disclosed answer.
inline constexpr char kCouldNotAnswer[] =
    "the region could not compute this answer (an internal error, in its operator's log)";

class Releaser {
 public:
  // Answers that leave the region, through `discloser`.
  Releaser(const query::Engine& engine, const security::Discloser& discloser)
      : engine_(engine), discloser_(&discloser) {}
  // Exact answers for the region's own operator.
  explicit Releaser(const query::Engine& engine) : engine_(engine), discloser_(nullptr) {}

  absl::StatusOr<Release<v1::CountAnswer>> Count(const Source& source,
                                                 const v1::Criterion& criterion,
                                                 v1::Purpose purpose) const;
  // REQUIRES: `dimensions` passed query::CheckDimensions, `diagnoses` query::CheckDiagnoses.
  absl::StatusOr<Release<v1::BreakdownAnswer>> Breakdown(
      const Source& source, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
      v1::Purpose purpose) const;
  absl::StatusOr<Release<v1::FrequencyAnswer>> Frequency(const Source& source,
                                                         const v1::Criterion& criterion,
                                                         v1::Purpose purpose) const;

  // AC and AN at every site, each with noise of `scale` (a catalogue's batch). The release is
  // keyed on the set of sites, so the same sites in another order are the same release.
  // REQUIRES: every site a single variant() leaf.
  absl::StatusOr<Release<v1::CatalogueAnswer>> Catalogue(const Source& source,
                                                         const std::vector<v1::Criterion>& sites,
                                                         security::NoiseScale scale,
                                                         v1::Purpose purpose) const;

  // Shares of national totals (NationalShare): the same checks and evaluation as the answers
  // above, noise from the round's share instead of the region's own, nothing clamped or hidden
  // (the hub does that to the total). FAILED_PRECONDITION unless the region answers under
  // differential privacy with side channels closed (a breakdown's cells from the question).
  absl::StatusOr<Release<NationalShare>> ShareCount(const Source& source,
                                                    const v1::Criterion& criterion,
                                                    v1::Purpose purpose,
                                                    const NationalRoundShare& round) const;
  absl::StatusOr<Release<NationalShare>> ShareBreakdown(
      const Source& source, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
      v1::Purpose purpose, const NationalRoundShare& round) const;
  absl::StatusOr<Release<NationalShare>> ShareFrequency(const Source& source,
                                                        const v1::Criterion& criterion,
                                                        v1::Purpose purpose,
                                                        const NationalRoundShare& round) const;

  // What the answer would cost: reads no data but the data version; a question the answer would
  // refuse is refused here with the same error. REQUIRES: a discloser.
  absl::StatusOr<Quote> QuoteCount(const Source& source, const v1::Criterion& criterion) const;
  absl::StatusOr<Quote> QuoteBreakdown(const Source& source, const v1::Criterion& criterion,
                                       const std::vector<v1::Dimension>& dimensions,
                                       const std::vector<std::string>& diagnoses) const;
  absl::StatusOr<Quote> QuoteFrequency(const Source& source, const v1::Criterion& criterion) const;
  absl::StatusOr<Quote> QuoteCatalogue(const Source& source,
                                       const std::vector<v1::Criterion>& sites,
                                       security::NoiseScale scale) const;

 private:
  // The evaluation's result as it may leave: an error becomes kCouldNotAnswer (disclosed
  // answers), the warnings are the checks' own, and the question evaluated must be the one
  // checked.
  template <typename T>
  absl::StatusOr<query::Answer<T>> Evaluated(absl::StatusOr<query::Answer<T>> evaluated,
                                             const query::Prepared& checked,
                                             std::string_view kind) const;
  // What a release is keyed on (the discloser adds its mechanism and scale): the question at
  // the data version it was (or would be) read at.
  absl::StatusOr<std::string> KeyOf(std::string_view kind, const std::string& question,
                                    absl::StatusOr<std::string> version,
                                    const std::vector<v1::Dimension>& dimensions = {},
                                    const std::vector<std::string>& diagnoses = {}) const;
  // A catalogue's checked sites, their warnings and what its key is made of, from the question
  // alone.
  struct CheckedSites {
    std::vector<std::string> texts;  // canonical, in the request's order
    std::vector<std::string> warnings;
    std::string question;  // the set of sites and the noise
  };
  absl::StatusOr<CheckedSites> CheckSites(const std::vector<v1::Criterion>& sites,
                                          security::NoiseScale scale) const;
  uint64_t CatalogueCost(size_t sites, security::NoiseScale scale) const;
  absl::Status AfterReading(absl::Status status, std::string_view kind) const;
  // Why this region gives no share of a national total, or OK.
  absl::Status SharesNational() const;
  // The applied rules of a share: the region's, with the round's noise and cost.
  v1::DisclosureApplied ShareApplied(const NationalRoundShare& round, uint64_t cost_micros) const;
  v1::DisclosureApplied Applied() const;

  const query::Engine& engine_;
  const security::Discloser* discloser_;
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_RELEASER_H_
