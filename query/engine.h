// Engine: the transport-free entry point for questions to one node's store — counts,
// breakdowns and allele frequencies — with consent applied to every result.
//
// Results here are exact; disclosure control is applied by the caller before anything leaves
// the region. Stateless apart from the shared catalog; safe to call from several threads with
// separate views.
#ifndef PMDB_QUERY_ENGINE_H_
#define PMDB_QUERY_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/query.pb.h"
#include "query/executor.h"
#include "query/prepare.h"

namespace pmdb::query {

template <typename T>
struct Answer {
  T value;
  std::vector<std::string> warnings;  // from query::Prepare: they depend on no data
  std::string question;               // the canonical text of what was evaluated
};

struct AlleleFrequency {
  uint64_t ac = 0;
  uint64_t an = 0;
  double af() const { return an == 0 ? 0.0 : static_cast<double>(ac) / static_cast<double>(an); }
};

struct EngineOptions {
  Executor::Work work = Executor::Work::kDataIndependent;
  Checks checks = Checks::kBeforeReading;
  // Each person adds at most 2 to AC and to AN, whatever their ploidy or however many calls
  // they have (the sensitivity that disclosure control assumes). Off: every copy counts, as
  // bcftools counts them.
  bool bounded_contributions = true;
  // Breakdown cells only from a public domain: a diagnosis breakdown needs its codes named.
  bool public_cells = true;
};

// Every question is first prepared (query/prepare.h) without reading data, and the engine
// evaluates the prepared, canonical tree: a question that is refused is refused before any
// bitmap is read, and two questions with one canonical text count the same people in every
// cell. With Executor::Work::kDataIndependent (the default) the work done does not depend on
// whether part of the question selects anyone.
class Engine {
 public:
  using Options = EngineOptions;
  // For answers that leave the region: data-independent work, bounded contributions.
  static constexpr Options kDisclosing{};
  // For exact answers (a region's own operator): short-circuiting, every copy counted.
  static constexpr Options kExact{
      .work = Executor::Work::kShortCircuit, .bounded_contributions = false, .public_cells = false};

  explicit Engine(std::shared_ptr<const vocab::Catalog> catalog, Options options = kDisclosing)
      : catalog_(std::move(catalog)), options_(options) {}

  absl::StatusOr<Answer<uint64_t>> Count(const storage::ReadView& view,
                                         const v1::Criterion& criterion, v1::Purpose purpose) const;

  // One or two dimensions. Cells come in a fixed order per dimension (sex F, M, O, U; age bands
  // ascending then "unknown"; zygosity het, hom, hemi). By diagnosis: one cell per code of
  // `diagnoses` (query::CheckDiagnoses) in the order given, then "other" (a diagnosis, none of
  // them) and "none"; these cells overlap, a person with two of the codes is in both. With
  // `diagnoses` empty, exact answers list every ICD-10 category in the store instead, then
  // "none"; answers that leave the region refuse (the options' public_cells).
  absl::StatusOr<Answer<v1::Breakdown>> Breakdown(
      const storage::ReadView& view, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
      const std::vector<std::string>& diagnoses = {}) const;

  // The criterion's canonical form must be a variant(), or an AND of exactly one variant() with
  // criteria that choose the cohort in which the frequency is computed; INVALID_ARGUMENT
  // otherwise. With bounded contributions a person counts min(2, copies) toward AC and
  // min(2, called alleles) toward AN, once, however many calls they have.
  absl::StatusOr<Answer<AlleleFrequency>> Frequency(const storage::ReadView& view,
                                                    const v1::Criterion& criterion,
                                                    v1::Purpose purpose) const;

  // Many sites' frequencies in the whole consented cohort (a catalogue's batch): each site a
  // variant() alone; the cohort is read once. Answers in the order of `sites`.
  absl::StatusOr<std::vector<Answer<AlleleFrequency>>> Frequencies(
      const storage::ReadView& view, const std::vector<v1::Criterion>& sites,
      v1::Purpose purpose) const;

  // Everything each kind of answer checks before reading data, and the prepared question: what
  // an answer would be keyed on, for a quote of its cost (core::QuoteRelease).
  absl::StatusOr<Prepared> CheckCount(const v1::Criterion& criterion) const;
  absl::StatusOr<Prepared> CheckBreakdown(const v1::Criterion& criterion,
                                          const std::vector<v1::Dimension>& dimensions,
                                          const std::vector<std::string>& diagnoses) const;
  absl::StatusOr<Prepared> CheckFrequency(const v1::Criterion& criterion) const;

  const vocab::Catalog& catalog() const { return *catalog_; }
  const Options& options() const { return options_; }
  const std::shared_ptr<const vocab::Catalog>& catalog_ptr() const { return catalog_; }

 private:
  // AC and AN of one variant among `people`.
  absl::StatusOr<AlleleFrequency> AlleleFrequencyOf(const storage::ReadView& view,
                                                    const v1::VariantCriterion& v,
                                                    const storage::Bitmap& people) const;

  std::shared_ptr<const vocab::Catalog> catalog_;
  Options options_;
};

// "sex", "age_band", "diagnosis", "zygosity" and back.
absl::StatusOr<v1::Dimension> ParseDimension(std::string_view name);
// A breakdown's dimensions as a request carries them (a repeated enum): one or two known
// dimensions that differ. The one check every entry point uses.
absl::StatusOr<std::vector<v1::Dimension>> CheckDimensions(
    const google::protobuf::RepeatedField<int>& dimensions);
absl::StatusOr<std::vector<v1::Dimension>> CheckDimensions(
    const std::vector<v1::Dimension>& dimensions);
// The diagnosis codes of a breakdown's cells, normalized (ICD-10, any level), each once, in the
// order given: at most kMaxDiagnosisCells, and only with a diagnosis dimension.
inline constexpr size_t kMaxDiagnosisCells = 30;
absl::StatusOr<std::vector<std::string>> CheckDiagnoses(
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses);
absl::StatusOr<std::vector<std::string>> CheckDiagnoses(
    const std::vector<v1::Dimension>& dimensions,
    const google::protobuf::RepeatedPtrField<std::string>& diagnoses);
// How many cells of a breakdown one person can be in (what its release costs, in counts): the
// number of diagnosis codes named when it has a diagnosis dimension, otherwise one. Fixed
// before any data is read.
uint32_t CellsPerPerson(const std::vector<v1::Dimension>& dimensions,
                        const std::vector<std::string>& diagnoses);
// "sex,age_band" (what --breakdown takes), checked as above.
absl::StatusOr<std::vector<v1::Dimension>> ParseDimensions(std::string_view list);
// "sex,age_band" for the audit log and messages.
std::string FormatDimensions(const std::vector<v1::Dimension>& dimensions);
std::string DimensionName(v1::Dimension d);
std::string PurposeName(v1::Purpose p);  // "research", "care"

}  // namespace pmdb::query

#endif  // PMDB_QUERY_ENGINE_H_
