#include "node/storage/store.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/backup_engine.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/base/thread_annotations.h"
#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "node/storage/bitmap_merge_operator.h"
#include "node/storage/keys.h"
#include "node/storage/rocksdb_status.h"

namespace pmdb::storage {
namespace {

constexpr std::array<const char*, 6> kFamilyNames = {"meta",    "individuals", "variants",
                                                     "bitmaps", "audit",       "contact"};
constexpr size_t kFamilyCount = kFamilyNames.size();

size_t Index(Family f) { return static_cast<size_t>(f); }

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

using Handles = std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount>;

// What answers are computed from: the data families and the meta keys that go with them (a
// scan of the meta family from its start included). While a staged write is being applied,
// readers see these as they were before it.
bool IsPublishedData(Family family, std::string_view key) {
  return family == Family::kIndividuals || family == Family::kVariants ||
         family == Family::kBitmaps ||
         (family == Family::kMeta &&
          (key.empty() || keys::IsDataMetaKey(key) || key == keys::kMetaDataVersion ||
           key == keys::kMetaNextOrdinal));
}

using PinnedSnapshot = std::shared_ptr<const rocksdb::Snapshot>;

class SnapshotView : public ReadView {
 public:
  // `published`: the snapshot data is read at while a staged write is applied (null: now).
  // `incomplete`: a read-only view of a store whose committed staged write is not all applied;
  // its data is refused, the rest (the audit log) readable.
  SnapshotView(rocksdb::DB* db, const Handles* handles, PinnedSnapshot published,
               bool incomplete = false)
      : db_(db),
        handles_(handles),
        snapshot_(db->GetSnapshot()),
        published_(std::move(published)),
        incomplete_(incomplete) {
    options_.snapshot = snapshot_;
    data_options_.snapshot = published_ != nullptr ? published_.get() : snapshot_;
  }
  ~SnapshotView() override { db_->ReleaseSnapshot(snapshot_); }

  absl::StatusOr<std::optional<std::string>> Get(Family family,
                                                 std::string_view key) const override {
    if (incomplete_ && IsPublishedData(family, key)) return Incomplete();
    std::string value;
    rocksdb::Status s =
        db_->Get(OptionsFor(family, key), (*handles_)[Index(family)], ToSlice(key), &value);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) return FromRocksDb(s, "reading the store");
    return value;
  }

  absl::Status Scan(Family family, std::string_view begin, std::string_view end,
                    const ScanFn& fn) const override {
    if (incomplete_ && IsPublishedData(family, begin)) return Incomplete();
    rocksdb::ReadOptions options = OptionsFor(family, begin);
    rocksdb::Slice upper = ToSlice(end);
    if (!end.empty()) options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, (*handles_)[Index(family)]));
    for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
      if (!fn(std::string_view(it->key().data(), it->key().size()),
              std::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    return FromRocksDb(it->status(), "scanning the store");
  }

  absl::StatusOr<Bitmap> GetBitmap(std::string_view key) const override {
    if (incomplete_) return Incomplete();
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(data_options_, (*handles_)[Index(Family::kBitmaps)], ToSlice(key), &value);
    if (s.IsNotFound()) return Bitmap();
    if (!s.ok()) return FromRocksDb(s, "reading a bitmap");
    return Bitmap::Deserialize(std::string_view(value.data(), value.size()));
  }

  absl::StatusOr<std::vector<Bitmap>> GetBitmaps(std::span<const std::string> keys) const override {
    if (incomplete_) return Incomplete();
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (const std::string& k : keys) slices.push_back(ToSlice(k));
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(data_options_, (*handles_)[Index(Family::kBitmaps)], slices.size(), slices.data(),
                  values.data(), statuses.data());
    std::vector<Bitmap> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        out.emplace_back();
        continue;
      }
      if (!statuses[i].ok()) return FromRocksDb(statuses[i], "reading bitmaps");
      auto bits = Bitmap::Deserialize(std::string_view(values[i].data(), values[i].size()));
      if (!bits.ok()) return bits.status();
      out.push_back(std::move(*bits));
    }
    return out;
  }

 private:
  static absl::Status Incomplete() {
    return absl::UnavailableError(
        "the store is in the middle of applying a committed write; its data can be read once "
        "it is opened for writing (which finishes the write)");
  }
  const rocksdb::ReadOptions& OptionsFor(Family family, std::string_view key) const {
    return IsPublishedData(family, key) ? data_options_ : options_;
  }

  rocksdb::DB* db_;
  const Handles* handles_;
  const rocksdb::Snapshot* snapshot_;
  PinnedSnapshot published_;
  bool incomplete_;
  rocksdb::ReadOptions options_;
  rocksdb::ReadOptions data_options_;
};

// ZSTD first: bitmaps of dense variants are bitsets that ZSTD shrinks far better than LZ4, and
// queries read few blocks, so the slower decompression does not show.
rocksdb::CompressionType PickCompression() {
  for (auto c : {rocksdb::kZSTD, rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    for (auto supported : rocksdb::GetSupportedCompressions()) {
      if (supported == c) return c;
    }
  }
  return rocksdb::kNoCompression;
}

}  // namespace

struct WriteBatch::Rep {
  rocksdb::WriteBatch batch;
  const Handles* handles;
  bool changes_data = false;  // touches what answers are computed from
};

namespace {

bool IsDataFamily(Family f) {
  return f == Family::kIndividuals || f == Family::kVariants || f == Family::kBitmaps;
}

}  // namespace

WriteBatch::WriteBatch(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

// rocksdb::WriteBatch's own methods fail only when the batch outgrows its configured maximum
// size, which pmdb does not set; Store::Write reports any problem with the batch as a whole.
void WriteBatch::Put(Family family, std::string_view key, std::string_view value) {
  rep_->changes_data = rep_->changes_data || IsDataFamily(family) ||
                       (family == Family::kMeta && keys::IsDataMetaKey(key));
  rep_->batch.Put((*rep_->handles)[Index(family)], ToSlice(key), ToSlice(value))
      .PermitUncheckedError();
}
void WriteBatch::Delete(Family family, std::string_view key) {
  rep_->changes_data = rep_->changes_data || IsDataFamily(family) ||
                       (family == Family::kMeta && keys::IsDataMetaKey(key));
  rep_->batch.Delete((*rep_->handles)[Index(family)], ToSlice(key)).PermitUncheckedError();
}
void WriteBatch::AddBits(std::string_view key, const Bitmap& bits) {
  rep_->changes_data = true;
  rep_->batch.Merge((*rep_->handles)[Index(Family::kBitmaps)], ToSlice(key), EncodeAddBits(bits))
      .PermitUncheckedError();
}
void WriteBatch::RemoveBits(std::string_view key, const Bitmap& bits) {
  rep_->changes_data = true;
  rep_->batch.Merge((*rep_->handles)[Index(Family::kBitmaps)], ToSlice(key), EncodeRemoveBits(bits))
      .PermitUncheckedError();
}
size_t WriteBatch::ByteSize() const { return rep_->batch.GetDataSize(); }
uint32_t WriteBatch::Count() const { return rep_->batch.Count(); }

namespace {

absl::StatusOr<uint64_t> FreeBytesAt(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) {
    return absl::UnavailableError(
        StrCat("cannot tell the free space at ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// RESOURCE_EXHAUSTED when writing `bytes` at `path` would leave less than `reserve` free.
absl::Status CheckFreeSpace(const std::string& path, uint64_t reserve, uint64_t bytes) {
  auto free = FreeBytesAt(path);
  if (!free.ok()) return free.status();
  if (*free >= reserve + bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      StrCat("the disk holding ", path, " is full: ", *free >> 20, " MiB free, and pmdb keeps ",
             reserve >> 20,
             " MiB free for the store's own work (min_free_mb); free some "
             "space, nothing was written"));
}

// Renames the directory built at `building` to `target` (an empty directory there is
// replaced) and makes the rename durable; on failure removes `building`.
absl::Status MoveIntoPlace(const std::string& building, const std::filesystem::path& target,
                           std::string_view what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove(target, ec);  // an empty directory given as the target
  fs::rename(building, target, ec);
  if (ec) {
    fs::remove_all(building, ec);
    return absl::PermissionDeniedError(
        StrCat("cannot ", what, " ", target.string(), ": ", ec.message()));
  }
  int parent = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (parent >= 0) {
    ::fsync(parent);  // the rename itself is durable
    ::close(parent);
  }
  return absl::OkStatus();
}

}  // namespace

struct Store::Impl {
  std::unique_ptr<rocksdb::DB> db;
  bool read_only = false;
  // Read-only, with a committed staged write not all applied: data reads are refused.
  bool incomplete = false;
  uint64_t min_free_bytes = 0;
  std::string dir;
  Handles handles{};
  std::mutex version_mu;
  uint64_t data_version ABSL_GUARDED_BY(version_mu) = 0;  // as stored
  // A committed staged write could not be applied to the end (a full disk, an I/O error):
  // readers keep its pinned snapshot, and every write that changes data is refused until the
  // store is opened again, which finishes it.
  std::atomic<bool> unfinished{false};
  // While a staged write is applied: the snapshot readers see data at.
  mutable std::mutex pin_mu;
  PinnedSnapshot published ABSL_GUARDED_BY(pin_mu);

  void Publish(PinnedSnapshot snapshot) {
    std::lock_guard<std::mutex> lock(pin_mu);
    published = std::move(snapshot);
  }

  // Adds the next data version to `batch`; the caller holds version_mu and bumps data_version
  // once the batch is written. The counter orders versions; the random tail makes a version
  // never repeat, even when a store is restored from a backup and then written differently.
  void PutNextDataVersion(rocksdb::WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(version_mu) {
    std::string version;
    keys::AppendBE64(&version, data_version + 1);
    std::random_device entropy;
    for (int i = 0; i < 4; ++i) keys::AppendBE32(&version, entropy());
    batch.Put(handles[Index(Family::kMeta)], keys::kMetaDataVersion, version)
        .PermitUncheckedError();
  }

  // Applies the staged parts still in the store, in order, each together with the removal of
  // its staged copy (so a cut-short apply resumes where it stopped), then removes the commit
  // record, in a synced write that also makes the parts before it durable.
  absl::Status ApplyStaged(bool changes_data);

  // Removes staged parts no commit record covers.
  absl::Status DropStaged();

  // The keys of the staged parts in the store, in order.
  absl::StatusOr<std::vector<std::string>> StagedPartKeys();

  ~Impl() {
    Publish(nullptr);
    // Flushing on close retires the write-ahead log, so the directory holds only the data
    // (an ingest's log is as large as its batch) and the next open replays nothing.
    std::vector<rocksdb::ColumnFamilyHandle*> all(handles.begin(), handles.end());
    // Not on a full disk: a failed flush is one failed write too many for RocksDB.
    if (db && all.front() != nullptr && !read_only && CheckFreeSpace(dir, min_free_bytes, 0).ok()) {
      db->Flush(rocksdb::FlushOptions(), all).PermitUncheckedError();
    }
    for (auto* h : handles) {
      if (h != nullptr) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  }
};

Store::Store(std::string dir, std::unique_ptr<Impl> impl)
    : dir_(std::move(dir)), impl_(std::move(impl)) {}
Store::~Store() = default;

std::string RocksDbVersion() {
  return StrCat(ROCKSDB_MAJOR, ".", ROCKSDB_MINOR, ".", ROCKSDB_PATCH);
}

std::string AuditAnchorPath(const std::string& dir) {
  // One anchor per store, however its directory is spelled ("db/", "./db", a symlink).
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
  if (ec) p = std::filesystem::path(dir);
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + ".audit-anchor";
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                                   const StoreOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "CURRENT", ec)) {
    if (!options.read_only) {
      absl::Status space = CheckFreeSpace(dir, options.min_free_bytes, 0);
      if (!space.ok()) return space;
    }
    return OpenDir(dir, options, false);
  }
  if (!options.create_if_missing || options.read_only) {
    return absl::NotFoundError(
        StrCat("no pmdb store in ", dir, " (create one with `pmdb ingest --db ", dir, "`)"));
  }
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return absl::FailedPreconditionError(
        StrCat(dir, " exists and is not a pmdb store; give a new or empty directory"));
  }
  // Built beside the target and renamed into place whole.
  fs::path target = fs::absolute(fs::path(dir), ec);
  absl::Status space = CheckFreeSpace(target.parent_path().string(), options.min_free_bytes, 0);
  if (!space.ok()) return space;
  std::string building = StrCat(target.string(), ".creating-", static_cast<long>(getpid()));
  fs::remove_all(building, ec);
  fs::create_directories(building, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        StrCat("cannot create store directory ", dir, ": ", ec.message()));
  }
  {
    auto made = OpenDir(building, options, true);
    if (!made.ok()) {
      fs::remove_all(building, ec);
      return made.status();
    }
  }  // closed here: everything in it is on disk
  CrashPoint("store.before_rename");
  fs::remove(AuditAnchorPath(dir), ec);  // a new store's log starts afresh
  absl::Status placed = MoveIntoPlace(building, target, "create store");
  if (!placed.ok()) return placed;
  return OpenDir(dir, options, false);
}

absl::StatusOr<std::unique_ptr<Store>> Store::OpenDir(const std::string& dir,
                                                      const StoreOptions& options, bool create) {
  const bool exists = !create;
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !exists;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Memtables of all column families together stay under this: a staged write passes through
  // the meta family (its parts) and then the data families, and without a common cap each
  // family would keep its own full write buffers.
  db_options.db_write_buffer_size = 192 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  // A bounded number of table files open, so that connections (node/transport/connection_gate.h
  // leaves 1024 descriptors to the rest of the process) cannot starve the store of descriptors.
  db_options.max_open_files = 512;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = PickCompression();
  // No Bloom filters on the last level: queries look up bitmaps that exist, where a filter
  // does not help, and at a million individuals the filters would be a tenth of the store.
  cf_options.optimize_filters_for_hits = true;
  rocksdb::ColumnFamilyOptions bitmap_options = cf_options;
  bitmap_options.merge_operator = NewBitmapMergeOperator();
  // Ingest batches are large; a bigger memtable keeps them from stalling on flushes.
  bitmap_options.write_buffer_size = 128 << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (size_t i = 0; i < kFamilyCount; ++i) {
    descriptors.emplace_back(kFamilyNames[i],
                             i == Index(Family::kBitmaps) ? bitmap_options : cf_options);
  }
  if (exists) {
    std::vector<std::string> present;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &present);
    if (!s.ok()) return FromRocksDb(s, StrCat("reading store ", dir));
    for (const std::string& name : present) {
      bool known = name == rocksdb::kDefaultColumnFamilyName;
      for (const char* n : kFamilyNames) known = known || name == n;
      if (!known) {
        return absl::FailedPreconditionError(
            StrCat("store ", dir, " has column family '", name,
                   "' unknown to this pmdb version; it was written by a newer pmdb"));
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &raw_handles, &raw_db)
          : rocksdb::DB::Open(db_options, dir, descriptors, &raw_handles, &raw_db);
  if (!s.ok()) return FromRocksDb(s, StrCat("opening store ", dir));
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw_db);
  impl->read_only = options.read_only;
  impl->min_free_bytes = options.min_free_bytes;
  impl->dir = dir;
  // Handle 0 is the default family, which pmdb does not use.
  raw_db->DestroyColumnFamilyHandle(raw_handles[0]).PermitUncheckedError();
  for (size_t i = 0; i < kFamilyCount; ++i) impl->handles[i] = raw_handles[i + 1];

  rocksdb::DB* db = impl->db.get();
  rocksdb::ColumnFamilyHandle* meta = impl->handles[Index(Family::kMeta)];
  std::string schema;
  s = db->Get(rocksdb::ReadOptions(), meta, keys::kMetaSchema, &schema);
  if (s.IsNotFound()) {
    if (exists || options.read_only) {
      return absl::FailedPreconditionError(
          StrCat(dir, " is a RocksDB database but not a pmdb store (no schema version)"));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, meta, keys::kMetaSchema, std::to_string(keys::kSchemaVersion));
    if (!s.ok()) return FromRocksDb(s, StrCat("initializing store ", dir));
  } else if (!s.ok()) {
    return FromRocksDb(s, StrCat("reading schema of store ", dir));
  } else {
    uint32_t version = 0;
    auto [ptr, err] = std::from_chars(schema.data(), schema.data() + schema.size(), version);
    if (err != std::errc() || ptr != schema.data() + schema.size()) {
      return absl::FailedPreconditionError(
          StrCat("store ", dir, " has an unreadable schema version"));
    }
    if (version != keys::kSchemaVersion) {
      return absl::FailedPreconditionError(
          StrCat("store ", dir, " has schema version ", version, "; this pmdb reads version ",
                 keys::kSchemaVersion,
                 version > keys::kSchemaVersion ? " (upgrade pmdb)" : " (no migration exists)"));
    }
  }
  std::string version;
  s = db->Get(rocksdb::ReadOptions(), meta, keys::kMetaDataVersion, &version);
  if (s.ok() && version.size() >= 8) {
    std::lock_guard<std::mutex> lock(impl->version_mu);
    impl->data_version = keys::ReadBE64(version.substr(0, 8));
  } else if (!s.IsNotFound()) {
    return s.ok() ? absl::FailedPreconditionError(
                        StrCat("store ", dir, " has an unreadable data version"))
                  : FromRocksDb(s, StrCat("reading the data version of store ", dir));
  }
  // A staged write: finished if it was committed, removed if it was not.
  std::string committed;
  s = db->Get(rocksdb::ReadOptions(), meta, keys::kMetaStagedCommit, &committed);
  if (!s.ok() && !s.IsNotFound()) return FromRocksDb(s, StrCat("opening store ", dir));
  if (s.ok() && options.read_only) {
    impl->incomplete = true;
  } else if (s.ok()) {
    absl::Status applied = impl->ApplyStaged(committed != "0");
    if (!applied.ok()) return applied;
  } else if (!options.read_only) {
    absl::Status dropped = impl->DropStaged();
    if (!dropped.ok()) return dropped;
  }
  return std::unique_ptr<Store>(new Store(dir, std::move(impl)));
}

uint64_t Store::RocksDbFigure(const std::string& property) const {
  uint64_t value = 0;
  if (!impl_->db->GetAggregatedIntProperty(property, &value)) return 0;
  return value;
}

std::unique_ptr<ReadView> Store::Snapshot() const {
  // The view's own snapshot is taken under the same lock as the published one is read, so a
  // view that sees no published snapshot was made before a commit pinned one: it cannot hold
  // some parts of a staged write.
  std::lock_guard<std::mutex> lock(impl_->pin_mu);
  return std::make_unique<SnapshotView>(impl_->db.get(), &impl_->handles, impl_->published,
                                        impl_->incomplete);
}

WriteBatch Store::NewBatch() {
  auto rep = std::make_unique<WriteBatch::Rep>();
  rep->handles = &impl_->handles;
  return WriteBatch(std::move(rep));
}

namespace {

absl::Status Unfinished() {
  return absl::FailedPreconditionError(
      "an earlier ingest is committed but could not be applied to the end; restart the node (or "
      "open the store again) to finish it before changing data");
}

}  // namespace

absl::Status Store::Write(WriteBatch& batch) {
  if (batch.rep_->changes_data && impl_->unfinished) return Unfinished();
  // Twice the batch: its write-ahead log record, and the flush that follows.
  absl::Status space = CheckFreeSpace(dir_, impl_->min_free_bytes, 2 * batch.ByteSize());
  if (!space.ok()) return space;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (!batch.rep_->changes_data) {
    return FromRocksDb(impl_->db->Write(wo, &batch.rep_->batch), "writing to the store");
  }
  // The new data version goes into the same atomic batch, so a snapshot never sees new data
  // under an old version.
  std::lock_guard<std::mutex> lock(impl_->version_mu);
  impl_->PutNextDataVersion(batch.rep_->batch);
  absl::Status s = FromRocksDb(impl_->db->Write(wo, &batch.rep_->batch), "writing to the store");
  if (s.ok()) ++impl_->data_version;
  return s;
}

absl::StatusOr<std::vector<std::string>> Store::Impl::StagedPartKeys() {
  const std::string end = keys::PrefixEnd(keys::kMetaStagedPartPrefix);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[Index(Family::kMeta)]));
  std::vector<std::string> parts;
  for (it->Seek(ToSlice(keys::kMetaStagedPartPrefix)); it->Valid(); it->Next()) {
    parts.push_back(it->key().ToString());
  }
  if (!it->status().ok()) return FromRocksDb(it->status(), "reading a staged write");
  return parts;
}

absl::Status Store::Impl::ApplyStaged(bool changes_data) {
  rocksdb::ColumnFamilyHandle* meta = handles[Index(Family::kMeta)];
  auto parts = StagedPartKeys();
  if (!parts.ok()) return parts.status();
  // Read once each: kept out of the block cache, where they would only push out what
  // questions read.
  rocksdb::ReadOptions once;
  once.fill_cache = false;
  for (const std::string& key : *parts) {
    std::string rep;
    rocksdb::Status s = db->Get(once, meta, key, &rep);
    if (!s.ok()) return FromRocksDb(s, "reading a staged write");
    absl::Status space = CheckFreeSpace(dir, min_free_bytes, 2 * rep.size());
    if (!space.ok()) return space;
    rocksdb::WriteBatch part(std::move(rep));
    part.Delete(meta, key).PermitUncheckedError();
    // Not synced one by one: the last write below is, and the log is replayed in order.
    s = db->Write(rocksdb::WriteOptions(), &part);
    if (!s.ok()) return FromRocksDb(s, "applying a staged write");
    CrashPoint("staged.between_parts");
    if (FailureAt("staged.apply")) {
      return absl::UnavailableError("applying a staged write failed (injected)");
    }
  }
  rocksdb::WriteBatch last;
  last.Delete(meta, keys::kMetaStagedCommit).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::lock_guard<std::mutex> lock(version_mu);
  if (changes_data) PutNextDataVersion(last);
  absl::Status s = FromRocksDb(db->Write(wo, &last), "applying a staged write");
  if (s.ok() && changes_data) ++data_version;
  return s;
}

absl::Status Store::Impl::DropStaged() {
  auto parts = StagedPartKeys();
  if (!parts.ok()) return parts.status();
  if (parts->empty()) return absl::OkStatus();  // nothing staged
  rocksdb::WriteBatch drop;
  drop.DeleteRange(handles[Index(Family::kMeta)], ToSlice(keys::kMetaStagedPartPrefix),
                   keys::PrefixEnd(keys::kMetaStagedPartPrefix))
      .PermitUncheckedError();
  return FromRocksDb(db->Write(rocksdb::WriteOptions(), &drop), "removing a staged write");
}

StagedWrite::StagedWrite(StagedWrite&& other) noexcept
    : store_(other.store_),
      parts_(other.parts_),
      bytes_(other.bytes_),
      changes_data_(other.changes_data_),
      done_(other.done_) {
  other.done_ = true;
}

StagedWrite::~StagedWrite() {
  // Left behind on failure, they would be removed at the next open anyway.
  if (!done_ && parts_ > 0) store_->impl_->DropStaged().IgnoreError();
}

absl::Status StagedWrite::Stage(WriteBatch& part) {
  if (done_) return absl::FailedPreconditionError("this staged write is already committed");
  if (part.Count() == 0) return absl::OkStatus();
  Store::Impl& impl = *store_->impl_;
  if (impl.unfinished) return Unfinished();
  if (parts_ == 0) {
    // Parts a write given up in this process could not remove must not join this one.
    absl::Status clean = impl.DropStaged();
    if (!clean.ok()) return clean;
  }
  const std::string& rep = part.rep_->batch.Data();
  // Staged, applied, then flushed: three times the part before it is compacted away.
  absl::Status space = CheckFreeSpace(impl.dir, impl.min_free_bytes, 3 * rep.size());
  if (!space.ok()) return space;
  rocksdb::WriteBatch staged;
  staged.Put(impl.handles[Index(Family::kMeta)], keys::MetaStagedPart(parts_), rep)
      .PermitUncheckedError();
  // Not synced: the commit record is, and it makes every part written before it durable.
  absl::Status s = FromRocksDb(impl.db->Write(rocksdb::WriteOptions(), &staged), "staging a write");
  if (!s.ok()) return s;
  ++parts_;
  bytes_ += rep.size();
  changes_data_ = changes_data_ || part.rep_->changes_data;
  part.rep_->batch.Clear();
  part.rep_->changes_data = false;
  return absl::OkStatus();
}

absl::Status StagedWrite::Commit(WriteBatch& last) {
  absl::Status staged = Stage(last);
  if (!staged.ok()) return staged;
  done_ = true;
  if (parts_ == 0) return absl::OkStatus();
  Store::Impl& impl = *store_->impl_;
  rocksdb::DB* db = impl.db.get();
  // Readers go on seeing the data as it is now until every part is applied.
  impl.Publish(PinnedSnapshot(db->GetSnapshot(),
                              [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); }));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db->Put(wo, impl.handles[Index(Family::kMeta)], keys::kMetaStagedCommit,
                              changes_data_ ? "1" : "0");
  if (!s.ok()) {
    impl.Publish(nullptr);
    done_ = false;  // not committed: the destructor removes the parts
    return FromRocksDb(s, "committing a staged write");
  }
  CrashPoint("staged.after_commit_record");
  absl::Status applied = impl.ApplyStaged(changes_data_);
  if (!applied.ok()) {
    // Committed but not all applied: readers keep the data as it was before, no data is
    // written meanwhile, and the rest is applied when the store is next opened.
    impl.unfinished = true;
    return absl::Status(applied.code(),
                        StrCat(std::string(applied.message()),
                               " (the write is committed; it is finished when the store is "
                               "next opened, and until then the data before it is served)"));
  }
  impl.Publish(nullptr);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> StagedWrite::StagedValue(uint64_t part, Family family,
                                                                    std::string_view key) {
  if (part >= parts_) return absl::OutOfRangeError("no such staged part");
  Store::Impl& impl = *store_->impl_;
  if (cached_part_ != static_cast<int64_t>(part)) {
    cached_puts_.clear();
    cached_part_ = -1;
    std::string rep;
    rocksdb::ReadOptions once;
    once.fill_cache = false;
    rocksdb::Status s =
        impl.db->Get(once, impl.handles[Index(Family::kMeta)], keys::MetaStagedPart(part), &rep);
    if (!s.ok()) return FromRocksDb(s, "reading a staged write");
    struct Collect : rocksdb::WriteBatch::Handler {
      const Handles* handles;
      std::map<std::pair<Family, std::string>, std::string, std::less<>>* out;
      rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k,
                            const rocksdb::Slice& v) override {
        for (size_t i = 0; i < kFamilyCount; ++i) {
          if ((*handles)[i]->GetID() == cf) {
            (*out)[{static_cast<Family>(i), k.ToString()}] = v.ToString();
          }
        }
        return rocksdb::Status::OK();
      }
      rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
        return rocksdb::Status::OK();
      }
      rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override {
        return rocksdb::Status::OK();
      }
    } collect;
    collect.handles = &impl.handles;
    collect.out = &cached_puts_;
    rocksdb::WriteBatch batch(std::move(rep));
    s = batch.Iterate(&collect);
    if (!s.ok()) return FromRocksDb(s, "reading a staged write");
    cached_part_ = static_cast<int64_t>(part);
  }
  auto it = cached_puts_.find(std::pair<Family, std::string>(family, std::string(key)));
  if (it == cached_puts_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::string> DataVersion(const ReadView& view) {
  auto v = view.Get(Family::kMeta, keys::kMetaDataVersion);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::string("0");
  if ((*v)->size() < 8) return absl::DataLossError("the store's data version is unreadable");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : **v) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::StatusOr<ShardRange> ShardRangeOf(const ReadView& view) {
  auto v = view.Get(Family::kMeta, keys::kMetaShardRange);
  if (!v.ok()) return v.status();
  ShardRange range;
  if (!v->has_value()) return range;
  if ((*v)->size() != 12) return absl::DataLossError("the store's shard range is unreadable");
  range.first = keys::ReadBE32(**v);
  range.end = keys::ReadBE64(std::string_view(**v).substr(4));
  range.sharded = true;
  auto id = view.Get(Family::kMeta, keys::kMetaShardId);
  if (!id.ok()) return id.status();
  if (id->has_value()) range.id = **id;
  return range;
}

absl::Status MakeShard(Store& store, uint32_t first, uint64_t end) {
  if (first % ShardRange::kAlign != 0 || end % ShardRange::kAlign != 0 || end <= first ||
      end > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(
        StrCat("a shard's range [", first, ", ", end,
               ") must be non-empty, within 2^32 and start and end at multiples of 65536"));
  }
  auto lock = store.WriteLock();
  auto view = store.Snapshot();
  auto held = ShardRangeOf(*view);
  if (!held.ok()) return held.status();
  if (held->sharded) {
    if (held->first == first && held->end == end) return absl::OkStatus();
    return absl::FailedPreconditionError(
        StrCat("the store is already the shard of [", held->first, ", ", held->end, ")"));
  }
  auto next = view->Get(Family::kMeta, keys::kMetaNextOrdinal);
  if (!next.ok()) return next.status();
  if (next->has_value()) {
    return absl::FailedPreconditionError(
        "only an empty store can become a shard: this one already gave ordinals to people");
  }
  std::string value;
  keys::AppendBE32(&value, first);
  keys::AppendBE64(&value, end);
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    char word[9];
    std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(random()));
    id += word;
  }
  WriteBatch batch = store.NewBatch();
  batch.Put(Family::kMeta, keys::kMetaShardRange, value);
  batch.Put(Family::kMeta, keys::kMetaShardId, id);
  return store.Write(batch);
}

absl::Status NarrowShard(Store& store, uint64_t end) {
  auto lock = store.WriteLock();
  auto view = store.Snapshot();
  auto held = ShardRangeOf(*view);
  if (!held.ok()) return held.status();
  if (!held->sharded) return absl::FailedPreconditionError("the store is not a shard");
  if (end % ShardRange::kAlign != 0 || end <= held->first || end > held->end) {
    return absl::InvalidArgumentError(
        StrCat("cannot end the shard of [", held->first, ", ", held->end, ") at ", end));
  }
  auto all = view->GetBitmap(keys::kAllIndividuals);
  if (!all.ok()) return all.status();
  if (!(*all & Bitmap::Range(static_cast<uint32_t>(end),
                             static_cast<uint32_t>(std::min<uint64_t>(held->end, UINT32_MAX))))
           .Empty()) {
    return absl::FailedPreconditionError(
        StrCat("the shard still holds people at or beyond ", end, ": move them first"));
  }
  std::string value;
  keys::AppendBE32(&value, held->first);
  keys::AppendBE64(&value, end);
  WriteBatch batch = store.NewBatch();
  batch.Put(Family::kMeta, keys::kMetaShardRange, value);
  auto next = view->Get(Family::kMeta, keys::kMetaNextOrdinal);
  if (!next.ok()) return next.status();
  if (next->has_value() && (*next)->size() == 4 && keys::ReadBE32(**next) > end) {
    // Its range is full now: new people go to a newer shard.
    std::string full;
    keys::AppendBE32(&full, static_cast<uint32_t>(std::min<uint64_t>(end, UINT32_MAX)));
    batch.Put(Family::kMeta, keys::kMetaNextOrdinal, full);
  }
  return store.Write(batch);
}

absl::Status Store::Compact() {
  for (auto* h : impl_->handles) {
    rocksdb::Status s = impl_->db->Flush(rocksdb::FlushOptions(), h);
    if (!s.ok()) return FromRocksDb(s, "flushing the store");
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = impl_->db->CompactRange(options, h, nullptr, nullptr);
    if (!s.ok()) return FromRocksDb(s, "compacting the store");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Store::FreeBytes() const { return FreeBytesAt(dir_); }

absl::StatusOr<uint64_t> Store::DiskSize() const {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  if (ec) return absl::UnavailableError(StrCat("measuring ", dir_, ": ", ec.message()));
  return total;
}

namespace {

BackupEntry EntryOf(const rocksdb::BackupInfo& info) {
  return BackupEntry{.id = info.backup_id,
                     .created_unix = info.timestamp,
                     .bytes = info.size,
                     .files = info.number_files,
                     .metadata = info.app_metadata};
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenBackups(
    const std::string& backup_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::path(backup_dir) / "meta", ec)) {
    return absl::NotFoundError(StrCat("no pmdb backups in ", backup_dir));
  }
  rocksdb::BackupEngineReadOnly* engine = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::BackupEngineOptions(backup_dir), rocksdb::Env::Default(), &engine);
  if (!s.ok()) return FromRocksDb(s, StrCat("opening the backups in ", backup_dir));
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(engine);
}

}  // namespace

absl::StatusOr<BackupEntry> Store::Backup(const std::string& backup_dir,
                                          const std::string& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(backup_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        StrCat("cannot create backup directory ", backup_dir, ": ", ec.message()));
  }
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(rocksdb::BackupEngineOptions(backup_dir),
                                                    rocksdb::Env::Default(), &raw);
  if (!s.ok()) return FromRocksDb(s, StrCat("opening the backups in ", backup_dir));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = true;
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackupWithMetadata(options, impl_->db.get(), metadata, &id);
  if (!s.ok()) return FromRocksDb(s, StrCat("backing up ", dir_, " into ", backup_dir));
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  for (const rocksdb::BackupInfo& info : infos) {
    if (info.backup_id == id) return EntryOf(info);
  }
  return absl::InternalError(StrCat("backup ", id, " in ", backup_dir, " is not listed"));
}

absl::StatusOr<std::vector<BackupEntry>> ListBackups(const std::string& backup_dir) {
  auto engine = OpenBackups(backup_dir);
  if (!engine.ok()) return engine.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*engine)->GetBackupInfo(&infos);
  if (infos.empty()) return absl::NotFoundError(StrCat("no pmdb backups in ", backup_dir));
  std::vector<BackupEntry> out;
  for (const rocksdb::BackupInfo& info : infos) out.push_back(EntryOf(info));
  return out;
}

absl::Status VerifyBackupFiles(const std::string& backup_dir, uint32_t id) {
  auto engine = OpenBackups(backup_dir);
  if (!engine.ok()) return engine.status();
  rocksdb::IOStatus s = (*engine)->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return FromRocksDb(s, StrCat("backup ", id, " in ", backup_dir));
  return absl::OkStatus();
}

absl::Status RestoreBackup(const std::string& backup_dir, uint32_t id, const std::string& dir,
                           const std::function<absl::Status(const std::string&)>& check) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return absl::FailedPreconditionError(
        StrCat(dir, " exists and is not empty: restore into a new directory"));
  }
  auto engine = OpenBackups(backup_dir);
  if (!engine.ok()) return engine.status();
  fs::path target = fs::absolute(fs::path(dir), ec);
  std::string building = StrCat(target.string(), ".restoring-", static_cast<long>(getpid()));
  fs::remove_all(building, ec);
  rocksdb::IOStatus s =
      (*engine)->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, building, building);
  if (!s.ok()) {
    fs::remove_all(building, ec);
    return FromRocksDb(s, StrCat("restoring backup ", id, " from ", backup_dir));
  }
  if (check) {
    absl::Status checked = check(building);
    if (!checked.ok()) {
      fs::remove_all(building, ec);
      return checked;
    }
  }
  CrashPoint("restore.before_rename");
  return MoveIntoPlace(building, target, "restore into");
}

}  // namespace pmdb::storage
