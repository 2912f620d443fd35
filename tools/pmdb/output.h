// The command line's one JSON dialect (docs/json.md). Every --json output is written here, so a
// question gives the same shape whether a store (--db), a node (--node) or the hub (--hub)
// answered: the answer at the top, `partial` and one entry per region in `regions` (empty for a
// store, one for a node, every region for the hub). Fields are always present (null when there
// is no value); released numbers are {"low", "high", "exact"}; times are RFC 3339 strings in UTC;
// enumerations are the words of the text output and the flags; errors are {"error": {"code",
// "message"}}.
#ifndef PMDB_TOOLS_PMDB_OUTPUT_H_
#define PMDB_TOOLS_PMDB_OUTPUT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "node/call/released.h"
#include "pmdb/v1/admin.pb.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/federation.pb.h"
#include "pmdb/v1/similar.pb.h"
#include "tools/pmdb/json.h"

namespace pmdb::cli {

using RegionParts = google::protobuf::RepeatedPtrField<v1::RegionPart>;

// "ok", "unavailable", "deadline exceeded", "refused by policy", "invalid question".
using call::RegionStatusWord;
// "pending", "accepted", "declined".
std::string ContactStateWord(v1::ContactState s);

void WriteReleased(Json& j, const v1::ReleasedCount& c);
void WriteTime(Json& j, int64_t unix_seconds);  // a string, or null for 0

// A part as one region's answer to the hub; `parts` as the hub sent them. A node's own answer
// is one part with status ok (AsPart).
v1::RegionPart AsPart(const std::string& region);

// A cost quote (pmdb query --cost): what the question `of` ("count", "breakdown by sex", ...)
// would charge in each region, whether it is free or would be refused, and the budgets.
std::string CostJson(std::string_view query, std::string_view of, const RegionParts& parts);

std::string CountJson(std::string_view query, const v1::CountAnswer& answer, bool partial,
                      const RegionParts& parts);
std::string FrequencyJson(std::string_view query, const v1::FrequencyAnswer& answer, bool partial,
                          const RegionParts& parts);
// `answer.cells` are the totals; `regional` the regions' own cells, labelled with the region id
// as the last label (none for a store).
std::string BreakdownJson(std::string_view query, const v1::BreakdownAnswer& answer,
                          const google::protobuf::RepeatedPtrField<v1::ReleasedCell>& regional,
                          bool partial, const RegionParts& parts);

std::string SimilarJson(const v1::SimilarCasesAnswer& answer, bool partial,
                        const RegionParts& parts);
std::string TicketJson(const v1::ContactTicket& ticket);
std::string ContactListJson(const v1::ContactListReply& reply);

// {"error": {"code": "permission_denied", "message": "..."}}, with "query" first when given.
std::string ErrorJson(const absl::Status& status, std::string_view query = "");

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_OUTPUT_H_
