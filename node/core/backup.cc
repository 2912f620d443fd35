#include "node/core/backup.h"

#include <filesystem>
#include <memory>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "security/audit.h"

namespace pmdb::core {
namespace keys = storage::keys;
using storage::Family;

std::string BackupManifest::Format() const {
  return StrCat("pmdb-backup 1\ndata_version=", data_version, "\ndigest=", digest,
                "\nindividuals=", individuals, "\naudit_entries=", audit_entries,
                "\naudit_head=", audit_head, "\n");
}

absl::StatusOr<BackupManifest> BackupManifest::Parse(const std::string& text) {
  BackupManifest m;
  bool versioned = false;
  for (std::string_view line : Split(text, '\n')) {
    if (line == "pmdb-backup 1") {
      versioned = true;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "data_version") m.data_version = std::string(value);
    if (key == "digest") m.digest = std::string(value);
    if (key == "audit_head") m.audit_head = std::string(value);
    if (key == "individuals" && !ParseUint64(value, &m.individuals)) versioned = false;
    if (key == "audit_entries" && !ParseUint64(value, &m.audit_entries)) versioned = false;
  }
  if (!versioned || m.digest.empty()) {
    return absl::DataLossError("the backup carries no pmdb manifest (not made by pmdb backup?)");
  }
  return m;
}

absl::StatusOr<std::string> ContentDigest(const storage::ReadView& view) {
  security::Sha256Parts h;
  absl::Status failed;
  auto plain = [&](Family family, std::string_view name) {
    h.Add(name);
    return view.Scan(family, "", "", [&](std::string_view key, std::string_view value) {
      if (family == Family::kMeta && key == keys::kMetaAuditHead) return true;
      h.Add(key);
      h.Add(value);
      return true;
    });
  };
  for (auto [family, name] :
       {std::pair{Family::kMeta, "meta"}, std::pair{Family::kIndividuals, "individuals"},
        std::pair{Family::kVariants, "variants"}, std::pair{Family::kContact, "contact"}}) {
    absl::Status s = plain(family, name);
    if (!s.ok()) return s;
  }
  // Bitmaps by their members: the same set can be encoded in more than one way.
  h.Add("bitmaps");
  absl::Status s =
      view.Scan(Family::kBitmaps, "", "", [&](std::string_view key, std::string_view value) {
        auto bitmap = storage::Bitmap::Deserialize(value);
        if (!bitmap.ok()) {
          failed = bitmap.status();
          return false;
        }
        h.Add(key);
        std::vector<uint32_t> members = bitmap->ToVector();
        h.Add(std::string_view(reinterpret_cast<const char*>(members.data()),
                               members.size() * sizeof(uint32_t)));
        return true;
      });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  return h.HexDigest();
}

absl::StatusOr<BackupManifest> ManifestOf(const storage::ReadView& view) {
  BackupManifest m;
  auto version = storage::DataVersion(view);
  if (!version.ok()) return version.status();
  m.data_version = *version;
  auto digest = ContentDigest(view);
  if (!digest.ok()) return digest.status();
  m.digest = *digest;
  auto all = view.GetBitmap(keys::kAllIndividuals);
  if (!all.ok()) return all.status();
  m.individuals = all->Cardinality();
  security::AuditVerification audit = security::VerifyAudit(view);
  if (!audit.problems.empty()) {
    return absl::DataLossError(
        StrCat("the store's audit log is damaged (", audit.problems.front().what,
               "); `pmdb audit verify` shows where. A backup of it would prove nothing"));
  }
  m.audit_entries = audit.entries;
  m.audit_head = audit.head_hash_hex;
  return m;
}

absl::StatusOr<BackupMade> BackUp(storage::Store& store, const std::string& backup_dir) {
  // Not into the store itself, nor its anchor's place.
  std::error_code ec;
  auto canonical = [&](const std::string& p) {
    return std::filesystem::weakly_canonical(std::filesystem::absolute(p), ec).string() + "/";
  };
  const std::string into = canonical(backup_dir), of = canonical(store.dir());
  if (into.rfind(of, 0) == 0 || of.rfind(into, 0) == 0 ||
      into == canonical(storage::AuditAnchorPath(store.dir()))) {
    return absl::InvalidArgumentError(
        StrCat("a backup goes outside the store: ", backup_dir, " and ", store.dir(), " overlap"));
  }
  // Writers wait, so that the backup holds exactly the data of the manifest's snapshot; only
  // audit entries may still be appended meanwhile, and they extend the manifest's chain.
  auto lock = store.WriteLock();
  auto view = store.Snapshot();
  auto manifest = ManifestOf(*view);
  if (!manifest.ok()) return manifest.status();
  auto backup = store.Backup(backup_dir, manifest->Format());
  if (!backup.ok()) return backup.status();
  return BackupMade{*backup, *manifest};
}

absl::StatusOr<RestoreReport> Restore(const std::string& backup_dir, uint32_t id,
                                      const std::string& dir) {
  auto list = storage::ListBackups(backup_dir);
  if (!list.ok()) return list.status();
  const storage::BackupEntry* chosen = id == 0 ? &list->back() : nullptr;
  for (const storage::BackupEntry& b : *list) {
    if (b.id == id) chosen = &b;
  }
  if (chosen == nullptr) {
    return absl::NotFoundError(StrCat("no backup ", id, " in ", backup_dir, " (the backups: ",
                                      list->front().id, "..", list->back().id, ")"));
  }
  RestoreReport report{.backup = *chosen};
  auto manifest = BackupManifest::Parse(chosen->metadata);
  if (!manifest.ok()) return manifest.status();
  report.manifest = *manifest;
  absl::Status files = storage::VerifyBackupFiles(backup_dir, chosen->id);
  if (!files.ok()) return files;
  // Proved in the directory it is built in, before it is renamed into place.
  auto prove = [&](const std::string& built) -> absl::Status {
    auto fail = [&](const absl::Status& s) {
      return absl::Status(s.code(),
                          StrCat("the restored store does not match its backup: ",
                                 std::string(s.message()), " (nothing was left at ", dir, ")"));
    };
    auto store = storage::Store::Open(built, {.create_if_missing = false, .read_only = true});
    if (!store.ok()) return fail(store.status());
    auto view = (*store)->Snapshot();
    security::AuditVerification audit = security::VerifyAudit(*view);
    if (!audit.problems.empty()) {
      return fail(absl::DataLossError(StrCat("its audit chain is damaged at entry ",
                                             audit.problems.front().seq, ": ",
                                             audit.problems.front().what)));
    }
    std::string head_at_manifest;
    if (manifest->audit_entries > 0) {
      auto last = view->Get(Family::kAudit, keys::AuditKey(manifest->audit_entries - 1));
      if (!last.ok()) return fail(last.status());
      if (last->has_value()) head_at_manifest = security::Hex(security::Sha256(**last));
    }
    if (audit.entries < manifest->audit_entries || head_at_manifest != manifest->audit_head) {
      return fail(absl::DataLossError(StrCat("its audit chain does not reach the backed-up head (",
                                             manifest->audit_entries, " entries)")));
    }
    auto now = ManifestOf(*view);
    if (!now.ok()) return fail(now.status());
    if (now->digest != manifest->digest || now->data_version != manifest->data_version) {
      return fail(absl::DataLossError("its records differ from those backed up (digest)"));
    }
    report.audit_entries = audit.entries;
    return absl::OkStatus();
  };
  absl::Status restored = storage::RestoreBackup(backup_dir, chosen->id, dir, prove);
  if (!restored.ok()) return restored;
  report.stale_anchor = std::filesystem::exists(storage::AuditAnchorPath(dir));
  return report;
}

}  // namespace pmdb::core
