// The text syntax for criteria, parsed into the pmdb.v1.Criterion tree, and printed back in a
// canonical form (used for display, batch output and, later, audit).
//
//   variant(GRCh38:7:55191822:T:G[,het|hom|hemi])  range(GRCh38:17:43044295-43125483)
//   gene(BRCA1[,het|hom|hemi])  hpo(HP:0002090)  dx(C34)  treatment(L01EB)  sex(F|M|O|U)
//   age(60-69) age(60-) age(65)  dataset(ID)     AND  OR  NOT  ( )
// NOT binds tightest, then AND, then OR. Keywords and function names are case-insensitive.
//
// Errors are INVALID_ARGUMENT with a message that starts "column N: " (1-based), so a caller
// can point at the spot; FormatParseError draws that.
#ifndef PMDB_QUERY_PARSER_H_
#define PMDB_QUERY_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::query {

// A chromosome name as VCF contigs have them: letters, digits, '_', '.', '-'.
bool IsChromName(std::string_view s);
// Bases (A, C, G, T, N in either case), a symbolic allele such as <DEL>, or '*'.
bool IsAllele(std::string_view s);

absl::StatusOr<v1::Criterion> ParseCriterion(std::string_view text);

// Canonical text: normalized codes, upper-case keywords, minimal parentheses.
// ParseCriterion(FormatCriterion(c)) yields c again.
std::string FormatCriterion(const v1::Criterion& criterion);

// The message, then the expression with a caret under the failing column.
std::string FormatParseError(std::string_view text, const absl::Status& status);

// The leaf criteria of a question: their kind ("variant", "range", "gene", "hpo", "dx",
// "treatment", "sex", "age", "dataset") and canonical text, in order of appearance. Used by
// sharing policies (which kinds a region answers) and by the near-repeat limit.
struct Leaf {
  std::string kind;
  std::string text;
};
std::vector<Leaf> Leaves(const v1::Criterion& criterion);
// The kinds a criterion may use; a policy's list is checked against these.
const std::vector<std::string>& LeafKinds();

}  // namespace pmdb::query

#endif  // PMDB_QUERY_PARSER_H_
