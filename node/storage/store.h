// Store: one node's RocksDB database with pmdb's column families.
//
// Owns the RocksDB handle. Thread-safe: reads through snapshots may run concurrently with one
// another and with Write(); callers serialize their own read-modify-write sequences (ingest,
// consent) with WriteLock(). The schema version is written on creation and checked on open.
#ifndef PMDB_NODE_STORAGE_STORE_H_
#define PMDB_NODE_STORAGE_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/storage/bitmap.h"
#include "node/storage/read_view.h"

namespace pmdb::storage {

struct StoreOptions {
  // Create the store when the directory holds none.
  bool create_if_missing = false;
  // Open without taking the store's lock and without writing, next to a running node (for
  // example to verify its audit log). Sees what was written up to the moment of opening; while
  // a committed staged write is still being applied, its data reads fail (UNAVAILABLE) and the
  // audit log stays readable.
  bool read_only = false;
  // Memory for the shared block cache.
  size_t block_cache_bytes = 256 << 20;
  // Writes (and opening to write) are refused with RESOURCE_EXHAUSTED while the file system
  // holding the store has less than this free, before RocksDB is asked: RocksDB as Debian
  // builds it aborts the process on a second failed write to a full disk. What is already
  // stored stays readable.
  uint64_t min_free_bytes = 64 << 20;
};

// Writes collected here reach the store all at once or not at all (one RocksDB WriteBatch,
// logged in the write-ahead log before it is applied). Made by Store::NewBatch(); must not
// outlive the store. Not thread-safe.
class WriteBatch {
 public:
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(Family family, std::string_view key, std::string_view value);
  void Delete(Family family, std::string_view key);
  // Merge operands on the bitmaps family.
  void AddBits(std::string_view key, const Bitmap& bits);
  void RemoveBits(std::string_view key, const Bitmap& bits);

  size_t ByteSize() const;
  uint32_t Count() const;

 private:
  friend class Store;
  friend class StagedWrite;
  struct Rep;
  explicit WriteBatch(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

class Store;

// A write too large to hold as one batch in memory (a million people's records; a VCF of
// millions of sites). Its parts are staged in the store as they are made: written, but seen by
// no reader. Commit() then applies them, and readers go on seeing the store as it was before
// the write until every part is in, when they see all of it at once. Either way a caller's
// write is all or nothing: parts staged by a process that dies before Commit() are removed when
// the store is next opened; a Commit() cut short (a killed process, a full disk) is finished
// when the store is next opened, before anything reads it. Made by Store::BeginStaged() under
// WriteLock(), which it needs until it is committed or destroyed; must not outlive the store.
// Not thread-safe.
class StagedWrite {
 public:
  // Removes the parts of a write that was not committed.
  ~StagedWrite();
  StagedWrite(StagedWrite&&) noexcept;
  StagedWrite& operator=(StagedWrite&&) = delete;

  // Stages what `part` holds (nothing when it is empty) and leaves it empty for reuse.
  absl::Status Stage(WriteBatch& part);

  // Stages `last` and makes every part visible at once, in the order staged.
  absl::Status Commit(WriteBatch& last);

  // The value a staged part (by its index) puts at `key` of `family`, if it does. Reads the
  // part back from the store; the last part read is kept, so asking of one part repeatedly
  // costs one read.
  absl::StatusOr<std::optional<std::string>> StagedValue(uint64_t part, Family family,
                                                         std::string_view key);

  // Parts staged so far; the next part's index.
  uint64_t parts() const { return parts_; }
  uint64_t staged_bytes() const { return bytes_; }

 private:
  friend class Store;
  explicit StagedWrite(Store* store) : store_(store) {}
  Store* store_;
  uint64_t parts_ = 0;
  uint64_t bytes_ = 0;
  bool changes_data_ = false;
  bool done_ = false;
  int64_t cached_part_ = -1;
  std::map<std::pair<Family, std::string>, std::string, std::less<>> cached_puts_;
};

// Where the audit log of the store in `dir` is anchored (security/audit.h): the file
// `<dir>.audit-anchor` beside the directory. Creating a new store there removes a stale one.
std::string AuditAnchorPath(const std::string& dir);

// "8.9.1": the RocksDB this pmdb runs on.
std::string RocksDbVersion();

// One backup in a backup directory.
struct BackupEntry {
  uint32_t id = 0;
  int64_t created_unix = 0;
  uint64_t bytes = 0;  // its files' sizes, shared ones included
  uint32_t files = 0;
  std::string metadata;
};

class Store {
 public:
  // A new store is built in a sibling directory and renamed into place once it holds its
  // schema, so a process killed while creating one leaves either no store or a whole one.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                     const StoreOptions& options);
  ~Store();

  // A consistent view as of now.
  std::unique_ptr<ReadView> Snapshot() const;

  WriteBatch NewBatch();

  // A write in staged parts (see StagedWrite). The caller holds WriteLock().
  StagedWrite BeginStaged() { return StagedWrite(this); }

  // Applies the batch atomically and durably (synced write-ahead log). A batch that can change
  // an answer (individuals, variants, bitmaps, reference files, datasets) also bumps the
  // store's data version.
  absl::Status Write(WriteBatch& batch);

  // Serializes writers that read before they write.
  std::unique_lock<std::mutex> WriteLock() { return std::unique_lock<std::mutex>(write_mu_); }

  // Flushes memtables and compacts, so merge operands are folded into values.
  absl::Status Compact();

  // Bytes the store occupies on disk.
  absl::StatusOr<uint64_t> DiskSize() const;

  // Copies the store as it is now into `backup_dir` (a backup directory, created if missing)
  // while it keeps serving; the files of earlier backups in that directory are not copied
  // again. `metadata` is kept with the backup. Writers that hold WriteLock() wait for nothing
  // here: a caller that needs the backup to match a snapshot holds the lock itself.
  absl::StatusOr<BackupEntry> Backup(const std::string& backup_dir, const std::string& metadata);

  const std::string& dir() const { return dir_; }

  // A RocksDB integer property summed over the store's column families (for example
  // "rocksdb.estimate-pending-compaction-bytes", "rocksdb.is-write-stopped"); 0 when RocksDB
  // does not know it.
  uint64_t RocksDbFigure(const std::string& property) const;

  // Bytes free for this store's writes on its file system, as statvfs says.
  absl::StatusOr<uint64_t> FreeBytes() const;

 private:
  friend class StagedWrite;
  // Opens the RocksDB database in `dir`; with `create`, a new one, given its schema version.
  static absl::StatusOr<std::unique_ptr<Store>> OpenDir(const std::string& dir,
                                                        const StoreOptions& options, bool create);
  struct Impl;
  Store(std::string dir, std::unique_ptr<Impl> impl);
  std::string dir_;
  std::unique_ptr<Impl> impl_;
  std::mutex write_mu_;
};

// The backups in `backup_dir`, oldest first. NOT_FOUND when it holds none.
absl::StatusOr<std::vector<BackupEntry>> ListBackups(const std::string& backup_dir);

// Reads every file of backup `id` against the size and checksum recorded when it was made.
absl::Status VerifyBackupFiles(const std::string& backup_dir, uint32_t id);

// Restores backup `id` into `dir`, which must not exist or be empty; built beside it and renamed
// into place whole, as a new store is, once `check` (given the directory it was built in)
// passes; on any failure nothing is left.
absl::Status RestoreBackup(const std::string& backup_dir, uint32_t id, const std::string& dir,
                           const std::function<absl::Status(const std::string&)>& check = {});

// The data version a view sees, as hex: "0" for a store never written to; then a counter, one
// more per write that could change an answer, with 128 random bits drawn at that write, so a
// version never repeats (not after a restore from a backup either). Disclosure control keys
// its noise on it.
absl::StatusOr<std::string> DataVersion(const ReadView& view);

// The ordinals a store gives its people: all of them for a whole store; [first, end) for a shard
// of a region whose store is split by ranges of ordinals (node/shard). `first` and `end` are
// multiples of 65,536, the width of one bitmap container, so a shard's bitmaps share no
// container with another's.
struct ShardRange {
  static constexpr uint32_t kAlign = 65536;
  uint32_t first = 0;
  uint64_t end = uint64_t{1} << 32;
  bool sharded = false;
  std::string id;  // a shard store's identity, drawn when it became one
};
absl::StatusOr<ShardRange> ShardRangeOf(const ReadView& view);
// Makes `store` a shard of [first, end): only a store that holds no one yet, and never a second
// time with another range.
absl::Status MakeShard(Store& store, uint32_t first, uint64_t end);
// Ends a shard's range at `end` (a multiple of 65,536 inside it) once the people from `end` on
// have moved to another shard (node/shard/move.h); refused while anyone there is left.
absl::Status NarrowShard(Store& store, uint64_t end);

}  // namespace pmdb::storage

#endif  // PMDB_NODE_STORAGE_STORE_H_
