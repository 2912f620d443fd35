// Moving a range of ordinals from one shard to a new one: the tail [at, end) of shard `from`
// goes to a new shard `to` with its own store (a shard that grew too large splits; with `at`
// equal to the shard's first ordinal, the whole shard moves to another store or machine). Both
// shards' processes are stopped while it runs; the rest of the region keeps its shards.
//
// Steps, each safe to interrupt: (1) the new store is made the shard of [at, end) and every
// record of those people copied into it (bitmaps cut to the range, individual records, subject
// index, opt-outs, variants, datasets); nobody looks at it yet. (2) One etcd transaction
// narrows `from` to [first, at) (or removes it) and adds `to`, if the map is still as read. (3)
// The moved people are removed from `from`'s store and its range narrowed. A shard refuses to
// serve while its store's range differs from the map's, so between (2) and (3) the region fails
// explicitly; running the same move again finishes it.
#ifndef PMDB_NODE_SHARD_MOVE_H_
#define PMDB_NODE_SHARD_MOVE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "node/shard/etcd.h"

namespace pmdb::shard {

struct MoveRequest {
  std::string region;
  std::string from;     // the shard whose tail moves
  std::string from_db;  // its store (its process stopped)
  std::string to;       // the new shard's name
  std::string to_db;    // its store: a new directory
  uint32_t at = 0;      // the first ordinal that moves (a multiple of 65,536)
};

struct MoveReport {
  uint32_t first = 0;  // the moved range [first, end)
  uint64_t end = 0;
  uint64_t individuals = 0;  // people moved
  uint64_t bitmaps = 0;      // bitmap keys with someone in the range
  bool resumed = false;      // the map had been changed by an earlier, interrupted run
};

absl::StatusOr<MoveReport> MoveRange(const Etcd& etcd, const MoveRequest& request,
                                     const std::function<void(const std::string&)>& progress = {});

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_MOVE_H_
