// Prepare: the half of answering a question that reads no data. A question arrives as a
// criterion tree (from the parser, or from the hub over the wire); before any bitmap is read it
// is checked and resolved against the region's vocabularies and published metadata only — the
// code systems, the HPO, the gene tables and the names and assemblies of its datasets — and put
// into canonical form (query/canonical.h). The engine then evaluates exactly that tree.
//
// This is what keeps errors and warnings from telling anything about the people in a store:
// whether a question is refused, and with which words, and which warnings come with its answer,
// depend only on the question and the vocabularies. The same invalid question gets the same
// error on any data (docs/disclosure.md, "What an answer depends on").
#ifndef PMDB_QUERY_PREPARE_H_
#define PMDB_QUERY_PREPARE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::query {

struct Prepared {
  v1::Criterion criterion;  // canonical (query::CanonicalCriterion): what is evaluated
  std::string text;         // its canonical text: what a released number is keyed on
  std::vector<std::string> warnings;
};

// INVALID_ARGUMENT for a malformed criterion or code, a gene no gene table knows; and
// FAILED_PRECONDITION for a gene() when the store has no gene table for any of its assemblies.
// Codes are normalized as the parser does (a criterion from the wire may not have been parsed);
// an HPO id that is an alternative or replaced id becomes the primary one, and an obsolete or
// unknown one matches nobody; each of these comes with a warning.
//
// `Checks::kWhenReached` leaves gene symbols unchecked, to be refused by the executor when (and
// if) it reaches them: what pmdb did before, kept only so that the attack suite can show what
// the eager check prevents ([disclosure] close_side_channels = false).
enum class Checks { kBeforeReading, kWhenReached };

// The limits of query/limits.h (nesting, criteria, size) on a criterion tree from the wire, and
// that every leaf is well-formed: its text prints back to that leaf alone (no spaces,
// parentheses or commas, printable ASCII, chromosome names and alleles as the language writes
// them), so that no two questions share a printed or canonical form. What Prepare checks
// first, and what a node and the hub check before they record a question.
absl::Status CheckLimits(const v1::Criterion& question);
absl::StatusOr<Prepared> Prepare(const v1::Criterion& question, const vocab::Catalog& catalog,
                                 Checks checks = Checks::kBeforeReading);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_PREPARE_H_
