// Similar cases: a region's cases held in memory for scoring, and the scorer.
//
// Score of a case C for a query Q, each part in [0, 1]:
//
//   phenotype  Best-match average over the information content (IC) of the most informative
//              common ancestor (MICA), normalized per direction by the side's own IC. A term t
//              whose best match on the other side shares the ancestor a earns
//              credit(t) = IC(t) * (IC(a) / IC(t))^3: all of IC(t) for an exact match (or a
//              match below t), most of it through a near ancestor, little through a broad one.
//                q->c = sum_q credit(q) / sum_q IC(q), c->q likewise, mean of both (symmetric).
//              A term observed on one side whose ancestor-or-self is excluded on the other is a
//              contradiction: its share of that side's IC is subtracted (mean of both sides).
//   genotype   Per queried call, mean over the calls: the same allele scores 1 (0.8 when the
//              zygosity differs from the one asked); a lab-reported variant or gene of the case
//              in the queried allele's gene scores 0.5; a gene-only query call scores 1 on a
//              case with a reported call in that gene (the question was asked at gene level).
//   diagnosis  1 for a shared disease id, 0.5 for a shared ICD-10 category (C34 of C341).
//
//   score = (0.55 phenotype + 0.35 genotype + 0.10 diagnosis) / (sum of the weights of the
//           parts the query has), so an identical case scores 1 whatever the query holds.
//
// IC comes from the region's own annotation frequencies, with the ontology's structure as a
// prior worth kStructurePrior cases:
//   IC(t) = -ln((n(t) + P * s(t)) / (N + P)),
// n(t) the cases annotated with t or a descendant, N the cases with any phenotype, s(t) the share
// of the ontology's live terms at or below t, P = kStructurePrior. A small region thus falls
// back to the structure (N = 0 gives -ln s(t)), a large one is ruled by its own cases. Either
// way IC never decreases from a term to its children, so a term's best match is itself and
// identical cases score 1.
//
// The cube and the prior were chosen on tools/bench/similar's case families (generator seeds
// 2026-2028, before the generator had frequent terms) and are reported there on other seeds,
// with and without frequent terms; see docs/benchmarks.md.
//
// Ties are broken by the case's ordinal, so an answer is deterministic. Only cases with a
// clinical record and care consent are indexed; the consent bitmap is checked again per query.
#ifndef PMDB_QUERY_SIMILARITY_H_
#define PMDB_QUERY_SIMILARITY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "node/vocab/case_query.h"
#include "node/vocab/catalog.h"
#include "node/vocab/ontology.h"
#include "pmdb/v1/records.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::query {

inline constexpr double kPhenotypeWeight = 0.55;
inline constexpr double kGenotypeWeight = 0.35;
inline constexpr double kDiagnosisWeight = 0.10;
inline constexpr double kOtherZygosity = 0.8;
inline constexpr double kSameGene = 0.5;
inline constexpr double kSameCategory = 0.5;
inline constexpr size_t kStructurePrior = 2000;
// A query term matched only through an ancestor is listed in a match when that ancestor earns
// at least this share of the term's IC ((IC(a) / IC(t))^3 >= 0.01): a relation through
// "Phenotypic abnormality" tells a clinician nothing and is left out.
inline constexpr double kMinListedCredit = 0.01;
inline constexpr int kMaxQueryTerms = vocab::kMaxCaseTerms;  // observed terms fit one 64-bit mask

// How many cases are annotated with each term or one of its descendants, and how many have any
// observed term: all that information content is computed from. A sharded region's shards each
// count their own cases and rank with the IC of the counts summed (node/shard), so that a case
// scores as it would in one store.
struct TermCounts {
  uint64_t cases = 0;
  std::vector<uint64_t> per_term;  // by ontology term index
};

// Information content per ontology term (see the file comment).
class InformationContent {
 public:
  // `ancestors[t]`: t and its ancestors; `annotations`: each case's observed terms.
  static InformationContent Build(const vocab::Ontology& ontology,
                                  const std::vector<std::vector<uint32_t>>& ancestors,
                                  const std::vector<std::vector<uint32_t>>& annotations);
  // From counts (of as many terms as the ontology has).
  static InformationContent FromCounts(const vocab::Ontology& ontology,
                                       const std::vector<std::vector<uint32_t>>& ancestors,
                                       TermCounts counts);
  double operator[](uint32_t term) const { return ic_[term]; }
  const TermCounts& counts() const { return counts_; }
  // The share of the estimate that comes from the region's annotations: N / (N + P).
  double annotation_weight() const { return annotation_weight_; }
  size_t annotated_cases() const { return annotated_; }

 private:
  std::vector<double> ic_;
  TermCounts counts_;
  double annotation_weight_ = 0;
  size_t annotated_ = 0;
};

// Another IC than an index's own, with each case's IC over its terms (IndexedCase::terms_ic)
// under it, by position in the index: what a shard ranks its cases with.
struct Weights {
  InformationContent ic;
  std::vector<double> terms_ic;
};

// One case as the scorer needs it.
struct IndexedCase {
  uint32_t ordinal = 0;
  // Observed and excluded terms, resolved, each once; they point into the CaseIndex's one pool,
  // so a ranking pass reads the cases' terms in order instead of chasing one allocation each.
  std::span<const uint32_t> terms;
  std::span<const uint32_t> excluded;
  std::vector<std::string> diagnoses;
  double terms_ic = 0;  // sum of IC over `terms`
  v1::Sex sex = v1::UNKNOWN_SEX;
  std::optional<uint32_t> age_years;
  std::string icd10_chapter;
  std::string care_unit;
};

// A region's cases, read once from a store snapshot and immutable afterwards (thread-safe).
class CaseIndex {
 public:
  // Reads every individual with a clinical record and care consent. Needs the catalog's
  // ontology when any case has phenotypes.
  static absl::StatusOr<std::shared_ptr<const CaseIndex>> Build(const storage::ReadView& view,
                                                                const vocab::Catalog& catalog);
  // For tests and tools: from records given directly (ordinal = position).
  static absl::StatusOr<std::shared_ptr<const CaseIndex>> FromRecords(
      std::shared_ptr<const vocab::Ontology> ontology,
      const std::vector<v1::IndividualRecord>& records);

  // Cases point into the index's own term pool: not copyable.
  CaseIndex(const CaseIndex&) = delete;
  CaseIndex& operator=(const CaseIndex&) = delete;

  size_t size() const { return cases_.size(); }
  const IndexedCase& at(size_t i) const { return cases_[i]; }
  const vocab::Ontology* ontology() const { return ontology_.get(); }
  const InformationContent& ic() const { return ic_; }
  // The IC of `counts` (a region's, when this index holds one shard's cases) over this index.
  // INVALID_ARGUMENT unless the counts are of this index's ontology's terms.
  absl::StatusOr<Weights> WeightsFor(TermCounts counts) const;
  // Position of an ordinal in the index, if indexed.
  std::optional<size_t> Find(uint32_t ordinal) const;
  // Positions of cases with a reported call in `gene`.
  const std::vector<size_t>* WithGene(const std::string& gene) const;
  // Positions of cases with the disease id (exact) or the ICD-10 category ("cat:Q61").
  const std::vector<size_t>* WithDiagnosis(const std::string& key) const;

  // Ancestors and descendants (inclusive) per term, precomputed.
  const std::vector<uint32_t>& ancestors(uint32_t t) const { return ancestors_[t]; }
  const std::vector<uint32_t>& descendants(uint32_t t) const { return descendants_[t]; }

 private:
  friend class CaseIndexBuilder;
  CaseIndex() = default;
  std::shared_ptr<const vocab::Ontology> ontology_;
  InformationContent ic_;
  std::vector<IndexedCase> cases_;
  std::vector<uint32_t> term_pool_;  // every case's terms, then its excluded terms
  std::unordered_map<uint32_t, size_t> by_ordinal_;
  std::unordered_map<std::string, std::vector<size_t>> by_gene_;
  std::unordered_map<std::string, std::vector<size_t>> by_diagnosis_;
  std::vector<std::vector<uint32_t>> ancestors_;
  std::vector<std::vector<uint32_t>> descendants_;
};

// Who carries a queried allele, by ordinal, with the zygosity (from the genotype bitmaps, VCF
// and lab-reported alike). One entry per query call; empty for gene-only calls.
using Carriers = std::vector<std::unordered_map<uint32_t, v1::Zygosity>>;

struct ScoredCase {
  size_t position = 0;  // in the CaseIndex
  v1::CaseMatch match;  // score parts, matched terms and variants, sex, age band, chapter
};

struct SimilarResult {
  std::vector<ScoredCase> top;  // best first
  std::vector<v1::TermNote> notes;
  uint64_t considered = 0;
};

// Ranks the indexed cases against `query`; `eligible(ordinal)` says whether a case may be
// returned (the live care consent). Unknown and obsolete query terms are reported in notes and
// left out; alternative and replaced ids are used as their current term and reported too.
// `weights` (from index.WeightsFor): the IC to score with instead of the index's own.
absl::StatusOr<SimilarResult> RankSimilar(const CaseIndex& index, const v1::CaseQuery& query,
                                          const Carriers& carriers, size_t top,
                                          const std::function<bool(uint32_t)>& eligible,
                                          const Weights* weights = nullptr);

// The carriers of every allele call in `query`, read from the genotype bitmaps of `view`.
absl::StatusOr<Carriers> ReadCarriers(const storage::ReadView& view, const v1::CaseQuery& query);

// Plain exact-term Jaccard between the query's observed terms and a case's (as given, no
// ontology); the baseline the evaluation compares with.
double JaccardTerms(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_SIMILARITY_H_
