// The canonical form of a question: one text for every way of writing the same condition that
// can be recognised without looking at the data. Disclosure control keys a released number's
// noise on it, so these rewrites return the same number and cost no budget:
//   reordering (A AND B = B AND A), grouping ((A AND B) AND C = A AND (B AND C)), repeats
//   (A AND A = A, A OR A = A), double negation (NOT NOT A = A), absorption
//   (A AND (A OR B) = A, A OR (A AND B) = A), contradictions and tautologies (A AND NOT A is
//   nothing, A OR NOT A is everyone), and empty ranges (age(70-60) is nothing).
// A rewrite it does not recognise (say OR age(150-), empty only because nobody is that old)
// is a new question: fresh noise, charged like any other.
#ifndef PMDB_QUERY_CANONICAL_H_
#define PMDB_QUERY_CANONICAL_H_

#include <string>

#include "pmdb/v1/query.pb.h"

namespace pmdb::query {

// Not meant to be parsed back: "TRUE" and "FALSE" stand for everyone and no one.
std::string CanonicalText(const v1::Criterion& criterion);

// The canonical form as a tree: ANDs and ORs flattened, their operands sorted by canonical text
// and deduplicated, the rewrites above applied. "Everyone" is an AND of nothing and "no one" an
// OR of nothing (query::Executor evaluates both). Its CanonicalText is the input's, and
// evaluating it selects the same people as the input on any data: the engine evaluates this
// tree, so two questions with one canonical text always count the same people.
v1::Criterion CanonicalCriterion(const v1::Criterion& criterion);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_CANONICAL_H_
