// Reads GA4GH Phenopacket v2 JSON with protobuf's JSON support into pmdb.v1.Phenopacket.
//
// A path may be one .json file (one phenopacket), a .jsonl/.ndjson file (one per line) or a
// directory of such files (read in name order). Fields pmdb does not model are counted by their
// path (e.g. "subject.vitalStatus.status" would be known, "foo.bar" not) and reported, not fatal.
#ifndef PMDB_NODE_INGEST_PHENOPACKET_READER_H_
#define PMDB_NODE_INGEST_PHENOPACKET_READER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/phenopacket.pb.h"

namespace pmdb::ingest {

struct ReadPacket {
  v1::Phenopacket packet;
  std::string location;  // "file" or "file:line", for messages
};

// Calls `fn` for every phenopacket; stops at the first error (unreadable file, invalid JSON, or
// an error returned by `fn`). `unknown_fields` counts unmodelled fields by path.
absl::Status ReadPhenopackets(const std::string& path,
                              const std::function<absl::Status(ReadPacket&&)>& fn,
                              std::map<std::string, uint64_t>* unknown_fields);

// The subject ids of the file's phenopackets, in order (an id twice is listed twice).
absl::StatusOr<std::vector<std::string>> PhenopacketSubjects(const std::string& path);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_PHENOPACKET_READER_H_
