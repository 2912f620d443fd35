// Executor: evaluates a criterion tree to the bitmap of matching individuals, reading bitmaps
// through a consistent storage::ReadView.
//
// One Executor serves one query and keeps the universe once fetched. It evaluates a tree that
// query::Prepare has checked and resolved (codes normalized, HPO ids primary, genes known), so
// reading data never produces an error or a warning other than a storage failure. Consent is
// not applied here; the Engine does that for every result. Not thread-safe; the view and
// catalog must outlive it.
//
// By default the work done does not depend on the data: every operand of an AND is evaluated
// even once the running intersection is empty, so neither the outcome nor the time taken tells
// whether part of a question selects anyone. Short-circuiting is for answers that are exact
// anyway (a region's own operator).
#ifndef PMDB_QUERY_EXECUTOR_H_
#define PMDB_QUERY_EXECUTOR_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/bitmap.h"
#include "node/storage/read_view.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::query {

// Carriers of a variant (or of any variant in a gene), by zygosity. Every individual is in one
// cell only, hom before hemi before het, also with calls of two kinds for one variant.
struct ZygosityBitmaps {
  storage::Bitmap het, hom, hemi;
  storage::Bitmap Any() const { return het | hom | hemi; }
};

class Executor {
 public:
  enum class Work {
    kDataIndependent,  // evaluate every operand
    kShortCircuit,     // stop an AND once it selects nobody
  };

  Executor(const storage::ReadView& view, const vocab::Catalog& catalog,
           Work work = Work::kDataIndependent);

  absl::StatusOr<storage::Bitmap> Evaluate(const v1::Criterion& criterion);

  // Every individual in the store (consent not applied).
  absl::StatusOr<storage::Bitmap> Universe();

  // REQUIRES: `leaf` is a variant or gene criterion.
  absl::StatusOr<ZygosityBitmaps> Zygosities(const v1::Criterion& leaf);

 private:
  absl::StatusOr<storage::Bitmap> EvaluateAnd(const v1::CriterionList& list);
  absl::StatusOr<storage::Bitmap> EvaluateOr(const v1::CriterionList& list);
  absl::StatusOr<storage::Bitmap> EvaluateLeaf(const v1::Criterion& leaf);
  absl::StatusOr<storage::Bitmap> Fetch(const std::string& key);
  absl::StatusOr<ZygosityBitmaps> VariantsInRange(const std::string& assembly,
                                                  const std::string& chrom, uint32_t start,
                                                  uint32_t end);
  absl::StatusOr<ZygosityBitmaps> GeneCarriers(const v1::GeneCriterion& gene);

  const storage::ReadView& view_;
  const vocab::Catalog& catalog_;
  const Work work_;
  std::optional<storage::Bitmap> universe_;
  std::map<const v1::Criterion*, storage::Bitmap> leaf_cache_;
};

}  // namespace pmdb::query

#endif  // PMDB_QUERY_EXECUTOR_H_
