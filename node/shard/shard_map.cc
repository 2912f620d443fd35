#include "node/shard/shard_map.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "node/base/strings.h"

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

}  // namespace pmdb::shard
