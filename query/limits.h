// Limits on one question, the same at the CLI, the hub and every node, checked before any data
// is read: a question over them is refused with a message saying which limit, whatever the data.
// They keep a hostile or mistaken question from exhausting the parser's stack, a node's memory
// or the audit log (one entry holds the question's text).
#ifndef PMDB_QUERY_LIMITS_H_
#define PMDB_QUERY_LIMITS_H_

#include <cstddef>

namespace pmdb::query {

inline constexpr size_t kMaxQueryBytes = 64 * 1024;  // of a question's text
inline constexpr int kMaxDepth = 64;                 // nested parentheses and NOTs
inline constexpr size_t kMaxCriteria = 1000;         // criteria (leaves) in one question

}  // namespace pmdb::query

#endif  // PMDB_QUERY_LIMITS_H_
