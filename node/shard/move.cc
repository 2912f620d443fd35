#include "node/shard/move.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "node/base/strings.h"
#include "node/shard/shard_map.h"
#include "node/storage/keys.h"
#include "node/storage/store.h"
#include "pmdb/v1/records.pb.h"

namespace pmdb::shard {
namespace {

namespace keys = storage::keys;
using storage::Family;

// Writes are flushed every this many keys, so that memory stays bounded on a large shard. The
// new store is not in the map until the copy is whole, so it need not be one write.
constexpr size_t kKeysPerWrite = 4096;

// Batches of writes to one store.
class Writer {
 public:
  explicit Writer(storage::Store& store) : store_(store), batch_(store.NewBatch()) {}
  storage::WriteBatch& batch() { return batch_; }
  absl::Status Counted() {
    if (++pending_ < kKeysPerWrite) return absl::OkStatus();
    return Flush();
  }
  absl::Status Flush() {
    if (pending_ == 0) return absl::OkStatus();
    pending_ = 0;
    absl::Status s = store_.Write(batch_);
    batch_ = store_.NewBatch();
    return s;
  }

 private:
  storage::Store& store_;
  storage::WriteBatch batch_;
  size_t pending_ = 0;
};

// A dataset's record (`dataset/<id>`) with its sample count as the people of `range` in it: each
// shard's record counts its own people, so the node's sum stays the region's.
absl::StatusOr<std::string> DatasetWithin(const storage::ReadView& view, std::string_view key,
                                          std::string_view value, const storage::Bitmap& range) {
  v1::DatasetInfo info;
  if (!info.ParseFromString(std::string(value))) {
    return absl::DataLossError(StrCat("the dataset record ", key, " is unreadable"));
  }
  auto members = view.GetBitmap(keys::DatasetMembers(key.substr(keys::kMetaDatasetPrefix.size())));
  if (!members.ok()) return members.status();
  info.set_sample_count(static_cast<uint32_t>(members->AndCardinality(range)));
  return info.SerializeAsString();
}

bool InRange(uint32_t ordinal, uint32_t first, uint64_t end) {
  return ordinal >= first && ordinal < end;
}

// Step 1: every record of the people in [first, end) of `from`, copied into `to`.
absl::Status Copy(const storage::ReadView& from, storage::Store& to, uint32_t first, uint64_t end,
                  MoveReport* report) {
  const storage::Bitmap range =
      storage::Bitmap::Range(first, static_cast<uint32_t>(std::min<uint64_t>(end, UINT32_MAX)));
  auto lock = to.WriteLock();
  Writer out(to);
  absl::Status inner;
  auto keep = [&](absl::Status s) {
    if (inner.ok()) inner = std::move(s);
    return inner.ok();
  };
  absl::Status scanned =
      from.Scan(Family::kBitmaps, "", "", [&](std::string_view key, std::string_view value) {
        auto bits = storage::Bitmap::Deserialize(value);
        if (!bits.ok()) return keep(bits.status());
        *bits &= range;
        if (bits->Empty()) return true;
        if (key == keys::kAllIndividuals) report->individuals = bits->Cardinality();
        ++report->bitmaps;
        bits->Optimize();
        out.batch().AddBits(key, *bits);
        return keep(out.Counted());
      });
  if (!scanned.ok()) return scanned;
  if (!inner.ok()) return inner;
  scanned =
      from.Scan(Family::kIndividuals, "", "", [&](std::string_view key, std::string_view value) {
        if (auto ordinal = keys::ParseIndividual(key)) {
          if (!InRange(*ordinal, first, end)) return true;
        } else if (key.starts_with("x/")) {
          if (value.size() != 4 || !InRange(keys::ReadBE32(value), first, end)) return true;
        }
        // Opt-outs (o/<subject>) go to both: they name a subject, not an ordinal, and must hold
        // wherever the subject could come back.
        out.batch().Put(Family::kIndividuals, key, value);
        return keep(out.Counted());
      });
  if (!scanned.ok()) return scanned;
  if (!inner.ok()) return inner;
  for (Family family : {Family::kVariants, Family::kMeta}) {
    scanned = from.Scan(family, "", "", [&](std::string_view key, std::string_view value) {
      if (family == Family::kMeta && !keys::IsDataMetaKey(key)) return true;
      if (family == Family::kMeta && key.starts_with(keys::kMetaDatasetPrefix)) {
        auto within = DatasetWithin(from, key, value, range);
        if (!within.ok()) return keep(within.status());
        out.batch().Put(family, key, *within);
      } else {
        out.batch().Put(family, key, value);
      }
      return keep(out.Counted());
    });
    if (!scanned.ok()) return scanned;
    if (!inner.ok()) return inner;
  }
  // The new shard's next person: after everyone it received.
  auto next = from.Get(Family::kMeta, keys::kMetaNextOrdinal);
  if (!next.ok()) return next.status();
  if (next->has_value() && (*next)->size() == 4) {
    const uint32_t n = keys::ReadBE32(**next);
    std::string value;
    keys::AppendBE32(&value, std::max(n, first));
    out.batch().Put(Family::kMeta, keys::kMetaNextOrdinal, value);
  }
  return out.Flush();
}

// Step 3: the moved people out of `from`, and its range narrowed.
absl::Status Remove(storage::Store& from, uint32_t first, uint64_t end) {
  const storage::Bitmap range =
      storage::Bitmap::Range(first, static_cast<uint32_t>(std::min<uint64_t>(end, UINT32_MAX)));
  auto view = from.Snapshot();
  {
    auto lock = from.WriteLock();
    Writer out(from);
    absl::Status inner;
    auto keep = [&](absl::Status s) {
      if (inner.ok()) inner = std::move(s);
      return inner.ok();
    };
    absl::Status scanned =
        view->Scan(Family::kBitmaps, "", "", [&](std::string_view key, std::string_view value) {
          auto bits = storage::Bitmap::Deserialize(value);
          if (!bits.ok()) return keep(bits.status());
          *bits &= range;
          if (bits->Empty()) return true;
          out.batch().RemoveBits(key, *bits);
          return keep(out.Counted());
        });
    if (!scanned.ok()) return scanned;
    if (!inner.ok()) return inner;
    scanned =
        view->Scan(Family::kIndividuals, "", "", [&](std::string_view key, std::string_view value) {
          bool moved = false;
          if (auto ordinal = keys::ParseIndividual(key)) {
            moved = InRange(*ordinal, first, end);
          } else if (key.starts_with("x/")) {
            moved = value.size() == 4 && InRange(keys::ReadBE32(value), first, end);
          }
          if (!moved) return true;
          out.batch().Delete(Family::kIndividuals, key);
          return keep(out.Counted());
        });
    if (!scanned.ok()) return scanned;
    if (!inner.ok()) return inner;
    // Its datasets count the people it keeps.
    auto held = storage::ShardRangeOf(*view);
    if (!held.ok()) return held.status();
    const storage::Bitmap kept = storage::Bitmap::Range(held->first, first);
    scanned = view->Scan(Family::kMeta, keys::kMetaDatasetPrefix,
                         keys::PrefixEnd(keys::kMetaDatasetPrefix),
                         [&](std::string_view key, std::string_view value) {
                           auto within = DatasetWithin(*view, key, value, kept);
                           if (!within.ok()) return keep(within.status());
                           out.batch().Put(Family::kMeta, key, *within);
                           return keep(out.Counted());
                         });
    if (!scanned.ok()) return scanned;
    if (!inner.ok()) return inner;
    absl::Status flushed = out.Flush();
    if (!flushed.ok()) return flushed;
  }
  return storage::NarrowShard(from, first);
}

}  // namespace

absl::StatusOr<MoveReport> MoveRange(const Etcd& etcd, const MoveRequest& request,
                                     const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (request.at % storage::ShardRange::kAlign != 0) {
    return absl::InvalidArgumentError(StrCat(
        "a moved range starts at a multiple of 65536 (one bitmap container); got ", request.at));
  }
  if (request.from == request.to) {
    return absl::InvalidArgumentError("the range moves to a new shard with another name");
  }
  auto map = ReadShardMap(etcd, request.region);
  if (!map.ok()) return map.status();
  const ShardInfo* from = nullptr;
  const ShardInfo* to = nullptr;
  for (const ShardInfo& s : *map) {
    if (s.entry.name() == request.from) from = &s;
    if (s.entry.name() == request.to) to = &s;
  }
  auto from_store = storage::Store::Open(request.from_db, {});
  if (!from_store.ok()) return from_store.status();
  auto held = storage::ShardRangeOf(*(*from_store)->Snapshot());
  if (!held.ok()) return held.status();
  if (!held->sharded) {
    return absl::FailedPreconditionError(StrCat(request.from_db, " is not a shard's store"));
  }
  MoveReport report;
  report.first = request.at;
  report.end = held->end;

  // Resuming: the map already shows the move (step 2 done), the old store still the old range.
  if (to != nullptr) {
    const bool map_moved = to->entry.first_ordinal() == request.at &&
                           (from == nullptr ? held->first == request.at
                                            : from->entry.first_ordinal() == held->first &&
                                                  from->entry.end_ordinal() == request.at);
    const bool done = held->end == request.at || held->first == request.at;
    if (!map_moved || (!done && held->end != to->entry.end_ordinal())) {
      return absl::AlreadyExistsError(
          StrCat("region ", request.region, " already has a shard named ", request.to));
    }
    report.end = to->entry.end_ordinal();
    report.resumed = true;
    if (done) {
      say("the move was complete already");
      return report;
    }
    say(StrCat("resuming: removing ordinals ", request.at, "-", held->end, " from ", request.from));
    absl::Status removed = Remove(**from_store, request.at, held->end);
    if (!removed.ok()) return removed;
    return report;
  }
  if (from == nullptr) {
    return absl::NotFoundError(
        StrCat("region ", request.region, " has no shard named ", request.from));
  }
  if (from->entry.first_ordinal() != held->first || from->entry.end_ordinal() != held->end) {
    return absl::FailedPreconditionError(StrCat(
        request.from_db, " holds ordinals ", held->first, "-", held->end, " but the map gives ",
        request.from, " ", from->entry.first_ordinal(), "-", from->entry.end_ordinal()));
  }
  if (request.at < held->first || request.at >= held->end) {
    return absl::InvalidArgumentError(StrCat("ordinal ", request.at, " is not in ", request.from,
                                             "'s range ", held->first, "-", held->end));
  }

  // Step 1: a new store, the shard of [at, end), with a copy of those people.
  std::error_code ec;
  if (std::filesystem::exists(request.to_db, ec)) {
    // Only a copy an interrupted run left (it is in no map) is replaced.
    auto old = storage::Store::Open(request.to_db, {});
    bool ours = false;
    if (old.ok()) {
      auto view = (*old)->Snapshot();
      auto range = storage::ShardRangeOf(*view);
      auto next = view->Get(storage::Family::kMeta, keys::kMetaNextOrdinal);
      // An interrupted run's copy (its range, in no map), or a store it had just created.
      ours = range.ok() && next.ok() &&
             ((range->sharded && range->first == request.at && range->end == held->end) ||
              (!range->sharded && !next->has_value()));
      for (const ShardInfo& s : *map) {
        if (range.ok() && !range->id.empty() && s.entry.store_id() == range->id) ours = false;
      }
    }
    if (!ours) {
      return absl::AlreadyExistsError(
          StrCat(request.to_db, " exists: the new shard's store must be a new directory"));
    }
    old->reset();
    std::filesystem::remove_all(request.to_db, ec);
    if (ec) return absl::InternalError(StrCat("cannot remove ", request.to_db, ": ", ec.message()));
  }
  auto to_store = storage::Store::Open(request.to_db, {.create_if_missing = true});
  if (!to_store.ok()) return to_store.status();
  absl::Status made = storage::MakeShard(**to_store, request.at, held->end);
  if (!made.ok()) return made;
  auto made_range = storage::ShardRangeOf(*(*to_store)->Snapshot());
  if (!made_range.ok()) return made_range.status();
  say(StrCat("copying ordinals ", request.at, "-", held->end, " into ", request.to_db));
  absl::Status copied =
      Copy(*(*from_store)->Snapshot(), **to_store, request.at, held->end, &report);
  if (!copied.ok()) return copied;
  to_store->reset();  // closed (flushed) before the map points to it

  // Step 2: the map, in one transaction.
  v1::ShardEntry moved;
  moved.set_name(request.to);
  moved.set_address(kPendingAddress);
  moved.set_store_id(made_range->id);
  moved.set_first_ordinal(request.at);
  moved.set_end_ordinal(held->end);
  moved.set_added_unix(static_cast<int64_t>(std::time(nullptr)));
  auto moved_json = EntryJson(moved);
  if (!moved_json.ok()) return moved_json.status();
  std::vector<Etcd::Write> put = {{ShardsPrefix(request.region) + request.to, *moved_json}};
  std::vector<std::string> remove;
  if (request.at == held->first) {
    remove.push_back(ShardsPrefix(request.region) + request.from);
  } else {
    v1::ShardEntry narrowed = from->entry;
    narrowed.set_end_ordinal(request.at);
    auto json = EntryJson(narrowed);
    if (!json.ok()) return json.status();
    put.push_back({ShardsPrefix(request.region) + request.from, *json});
  }
  auto committed = etcd.Commit({{ShardsPrefix(request.region) + request.from, from->raw},
                                {ShardsPrefix(request.region) + request.to, std::nullopt}},
                               put, remove);
  if (!committed.ok()) return committed.status();
  if (!*committed) {
    return absl::AbortedError(StrCat("the shard map changed while the range was copied; ",
                                     request.to_db, " is not used: run the move again"));
  }
  say(StrCat("the shard map now gives ordinals ", request.at, "-", held->end, " to ", request.to));

  // Step 3: out of the old store.
  if (request.at == held->first) {
    say(StrCat(request.from, " is out of the map; its store ", request.from_db, " can be removed"));
    return report;
  }
  absl::Status removed = Remove(**from_store, request.at, held->end);
  if (!removed.ok()) return removed;
  return report;
}

}  // namespace pmdb::shard
