// A sharded region's shard map and its shards' membership, both in etcd (etcd.h):
//
//   /pmdb/<region>/shards/<name>   ShardEntry as JSON: the shard's address and its range of
//                                  individual ordinals [first, end), multiples of 65,536
//   /pmdb/<region>/members/<name>  the shard's address, under a lease the shard keeps alive:
//                                  present while the shard is up
//
// Ranges never overlap; the newest shard (the highest range) takes the region's new people.
// Every change is a compare-and-swap on the entries it replaces, so two operators (or an
// operator and a crash) cannot leave a range with two owners.
#ifndef PMDB_NODE_SHARD_SHARD_MAP_H_
#define PMDB_NODE_SHARD_SHARD_MAP_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "node/shard/etcd.h"
#include "pmdb/v1/shard.pb.h"

namespace pmdb::shard {

// The address of a shard added to the map that has not served yet.
inline constexpr char kPendingAddress[] = "pending:0";

// A shard's range when none is asked for: 16 bitmap containers (1,048,576 people).
inline constexpr uint64_t kDefaultShardSize = uint64_t{16} * 65536;

struct ShardInfo {
  v1::ShardEntry entry;
  bool alive = false;  // its membership lease is live
  std::string raw;     // the entry as etcd holds it (for a compare-and-swap)
};

std::string ShardsPrefix(const std::string& region);
// A shard map entry as etcd holds it (JSON with the proto's field names).
absl::StatusOr<std::string> EntryJson(const v1::ShardEntry& entry);
std::string MemberKey(const std::string& region, const std::string& name);

// The region's shards in order of their ranges, each with whether it is up. An inconsistent map
// (overlapping ranges, an unreadable entry) is an error, never a guess.
absl::StatusOr<std::vector<ShardInfo>> ReadShardMap(const Etcd& etcd, const std::string& region);

// Adds a shard named `name` at `address` whose range starts where the newest shard's ends (0 for
// the first) and holds `size` ordinals (a multiple of 65,536). Returns its entry.
absl::StatusOr<v1::ShardEntry> AddShard(const Etcd& etcd, const std::string& region,
                                        const std::string& name, const std::string& address,
                                        uint64_t size = kDefaultShardSize);

// Takes back a shard that was added but never served (its address is still kPendingAddress):
// a mistaken `pmdb shard add`. A shard that served holds people: move its range instead.
absl::Status RemovePendingShard(const Etcd& etcd, const std::string& region,
                                const std::string& name);

// A shard's membership: its key under a lease, renewed every third of `ttl_seconds` by a thread
// until destroyed (which revokes the lease, so the node sees the shard leave at once).
class Membership {
 public:
  static absl::StatusOr<std::unique_ptr<Membership>> Join(Etcd etcd, const std::string& key,
                                                          const std::string& value,
                                                          int64_t ttl_seconds = 6);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

 private:
  Membership(Etcd etcd, std::string key, std::string value, int64_t lease, int64_t ttl)
      : etcd_(std::move(etcd)),
        key_(std::move(key)),
        value_(std::move(value)),
        lease_(lease),
        ttl_(ttl) {}
  void Run();

  Etcd etcd_;
  std::string key_;
  std::string value_;
  std::atomic<int64_t> lease_;
  int64_t ttl_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_SHARD_MAP_H_
