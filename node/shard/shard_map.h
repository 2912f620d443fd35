// A sharded region's shard map and its shards' membership, both in etcd (etcd.h):
//
//   /pmdb/<region>/shards/<name>   ShardEntry as JSON: the shard's address and its range of
//                                  individual ordinals [first, end), multiples of 65,536
//   /pmdb/<region>/members/<name>  the shard's address, under a lease the shard keeps alive:
//                                  present while the shard is up
//   /pmdb/<region>/leader          the region's coordinating node, under its lease: one node
//                                  at a time answers and writes for a sharded region
//
// Ranges never overlap; the newest shard (the highest range) takes the region's new people.
// Every change is a compare-and-swap on the entries it replaces, so two operators (or an
// operator and a crash) cannot leave a range with two owners.
#ifndef PMDB_NODE_SHARD_SHARD_MAP_H_
#define PMDB_NODE_SHARD_SHARD_MAP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
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

std::string LeaderKey(const std::string& region);

// A sharded region's coordinating node: one at a time, because a node keeps the region's privacy
// budgets and audit log in its own store, and a second coordinator would answer with budgets of
// its own (and could give one new person ordinals on two shards). The node creates the region's
// leader key with a compare-and-swap under a lease it renews every third of `ttl_seconds`, and
// holds the region while the key is its own.
//
// Check() fails from the moment the lease may have lapsed: no renewal acknowledged within the
// TTL, counted from before the renewal was sent (etcd extends a lease from when it receives the
// renewal, so it cannot have lapsed earlier), less a second for the clocks' rates. The node then
// answers nothing until it takes the key again, which it tries every renewal period; shards
// refuse writes that do not carry the key's current value (CheckLeader), so a deposed node's
// late write fails there too.
class Leadership {
 public:
  // Takes the key for `holder` (who this node is, for the others' errors). While another holds
  // it, tries again until `wait` has passed (a crashed node's lease lapses within the TTL), then
  // fails naming the holder.
  static absl::StatusOr<std::unique_ptr<Leadership>> Take(Etcd etcd, const std::string& region,
                                                          const std::string& holder,
                                                          std::chrono::milliseconds wait,
                                                          int64_t ttl_seconds = 6);
  // Revokes the lease: another node may take the region at once.
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // OK while this node holds the region; UNAVAILABLE with the reason otherwise.
  absl::Status Check() const;
  // The key's value while this node holds it: what its writes to the shards carry.
  const std::string& token() const { return token_; }

 private:
  using Steady = std::chrono::steady_clock;
  Leadership(Etcd etcd, std::string region, std::string token, int64_t ttl)
      : etcd_(std::move(etcd)),
        region_(std::move(region)),
        key_(LeaderKey(region_)),
        token_(std::move(token)),
        ttl_(ttl) {}
  // With a fresh lease, creates the key if nobody holds it. True when it is ours now.
  absl::StatusOr<bool> TryTake();
  // Renews the lease and checks that the key is still ours; takes it again when it can.
  void Renew();
  void Run();
  // How long past the last acknowledged renewal's send time the lease is trusted.
  Steady::duration trusted() const;

  const Etcd etcd_;
  const std::string region_;
  const std::string key_;
  const std::string token_;
  const int64_t ttl_;
  mutable std::mutex mu_;
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  Steady::time_point valid_until_ ABSL_GUARDED_BY(mu_);
  std::string lost_ ABSL_GUARDED_BY(mu_);  // why the region is not held, once it was lost
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable wake_;
  std::thread thread_;
};

// What a shard asks before it takes a write from its node: OK when `token` is the region's leader
// key's value now; FAILED_PRECONDITION otherwise (no leader, or another node leads).
absl::Status CheckLeader(const Etcd& etcd, const std::string& region, const std::string& token);

// Who leads the region now (the holder its node named when it took the key); nullopt: nobody.
absl::StatusOr<std::optional<std::string>> RegionLeader(const Etcd& etcd,
                                                        const std::string& region);

// The gRPC metadata key a node's writes to its shards carry its leader token under.
inline constexpr char kLeaderMetadata[] = "pmdb-leader";

}  // namespace pmdb::shard

#endif  // PMDB_NODE_SHARD_SHARD_MAP_H_
