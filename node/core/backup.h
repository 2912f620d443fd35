// Backups of a region's store that prove themselves: each backup carries a manifest of what it
// holds — the data version, a digest of every record, bitmap and setting, and the head of the
// audit chain — taken from the same point in time as the backup's data, and a restore is
// checked against it: the files against their checksums, the restored store's digest against
// the manifest's (so every answer is the one the store gave when it was backed up), and the
// audit chain for being intact and reaching the manifest's head.
//
// A backup is taken while the store serves (a node's, through AdminService.Backup, or one an
// operator holds with --db): writers wait while it is made, questions do not.
#ifndef PMDB_NODE_CORE_BACKUP_H_
#define PMDB_NODE_CORE_BACKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/store.h"

namespace pmdb::core {

struct BackupManifest {
  std::string data_version;
  std::string digest;  // ContentDigest, hex
  uint64_t individuals = 0;
  uint64_t audit_entries = 0;
  std::string audit_head;  // hex hash of the last entry; empty with no entries

  std::string Format() const;  // "key=value" lines, kept as the backup's metadata
  static absl::StatusOr<BackupManifest> Parse(const std::string& text);
};

// SHA-256 over everything in the store that answers depend on or that a restore must bring
// back — settings, records, variants, the contents of every bitmap, contact requests — but not
// the audit log (checked as a chain) or its head. Equal for two stores that hold the same sets,
// however their bitmaps happen to be encoded.
absl::StatusOr<std::string> ContentDigest(const storage::ReadView& view);

absl::StatusOr<BackupManifest> ManifestOf(const storage::ReadView& view);

struct BackupMade {
  storage::BackupEntry backup;
  BackupManifest manifest;
};

// Backs `store` up into `backup_dir` with its manifest (incremental: files already there are
// not copied again).
absl::StatusOr<BackupMade> BackUp(storage::Store& store, const std::string& backup_dir);

struct RestoreReport {
  storage::BackupEntry backup;
  BackupManifest manifest;
  uint64_t audit_entries = 0;  // in the restored store (the backup may hold a few more)
  // An audit anchor of an earlier store is beside the new directory: a node will refuse this
  // older log there until it is started once with --accept-audit-damage.
  bool stale_anchor = false;
};

// Restores backup `id` (0: the latest) of `backup_dir` into the new directory `dir`, proving it
// as above before it is renamed into place. On any failed check nothing is left at `dir`, and
// the error says what differed.
absl::StatusOr<RestoreReport> Restore(const std::string& backup_dir, uint32_t id,
                                      const std::string& dir);

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_BACKUP_H_
