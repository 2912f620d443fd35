// Backups that prove themselves: a restore is checked against the backup's manifest — files,
// records and bitmaps, the audit chain — and leaves nothing behind when a check fails.
#include "node/core/backup.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "node/storage/keys.h"
#include "security/audit.h"
#include "tests/test_util.h"

namespace pmdb::core {
namespace {

namespace keys = storage::keys;
using pmdb::testing::IsOk;
using pmdb::testing::StatusIs;
using storage::Bitmap;

class BackupTest : public pmdb::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    Add(keys::Sex('F'), Bitmap::Range(0, 30));
    auto audit = security::AuditLog::Open(store_.get());
    ASSERT_THAT(audit, IsOk());
    for (int i = 0; i < 5; ++i) {
      v1::AuditEntry e;
      e.set_method("RegionService/Count");
      ASSERT_THAT((*audit)->AppendAndWait(e), IsOk());
    }
  }
  void Add(const std::string& key, const Bitmap& bits) {
    storage::WriteBatch b = store_->NewBatch();
    b.AddBits(key, bits);
    b.AddBits(keys::kAllIndividuals, bits);
    ASSERT_THAT(store_->Write(b), IsOk());
  }
  std::string Backups() const { return dir_.Path("backups"); }
};

TEST_F(BackupTest, ARestoreHoldsWhatWasBackedUpAndProvesIt) {
  auto first = BackUp(*store_, Backups());
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->backup.id, 1u);
  EXPECT_EQ(first->manifest.individuals, 30u);
  EXPECT_EQ(first->manifest.audit_entries, 5u);
  Add(keys::Sex('M'), Bitmap::Range(30, 50));
  auto second = BackUp(*store_, Backups());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->backup.id, 2u);
  EXPECT_NE(second->manifest.digest, first->manifest.digest);

  auto restored = Restore(Backups(), 1, dir_.Path("r1"));
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->manifest.individuals, 30u);
  auto r1 = storage::Store::Open(dir_.Path("r1"), {});
  ASSERT_THAT(r1, IsOk());
  auto view = (*r1)->Snapshot();
  EXPECT_EQ(view->GetBitmap(keys::kAllIndividuals)->Cardinality(), 30u);
  EXPECT_TRUE(security::VerifyAudit(*view).problems.empty());
  auto latest = Restore(Backups(), 0, dir_.Path("r2"));
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->backup.id, 2u);
  EXPECT_EQ(latest->manifest.individuals, 50u);
  // The same sets encoded differently (compacted) have the same digest.
  ASSERT_THAT(store_->Compact(), IsOk());
  EXPECT_EQ(*ContentDigest(*store_->Snapshot()), second->manifest.digest);
}

TEST_F(BackupTest, ARestoreIntoAStoreThatExistsIsRefused) {
  ASSERT_THAT(BackUp(*store_, Backups()), IsOk());
  EXPECT_THAT(Restore(Backups(), 0, dir_.Path("db")),
              StatusIs(absl::StatusCode::kFailedPrecondition, "restore into a new directory"));
  EXPECT_THAT(Restore(Backups(), 7, dir_.Path("r")),
              StatusIs(absl::StatusCode::kNotFound, "no backup 7"));
  EXPECT_THAT(Restore(dir_.Path("nothing"), 0, dir_.Path("r")),
              StatusIs(absl::StatusCode::kNotFound, "no pmdb backups"));
}

// A backup whose data is not what its manifest says (here: one more write between the manifest
// and the copy, as there would be without the writers' lock) is caught by the digest.
TEST_F(BackupTest, RecordsThatDifferFromTheManifestAreCaught) {
  auto manifest = ManifestOf(*store_->Snapshot());
  ASSERT_THAT(manifest, IsOk());
  Add(keys::Sex('M'), Bitmap::Of({77}));
  ASSERT_THAT(store_->Backup(Backups(), manifest->Format()), IsOk());
  EXPECT_THAT(Restore(Backups(), 0, dir_.Path("r")),
              StatusIs(absl::StatusCode::kDataLoss, "its records differ from those backed up"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("r"))) << "nothing is left behind";
  for (const auto& e : std::filesystem::directory_iterator(dir_.Path(""))) {
    EXPECT_EQ(e.path().filename().string().find(".restoring-"), std::string::npos)
        << "the restore was proved before it was renamed into place, and removed";
  }
}

TEST_F(BackupTest, ABackupMayNotGoIntoTheStoreItself) {
  EXPECT_THAT(BackUp(*store_, dir_.Path("db/backups")),
              StatusIs(absl::StatusCode::kInvalidArgument, "a backup goes outside the store"));
  EXPECT_THAT(BackUp(*store_, dir_.Path("db") + "/../db/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "overlap"));
}

// A damaged file in the backup directory is found by its checksum before anything is restored.
TEST_F(BackupTest, ADamagedBackupFileIsFoundBeforeRestoring) {
  ASSERT_THAT(BackUp(*store_, Backups()), IsOk());
  int damaged = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(Backups())) {
    if (f.path().extension() != ".sst") continue;
    std::fstream file(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(10);
    const char was = static_cast<char>(file.get());
    file.seekp(10);
    file.put(static_cast<char>(~was));  // changed, whatever it was
    ++damaged;
  }
  ASSERT_GT(damaged, 0);
  auto restored = Restore(Backups(), 0, dir_.Path("r"));
  EXPECT_FALSE(restored.ok());
  EXPECT_NE(restored.status().message().find("backup 1 in"), std::string::npos)
      << restored.status();
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("r")));
}

// The audit chain of a restore must reach the manifest's head: a backup whose log was cut short
// is refused.
TEST_F(BackupTest, AnAuditLogShorterThanTheManifestIsCaught) {
  auto manifest = ManifestOf(*store_->Snapshot());
  ASSERT_THAT(manifest, IsOk());
  manifest->audit_entries = 9;
  ASSERT_THAT(store_->Backup(Backups(), manifest->Format()), IsOk());
  EXPECT_THAT(Restore(Backups(), 0, dir_.Path("r")),
              StatusIs(absl::StatusCode::kDataLoss, "does not reach the backed-up head"));
}

}  // namespace
}  // namespace pmdb::core
