// Limits on one question, checked before any data is read: a question over them is refused with
// a message saying which limit, whatever the data. They keep a hostile or mistaken question from
// exhausting the parser's stack, a node's memory and CPU (every criterion is a bitmap read and
// combined) or the audit log (one entry holds the question's text).
//
// The defaults below hold at the command line. `pmdb node` and `pmdb hub` take theirs from the
// `[limits]` table of their configuration (max_question_bytes, max_nesting, max_criteria) and
// set them for the whole process (SetLimits); nesting can only be lowered below the parser's
// ceiling.
#ifndef PMDB_QUERY_LIMITS_H_
#define PMDB_QUERY_LIMITS_H_

#include <cstddef>

namespace pmdb::query {

inline constexpr size_t kMaxQueryBytes = 64 * 1024;  // of a question's text
inline constexpr int kMaxDepth = 64;                 // nested parentheses and NOTs (the ceiling)
inline constexpr size_t kMaxCriteria = 1000;         // criteria (leaves) in one question

struct QueryLimits {
  size_t max_bytes = kMaxQueryBytes;  // a question's text; on the wire, its leaves' text
  int max_depth = kMaxDepth;
  size_t max_criteria = kMaxCriteria;
};

// The limits in force in this process; SetLimits clamps nesting to kMaxDepth.
QueryLimits Limits();
void SetLimits(QueryLimits limits);

}  // namespace pmdb::query

#endif  // PMDB_QUERY_LIMITS_H_
