#include "node/shard/shard_map.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "node/base/strings.h"
#include "security/case_ref.h"

namespace pmdb::shard {
namespace {

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

absl::StatusOr<std::string> EntryJson(const v1::ShardEntry& entry) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto s = google::protobuf::util::MessageToJsonString(entry, &out, options);
  if (!s.ok()) return absl::InternalError(s.ToString());
  return out;
}

std::string ShardsPrefix(const std::string& region) { return StrCat("/pmdb/", region, "/shards/"); }

std::string MemberKey(const std::string& region, const std::string& name) {
  return StrCat("/pmdb/", region, "/members/", name);
}

absl::StatusOr<std::vector<ShardInfo>> ReadShardMap(const Etcd& etcd, const std::string& region) {
  auto entries = etcd.List(ShardsPrefix(region));
  if (!entries.ok()) return entries.status();
  auto members = etcd.List(StrCat("/pmdb/", region, "/members/"));
  if (!members.ok()) return members.status();
  std::vector<ShardInfo> out;
  for (const EtcdEntry& e : *entries) {
    ShardInfo info;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto s = google::protobuf::util::JsonStringToMessage(e.value, &info.entry, options);
    if (!s.ok()) {
      return absl::DataLossError(
          StrCat("the shard map entry ", e.key, " in etcd is unreadable: ", s.ToString()));
    }
    info.raw = e.value;
    const std::string member = MemberKey(region, info.entry.name());
    info.alive = std::any_of(members->begin(), members->end(),
                             [&](const EtcdEntry& m) { return m.key == member; });
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const ShardInfo& a, const ShardInfo& b) {
    return a.entry.first_ordinal() < b.entry.first_ordinal();
  });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].entry.first_ordinal() < out[i - 1].entry.end_ordinal()) {
      return absl::DataLossError(StrCat(
          "the shard map of region ", region, " is inconsistent: ", out[i - 1].entry.name(),
          " and ", out[i].entry.name(), " both hold ordinals from ", out[i].entry.first_ordinal()));
    }
  }
  return out;
}

absl::StatusOr<v1::ShardEntry> AddShard(const Etcd& etcd, const std::string& region,
                                        const std::string& name, const std::string& address,
                                        uint64_t size) {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        StrCat("a shard's name is 1 to 63 of a-z, 0-9, '-' and '_' (it names etcd keys); got '",
               name, "'"));
  }
  if (address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("a shard's address is HOST:PORT; got '", address, "'"));
  }
  if (size == 0 || size % 65536 != 0) {
    return absl::InvalidArgumentError(StrCat(
        "a shard's range holds a multiple of 65536 people (one bitmap container); got ", size));
  }
  auto map = ReadShardMap(etcd, region);
  if (!map.ok()) return map.status();
  uint64_t first = 0;
  for (const ShardInfo& s : *map) {
    if (s.entry.name() == name) {
      return absl::AlreadyExistsError(StrCat("region ", region, " already has a shard named ", name,
                                             " (ordinals ", s.entry.first_ordinal(), " to ",
                                             s.entry.end_ordinal(), ")"));
    }
    first = std::max<uint64_t>(first, s.entry.end_ordinal());
  }
  if (first + size > (uint64_t{1} << 32)) {
    return absl::ResourceExhaustedError(
        StrCat("region ", region, " has no room for another ", size, " ordinals after ", first));
  }
  v1::ShardEntry entry;
  entry.set_name(name);
  entry.set_address(address);
  entry.set_first_ordinal(static_cast<uint32_t>(first));
  entry.set_end_ordinal(first + size);
  entry.set_added_unix(static_cast<int64_t>(std::time(nullptr)));
  auto json = EntryJson(entry);
  if (!json.ok()) return json.status();
  auto put = etcd.PutIf(ShardsPrefix(region) + name, std::nullopt, *json);
  if (!put.ok()) return put.status();
  if (!*put) {
    return absl::AbortedError(StrCat("another change added a shard named ", name,
                                     " at the same time; list the shards and try again"));
  }
  // Two shards added at once could both have started at `first`: the map says which one lost.
  auto after = ReadShardMap(etcd, region);
  if (!after.ok()) {
    (void)etcd.Delete(ShardsPrefix(region) + name);
    return absl::AbortedError(StrCat("another shard was added at the same time (",
                                     std::string(after.status().message()),
                                     "); this one was taken back, try again"));
  }
  return entry;
}

absl::Status RemovePendingShard(const Etcd& etcd, const std::string& region,
                                const std::string& name) {
  auto map = ReadShardMap(etcd, region);
  if (!map.ok()) return map.status();
  for (const ShardInfo& s : *map) {
    if (s.entry.name() != name) continue;
    if (s.entry.address() != kPendingAddress || !s.entry.store_id().empty()) {
      return absl::FailedPreconditionError(
          StrCat("shard ", name, " holds people (it has served, or people were moved to it): ",
                 "move its range to another shard instead (pmdb shard move)"));
    }
    auto removed =
        etcd.Commit({{ShardsPrefix(region) + name, s.raw}}, {}, {ShardsPrefix(region) + name});
    if (!removed.ok()) return removed.status();
    if (!*removed) return absl::AbortedError(StrCat("shard ", name, " changed; list and retry"));
    return absl::OkStatus();
  }
  return absl::NotFoundError(StrCat("region ", region, " has no shard named ", name));
}

absl::StatusOr<std::unique_ptr<Membership>> Membership::Join(Etcd etcd, const std::string& key,
                                                             const std::string& value,
                                                             int64_t ttl_seconds) {
  auto lease = etcd.GrantLease(ttl_seconds);
  if (!lease.ok()) return lease.status();
  absl::Status put = etcd.Put(key, value, *lease);
  if (!put.ok()) return put;
  std::unique_ptr<Membership> m(new Membership(std::move(etcd), key, value, *lease, ttl_seconds));
  m->thread_ = std::thread([p = m.get()] { p->Run(); });
  return m;
}

void Membership::Run() {
  const auto every = std::chrono::milliseconds(ttl_ * 1000 / 3);
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, every, [&] { return stopping_; })) {
    lock.unlock();
    absl::Status kept = etcd_.KeepAlive(lease_);
    if (kept.code() == absl::StatusCode::kNotFound) {
      // The lease expired (etcd restarted, or we could not reach it in time): join again.
      auto lease = etcd_.GrantLease(ttl_);
      if (lease.ok()) {
        if (etcd_.Put(key_, value_, *lease).ok()) {
          lease_ = *lease;
        } else {
          (void)etcd_.Revoke(*lease);
        }
      }
    } else if (!kept.ok()) {
      std::fprintf(stderr, "pmdb: keeping the membership %s alive failed: %s\n", key_.c_str(),
                   kept.ToString().c_str());
    }
    lock.lock();
  }
}

Membership::~Membership() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)etcd_.Revoke(lease_);
}

std::string LeaderKey(const std::string& region) { return StrCat("/pmdb/", region, "/leader"); }

namespace {

// The value of `key` (exactly), or nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ValueOf(const Etcd& etcd, const std::string& key) {
  auto entries = etcd.List(key);
  if (!entries.ok()) return entries.status();
  for (EtcdEntry& e : *entries) {
    if (e.key == key) return std::move(e.value);
  }
  return std::nullopt;
}

// The holder part of a leader token ("<random> <holder>").
std::string HolderOf(const std::string& token) {
  size_t space = token.find(' ');
  return space == std::string::npos ? token : token.substr(space + 1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Leadership>> Leadership::Take(Etcd etcd, const std::string& region,
                                                             const std::string& holder,
                                                             std::chrono::milliseconds wait,
                                                             int64_t ttl_seconds) {
  auto nonce = security::RandomHex(8);
  if (!nonce.ok()) return nonce.status();
  std::unique_ptr<Leadership> l(
      new Leadership(std::move(etcd), region, StrCat(*nonce, " ", holder), ttl_seconds));
  const auto until = Steady::now() + wait;
  for (;;) {
    auto taken = l->TryTake();
    // etcd unreachable for a moment is tried again until `wait` has passed, as a holder is.
    if (!taken.ok() && Steady::now() >= until) return taken.status();
    if (taken.ok() && *taken) break;
    if (Steady::now() >= until) {
      auto other = ValueOf(l->etcd_, l->key_);
      std::string who = other.ok() && other->has_value() ? HolderOf(**other) : "another node";
      return absl::FailedPreconditionError(StrCat(
          "region ", region, " is led by ", who, " (etcd key ", l->key_,
          "): a second node would answer with privacy budgets and an audit log of its own. Stop "
          "it, or start this node again once its lease (",
          ttl_seconds, " s) has lapsed"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  l->thread_ = std::thread([p = l.get()] { p->Run(); });
  return l;
}

Leadership::Steady::duration Leadership::trusted() const {
  return std::chrono::seconds(ttl_) - std::chrono::seconds(1);
}

absl::StatusOr<bool> Leadership::TryTake() {
  const auto sent = Steady::now();
  auto lease = etcd_.GrantLease(ttl_);
  if (!lease.ok()) return lease.status();
  auto put = etcd_.PutIf(key_, std::nullopt, token_, *lease);
  if (!put.ok() || !*put) {
    (void)etcd_.Revoke(*lease);
    if (!put.ok()) return put.status();
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  lease_ = *lease;
  valid_until_ = sent + trusted();
  lost_.clear();
  return true;
}

void Leadership::Renew() {
  int64_t lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
  }
  const auto sent = Steady::now();
  absl::Status kept = lease == 0 ? absl::NotFoundError("no lease") : etcd_.KeepAlive(lease);
  if (kept.ok()) {
    // The lease lives; the key must still be ours (an operator may have deleted it).
    auto value = ValueOf(etcd_, key_);
    if (!value.ok()) return;  // etcd unreachable: the lease runs out on its own
    if (value->has_value() && **value == token_) {
      std::lock_guard<std::mutex> lock(mu_);
      valid_until_ = sent + trusted();
      return;
    }
    if (!value->has_value()) {
      auto put = etcd_.PutIf(key_, std::nullopt, token_, lease);
      if (put.ok() && *put) {
        std::lock_guard<std::mutex> lock(mu_);
        valid_until_ = sent + trusted();
        return;
      }
    }
    (void)etcd_.Revoke(lease);
    std::lock_guard<std::mutex> lock(mu_);
    lease_ = 0;
    valid_until_ = Steady::time_point();
    lost_ = "another node took the region's leader key";
    return;
  }
  if (kept.code() != absl::StatusCode::kNotFound) {
    std::fprintf(stderr, "pmdb: renewing region %s's leadership failed: %s\n", region_.c_str(),
                 kept.ToString().c_str());
    return;
  }
  {
    // Gone (lapsed, or revoked by someone): another node may hold the key already.
    std::lock_guard<std::mutex> lock(mu_);
    lease_ = 0;
    valid_until_ = Steady::time_point();
    if (lost_.empty()) lost_ = "its lease in etcd lapsed";
  }
  (void)TryTake();
}

void Leadership::Run() {
  const auto every = std::chrono::milliseconds(ttl_ * 1000 / 3);
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, every, [&] { return stopping_; })) {
    lock.unlock();
    Renew();
    lock.lock();
  }
}

absl::Status Leadership::Check() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (Steady::now() < valid_until_) return absl::OkStatus();
  return absl::UnavailableError(
      StrCat("this node does not lead region ", region_, " now (",
             lost_.empty() ? "its lease in etcd was not renewed in time" : lost_,
             "); it answers nothing until it leads again"));
}

Leadership::~Leadership() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // After the thread: a renewal under way may have taken a new lease.
  int64_t lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
  }
  if (lease != 0) (void)etcd_.Revoke(lease);
}

absl::StatusOr<std::optional<std::string>> RegionLeader(const Etcd& etcd,
                                                        const std::string& region) {
  auto value = ValueOf(etcd, LeaderKey(region));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  return HolderOf(**value);
}

absl::Status CheckLeader(const Etcd& etcd, const std::string& region, const std::string& token) {
  auto value = ValueOf(etcd, LeaderKey(region));
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return absl::FailedPreconditionError(
        StrCat("region ", region, " has no leading node in etcd (", LeaderKey(region),
               "): a shard takes writes from its leading node only"));
  }
  if (token.empty() || **value != token) {
    return absl::FailedPreconditionError(
        StrCat("the node that sent this write does not lead region ", region, " (",
               HolderOf(**value), " does): a shard takes writes from its leading node only"));
  }
  return absl::OkStatus();
}

}  // namespace pmdb::shard
