// pmdb backup / pmdb restore: consistent, incremental backups of a region's store, from a
// running node or a store the operator holds, and restores that prove themselves against the
// backup's manifest (node/core/backup.h).
#include <filesystem>
#include <iostream>

#include "node/base/strings.h"
#include "node/core/backup.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

const CommandSpec& BackupSpec() {
  static const CommandSpec spec = WithCredentialFlags({
      "backup",
      "pmdb backup (--db DIR | --node HOST:PORT) --to BACKUP_DIR [--json]\n"
      "       pmdb backup --list BACKUP_DIR [--json]",
      "Backs a store up into BACKUP_DIR, consistent to one moment and incremental (what earlier\n"
      "backups in BACKUP_DIR already hold is not copied again), audit log included. With --node\n"
      "(an operator's certificate) the running node makes it, into a directory on its own\n"
      "machine, while it keeps answering; ingests and opt-outs wait until it is made. Each\n"
      "backup carries a manifest — data version, a digest of every record and bitmap, the audit\n"
      "chain's head — which pmdb restore proves the restored store against.",
      {{"db", "DIR", "a store you hold (no node running on it)"},
       {"node", "HOST:PORT", "your region's running node"},
       {"to", "BACKUP_DIR", "the backup directory (with --node: absolute, on the node's machine)"},
       {"list", "BACKUP_DIR", "list the backups in a backup directory"},
       {"json", "", "print JSON"},
       {"timeout", "SECONDS", "with --node: give up after this long (default: none)"}},
      "  pmdb backup --node localhost:7104 --to /var/backups/pmdb-vast\n"
      "  pmdb backup --db region.db --to /mnt/backup/region\n"
      "  pmdb backup --list /var/backups/pmdb-vast\n",
  });
  return spec;
}

const CommandSpec& RestoreSpec() {
  static const CommandSpec spec{
      "restore",
      "pmdb restore --from BACKUP_DIR [--id N] --to NEW_DIR [--json]",
      "Restores a backup (the latest, or --id N) into a new store directory and proves it: every\n"
      "file against its checksum, the restored records and bitmaps against the backup's digest\n"
      "(so every answer is what the store answered when it was backed up), and the audit chain\n"
      "for being intact up to the backed-up head. If any check fails nothing is left at NEW_DIR.\n"
      "Point the node's [node] db at NEW_DIR and start it. Budgets spent after the backup are in\n"
      "the audit entries the backup does not hold: keep the old audit log (pmdb audit list --db)\n"
      "for the review. Restored into an old store's place, the old audit anchor beside it makes\n"
      "the node refuse the older log until it is started once with --accept-audit-damage.",
      {{"from", "BACKUP_DIR", "the backup directory"},
       {"id", "N", "which backup (default: the latest; pmdb backup --list shows them)"},
       {"to", "NEW_DIR", "the new store directory (must not exist, or be empty)"},
       {"json", "", "print JSON"}},
      "  pmdb restore --from /var/backups/pmdb-vast --to /srv/pmdb/vast.restored\n",
  };
  return spec;
}

void PrintManifest(Json& j, const core::BackupManifest& m) {
  j.Key("data_version").String(m.data_version).Key("digest").String(m.digest);
  j.Key("individuals").Uint(m.individuals).Key("audit_entries").Uint(m.audit_entries);
}

void PrintMade(const storage::BackupEntry& b, const core::BackupManifest& m,
               const std::string& into, bool json) {
  if (json) {
    Json j;
    j.BeginObject().Key("backup_id").Uint(b.id).Key("dir").String(into);
    j.Key("created").String(Rfc3339(b.created_unix)).Key("bytes").Uint(b.bytes);
    j.Key("files").Uint(b.files);
    PrintManifest(j, m);
    j.EndObject();
    std::cout << j.str() << "\n";
    return;
  }
  std::cout << "backup " << b.id << " made in " << into << "\n"
            << "  individuals  " << WithThousands(m.individuals) << "\n"
            << "  audit log    " << WithThousands(m.audit_entries) << " entries\n"
            << "  size         " << WithThousands(b.bytes) << " bytes in " << b.files
            << " files (shared with earlier backups where unchanged)\n"
            << "  digest       " << m.digest << "\n";
}

int List(const Flags& flags) {
  auto list = storage::ListBackups(flags.Get("list"));
  if (!list.ok()) return Fail("backup", list.status());
  if (flags.Bool("json")) {
    Json j;
    j.BeginArray();
    for (const storage::BackupEntry& b : *list) {
      j.BeginObject().Key("backup_id").Uint(b.id).Key("created").String(Rfc3339(b.created_unix));
      j.Key("bytes").Uint(b.bytes).Key("files").Uint(b.files);
      auto m = core::BackupManifest::Parse(b.metadata);
      if (m.ok()) PrintManifest(j, *m);
      j.EndObject();
    }
    j.EndArray();
    std::cout << j.str() << "\n";
    return 0;
  }
  for (const storage::BackupEntry& b : *list) {
    auto m = core::BackupManifest::Parse(b.metadata);
    std::cout << "backup " << b.id << "  " << FormatUtc(b.created_unix, "%Y-%m-%d %H:%M UTC")
              << "  " << WithThousands(b.bytes) << " bytes";
    if (m.ok()) {
      std::cout << "  " << WithThousands(m->individuals) << " individuals, "
                << WithThousands(m->audit_entries) << " audit entries";
    }
    std::cout << "\n";
  }
  return 0;
}

int BackupOnNode(const Flags& flags, Target target) {
  if (!std::filesystem::path(flags.Get("to")).is_absolute()) {
    return UsageError(BackupSpec(), absl::InvalidArgumentError(
                                        "with --node, --to is an absolute path on the node's "
                                        "machine"));
  }
  auto c = Connect(flags, target);
  if (!c.ok()) return Fail("backup", c.status());
  grpc::ClientContext context;
  if (flags.Has("timeout")) context.set_deadline(target.Deadline());
  v1::BackupRequest request;
  request.set_dir(flags.Get("to"));
  v1::BackupReply reply;
  absl::Status s =
      transport::FromGrpc(v1::AdminService::NewStub(c->channel)->Backup(&context, request, &reply));
  if (!s.ok()) return Fail("backup", s);
  storage::BackupEntry b{.id = reply.backup_id(),
                         .created_unix = reply.created_unix(),
                         .bytes = reply.bytes(),
                         .files = reply.files()};
  core::BackupManifest m{.data_version = reply.data_version(),
                         .digest = reply.digest(),
                         .individuals = reply.individuals(),
                         .audit_entries = reply.audit_entries()};
  PrintMade(b, m, StrCat(target.where, ":", flags.Get("to")), flags.Bool("json"));
  return 0;
}

}  // namespace

int RunBackup(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(BackupSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->Has("list")) {
    if (flags->Has("to") || flags->Has("db") || flags->Has("node")) {
      return UsageError(BackupSpec(), absl::InvalidArgumentError("--list goes alone"));
    }
    return List(*flags);
  }
  if (!flags->Has("to")) {
    return UsageError(BackupSpec(), absl::InvalidArgumentError("--to BACKUP_DIR is required"));
  }
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kNode});
  if (!target.ok()) return UsageError(BackupSpec(), target.status());
  if (target->kind == Target::kNode) return BackupOnNode(*flags, *target);
  auto store = OpenStore(target->where, /*create=*/false);
  if (!store.ok()) return Fail("backup", store.status());
  auto made = core::BackUp(**store, flags->Get("to"));
  // Audited in the store it copied, as the node audits a backup.
  auto audit = LocalAudit::Open(store->get());
  if (!audit.ok()) return Fail("backup", audit.status());
  absl::Status logged = (*audit)->Record(
      "Local/Backup", StrCat("backup into ", flags->Get("to")), made.status(),
      made.ok() ? StrCat("backup ", made->backup.id, " digest=", made->manifest.digest) : "");
  if (!made.ok()) return Fail("backup", made.status());
  if (!logged.ok()) return Fail("backup", logged);
  PrintMade(made->backup, made->manifest, flags->Get("to"), flags->Bool("json"));
  return 0;
}

int RunRestore(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(RestoreSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("from") || !flags->Has("to")) {
    return UsageError(RestoreSpec(), absl::InvalidArgumentError(
                                         "--from BACKUP_DIR and --to NEW_DIR are required"));
  }
  uint32_t id = 0;
  if (flags->Has("id") && (!ParseUint32(flags->Get("id"), &id) || id == 0)) {
    return UsageError(RestoreSpec(), absl::InvalidArgumentError("--id is a backup number"));
  }
  auto report = core::Restore(flags->Get("from"), id, flags->Get("to"));
  if (!report.ok()) return Fail("restore", report.status());
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject().Key("backup_id").Uint(report->backup.id).Key("dir").String(flags->Get("to"));
    PrintManifest(j, report->manifest);
    j.Key("verified").Bool(true).Key("stale_anchor").Bool(report->stale_anchor).EndObject();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "restored backup " << report->backup.id << " into " << flags->Get("to") << "\n"
            << "  files        match their checksums\n"
            << "  records      match the backup's digest ("
            << WithThousands(report->manifest.individuals) << " individuals, data version "
            << report->manifest.data_version.substr(0, 16) << "…)\n"
            << "  audit log    intact, " << WithThousands(report->audit_entries)
            << " entries, reaching the backed-up head\n";
  if (report->stale_anchor) {
    std::cout << "note: the audit anchor of an earlier store is beside " << flags->Get("to")
              << "; a node will refuse this older log there until it is started once with\n"
                 "      --accept-audit-damage (entries written after the backup are not in it)\n";
  }
  return 0;
}

}  // namespace pmdb::cli
