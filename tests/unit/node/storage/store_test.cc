#include "node/storage/store.h"

#include <rocksdb/db.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "node/base/crash_point.h"
#include "node/storage/keys.h"
#include "tests/test_util.h"

namespace pmdb::storage {
namespace {

using pmdb::testing::OpenOrDie;
using pmdb::testing::TempDir;

TEST(StoreTest, MissingStoreIsNotFoundWithAHint) {
  TempDir dir;
  auto store = Store::Open(dir.Path("none"), StoreOptions{});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(store.status().message()).find("pmdb ingest"), std::string::npos);
}

TEST(StoreTest, WritesSchemaVersionOnCreate) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  auto schema = store->Snapshot()->Get(Family::kMeta, keys::kMetaSchema);
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(**schema, std::to_string(keys::kSchemaVersion));
}

// The counter part of a data version (its first 16 hex digits).
uint64_t Counter(const std::string& version) {
  return version == "0" ? 0 : std::stoull(version.substr(0, 16), nullptr, 16);
}

TEST(StoreTest, DataVersionMovesWithDataOnlyAndSurvivesReopening) {
  TempDir dir;
  std::string last;
  {
    auto store = OpenOrDie(dir.Path("db"));
    auto before = store->Snapshot();
    EXPECT_EQ(*DataVersion(*before), "0");
    // Audit entries, contact requests and keys do not change an answer.
    WriteBatch quiet = store->NewBatch();
    quiet.Put(Family::kAudit, keys::AuditKey(1), "entry");
    quiet.Put(Family::kContact, keys::Contact("r1"), "request");
    quiet.Put(Family::kMeta, keys::kMetaAuditHead, "head");
    ASSERT_TRUE(store->Write(quiet).ok());
    EXPECT_EQ(*DataVersion(*store->Snapshot()), "0");
    // Individuals, bitmaps and reference files do.
    WriteBatch data = store->NewBatch();
    data.AddBits(keys::Sex('F'), Bitmap::Of({1, 2}));
    ASSERT_TRUE(store->Write(data).ok());
    std::string first = *DataVersion(*store->Snapshot());
    EXPECT_EQ(Counter(first), 1u);
    EXPECT_EQ(first.size(), 48u) << "a counter and 128 random bits";
    WriteBatch genes = store->NewBatch();
    genes.Put(Family::kMeta, keys::MetaGeneTable("GRCh38"), "table");
    ASSERT_TRUE(store->Write(genes).ok());
    last = *DataVersion(*store->Snapshot());
    EXPECT_EQ(Counter(last), 2u);
    // A snapshot keeps the version it was taken at.
    EXPECT_EQ(*DataVersion(*before), "0");
  }
  auto reopened = OpenOrDie(dir.Path("db"));
  EXPECT_EQ(*DataVersion(*reopened->Snapshot()), last);
  WriteBatch more = reopened->NewBatch();
  more.Put(Family::kIndividuals, keys::Individual(3), "record");
  ASSERT_TRUE(reopened->Write(more).ok());
  EXPECT_EQ(Counter(*DataVersion(*reopened->Snapshot())), 3u);
}

// A store restored from a copy and then written differently must not reuse a version: noise
// keyed on it would otherwise be the same for different data, and differencing the two
// releases would cancel it.
TEST(StoreTest, DataVersionNeverRepeatsAfterARestore) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.Path("db"));
    WriteBatch data = store->NewBatch();
    data.AddBits(keys::Sex('F'), Bitmap::Of({1, 2}));
    ASSERT_TRUE(store->Write(data).ok());
  }
  std::filesystem::copy(dir.Path("db"), dir.Path("backup"),
                        std::filesystem::copy_options::recursive);
  std::string original, restored, at_backup;
  {
    auto store = OpenOrDie(dir.Path("db"));
    at_backup = *DataVersion(*store->Snapshot());
    WriteBatch data = store->NewBatch();
    data.AddBits(keys::Sex('F'), Bitmap::Of({3}));
    ASSERT_TRUE(store->Write(data).ok());
    original = *DataVersion(*store->Snapshot());
  }
  {
    auto store = OpenOrDie(dir.Path("backup"));
    EXPECT_EQ(*DataVersion(*store->Snapshot()), at_backup) << "the same data, the same version";
    WriteBatch data = store->NewBatch();
    data.AddBits(keys::Sex('M'), Bitmap::Of({3}));
    ASSERT_TRUE(store->Write(data).ok());
    restored = *DataVersion(*store->Snapshot());
  }
  EXPECT_EQ(Counter(original), Counter(restored));
  EXPECT_NE(original, restored);
}

TEST(StoreTest, RefusesANewerSchema) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.Path("db"));
    WriteBatch batch = store->NewBatch();
    batch.Put(Family::kMeta, keys::kMetaSchema, std::to_string(keys::kSchemaVersion + 1));
    ASSERT_TRUE(store->Write(batch).ok());
  }
  auto reopened = Store::Open(dir.Path("db"), StoreOptions{});
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(reopened.status().message()).find("upgrade pmdb"), std::string::npos);
}

TEST(StoreTest, RefusesAnUnreadableSchema) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.Path("db"));
    WriteBatch batch = store->NewBatch();
    batch.Put(Family::kMeta, keys::kMetaSchema, "one");
    ASSERT_TRUE(store->Write(batch).ok());
  }
  EXPECT_EQ(Store::Open(dir.Path("db"), StoreOptions{}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, RefusesARocksDbThatIsNotAStore) {
  TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.Path("plain"), &db).ok());
  delete db;
  auto store = Store::Open(dir.Path("plain"), StoreOptions{.create_if_missing = true});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, SecondOpenOfTheSameStoreFailsClearly) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  auto second = Store::Open(dir.Path("db"), StoreOptions{});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, SnapshotDoesNotSeeLaterWrites) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  WriteBatch first = store->NewBatch();
  first.AddBits("k", Bitmap::Of({1}));
  ASSERT_TRUE(store->Write(first).ok());
  auto before = store->Snapshot();
  WriteBatch second = store->NewBatch();
  second.AddBits("k", Bitmap::Of({2}));
  second.Put(Family::kVariants, "v", "");
  ASSERT_TRUE(store->Write(second).ok());
  EXPECT_EQ(before->GetBitmap("k")->ToVector(), std::vector<uint32_t>{1});
  EXPECT_FALSE(before->Get(Family::kVariants, "v")->has_value());
  EXPECT_EQ(store->Snapshot()->GetBitmap("k")->Cardinality(), 2u);
}

TEST(StoreTest, ScanRespectsBoundsAndEarlyStop) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  WriteBatch batch = store->NewBatch();
  for (std::string k : {"a", "b1", "b2", "b3", "c"}) batch.Put(Family::kVariants, k, k);
  ASSERT_TRUE(store->Write(batch).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store->Snapshot()
                  ->Scan(Family::kVariants, "b", keys::PrefixEnd("b"),
                         [&](std::string_view k, std::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 2;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"b1", "b2"}));
}

TEST(StoreTest, MultiGetReturnsEmptyForMissingKeys) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  WriteBatch batch = store->NewBatch();
  batch.AddBits("x", Bitmap::Of({5}));
  ASSERT_TRUE(store->Write(batch).ok());
  std::vector<std::string> ks = {"missing", "x"};
  auto bits = store->Snapshot()->GetBitmaps(ks);
  ASSERT_TRUE(bits.ok());
  EXPECT_TRUE((*bits)[0].Empty());
  EXPECT_TRUE((*bits)[1].Contains(5));
}

// ---- staged writes

std::vector<uint32_t> Bits(const Store& store, const std::string& key) {
  auto bits = store.Snapshot()->GetBitmap(key);
  EXPECT_TRUE(bits.ok()) << bits.status();
  return bits.ok() ? bits->ToVector() : std::vector<uint32_t>{};
}

// The staged parts and the commit record left in the meta family.
size_t StagedKeys(const Store& store) {
  size_t n = 0;
  EXPECT_TRUE(store.Snapshot()
                  ->Scan(Family::kMeta, "staged/", keys::PrefixEnd("staged/"),
                         [&](std::string_view, std::string_view) { return ++n > 0; })
                  .ok());
  return n;
}

TEST(StagedWriteTest, PartsAreUnseenUntilTheCommitAndThenSeenAtOnce) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  auto lock = store->WriteLock();
  StagedWrite staged = store->BeginStaged();
  WriteBatch batch = store->NewBatch();
  batch.AddBits(keys::Sex('F'), Bitmap::Of({1, 2}));
  batch.Put(Family::kVariants, "v1", "");
  ASSERT_TRUE(staged.Stage(batch).ok());
  EXPECT_EQ(batch.Count(), 0u) << "the batch is emptied for the next part";
  auto during = store->Snapshot();
  batch.AddBits(keys::Sex('F'), Bitmap::Of({3}));
  batch.RemoveBits(keys::Sex('F'), Bitmap::Of({1}));
  ASSERT_TRUE(staged.Stage(batch).ok());
  EXPECT_EQ(staged.parts(), 2u);
  EXPECT_TRUE(Bits(*store, keys::Sex('F')).empty()) << "staged, not visible";
  EXPECT_FALSE(*store->Snapshot()->Get(Family::kVariants, "v1"));
  EXPECT_EQ(*DataVersion(*store->Snapshot()), "0");

  WriteBatch last = store->NewBatch();
  last.Put(Family::kMeta, keys::kMetaNextOrdinal, std::string("\0\0\0\4", 4));
  ASSERT_TRUE(staged.Commit(last).ok());
  EXPECT_EQ(Bits(*store, keys::Sex('F')), (std::vector<uint32_t>{2, 3})) << "parts in order";
  EXPECT_TRUE(*store->Snapshot()->Get(Family::kVariants, "v1"));
  EXPECT_EQ(Counter(*DataVersion(*store->Snapshot())), 1u) << "one write, one new version";
  EXPECT_TRUE(during->GetBitmap(keys::Sex('F'))->Empty()) << "an older snapshot stays as it was";
  EXPECT_EQ(StagedKeys(*store), 0u) << "nothing staged is left behind";
}

TEST(StagedWriteTest, AWriteNeverCommittedLeavesTheStoreAsItWas) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  WriteBatch first = store->NewBatch();
  first.AddBits(keys::Sex('M'), Bitmap::Of({7}));
  ASSERT_TRUE(store->Write(first).ok());
  auto before = pmdb::testing::DumpStore(*store);
  {
    auto lock = store->WriteLock();
    StagedWrite staged = store->BeginStaged();
    WriteBatch batch = store->NewBatch();
    batch.RemoveBits(keys::Sex('M'), Bitmap::Of({7}));
    ASSERT_TRUE(staged.Stage(batch).ok());
    EXPECT_EQ(StagedKeys(*store), 1u);
  }  // given up (an error on the way)
  EXPECT_EQ(pmdb::testing::DumpStore(*store), before);
}

TEST(StagedWriteTest, ACommitCutShortServesTheDataBeforeItUntilTheStoreIsReopened) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.Path("db"));
    auto lock = store->WriteLock();
    StagedWrite staged = store->BeginStaged();
    WriteBatch batch = store->NewBatch();
    for (uint32_t part = 0; part < 3; ++part) {
      batch.AddBits(keys::Sex('F'), Bitmap::Of({part}));
      ASSERT_TRUE(staged.Stage(batch).ok());
    }
    ArmFailure("staged.apply", 1);  // after the first part is applied
    absl::Status s = staged.Commit(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_NE(s.message().find("finished when the store is next opened"), std::string::npos) << s;
    EXPECT_TRUE(Bits(*store, keys::Sex('F')).empty())
        << "one part is in, and readers still see the data as it was before the write";
    EXPECT_EQ(*DataVersion(*store->Snapshot()), "0");
    // Until it is finished, nothing may change data on top of half of it (an opt-out, another
    // ingest: its parts would mix with the ones left); the audit log goes on.
    WriteBatch optout = store->NewBatch();
    optout.RemoveBits(keys::Sex('F'), Bitmap::Of({0}));
    EXPECT_EQ(store->Write(optout).code(), absl::StatusCode::kFailedPrecondition);
    WriteBatch audit = store->NewBatch();
    audit.Put(Family::kAudit, keys::AuditKey(0), "entry");
    EXPECT_TRUE(store->Write(audit).ok());
    StagedWrite another = store->BeginStaged();
    WriteBatch part = store->NewBatch();
    part.AddBits(keys::Sex('M'), Bitmap::Of({9}));
    EXPECT_EQ(another.Stage(part).code(), absl::StatusCode::kFailedPrecondition);
  }
  {
    // Opened read-only first (`pmdb audit verify`): the log is readable, the half-applied data
    // is not.
    StoreOptions options;
    options.read_only = true;
    auto beside = Store::Open(dir.Path("db"), options);
    ASSERT_TRUE(beside.ok()) << beside.status();
    EXPECT_TRUE((*beside)->Snapshot()->Get(Family::kMeta, keys::kMetaAuditHead).ok());
    EXPECT_EQ((*beside)->Snapshot()->GetBitmap(keys::Sex('F')).status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ((*beside)->Snapshot()->Get(Family::kIndividuals, "x").status().code(),
              absl::StatusCode::kUnavailable);
  }
  auto store = OpenOrDie(dir.Path("db"), /*create=*/false);
  EXPECT_EQ(Bits(*store, keys::Sex('F')), (std::vector<uint32_t>{0, 1, 2})) << "finished on open";
  EXPECT_EQ(Counter(*DataVersion(*store->Snapshot())), 1u);
  EXPECT_EQ(StagedKeys(*store), 0u);
}

TEST(StagedWriteTest, AStagedPartCanBeReadBack) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("db"));
  auto lock = store->WriteLock();
  StagedWrite staged = store->BeginStaged();
  WriteBatch batch = store->NewBatch();
  batch.Put(Family::kIndividuals, keys::Individual(4), "record four");
  batch.AddBits(keys::Sex('F'), Bitmap::Of({4}));
  ASSERT_TRUE(staged.Stage(batch).ok());
  batch.Put(Family::kIndividuals, keys::Individual(4), "record four, later");
  ASSERT_TRUE(staged.Stage(batch).ok());
  EXPECT_EQ(*staged.StagedValue(0, Family::kIndividuals, keys::Individual(4)), "record four");
  EXPECT_EQ(*staged.StagedValue(1, Family::kIndividuals, keys::Individual(4)),
            "record four, later");
  EXPECT_FALSE(*staged.StagedValue(1, Family::kIndividuals, keys::Individual(5)));
  EXPECT_FALSE(*staged.StagedValue(0, Family::kVariants, keys::Individual(4)))
      << "the family is part of the key";
  EXPECT_EQ(staged.StagedValue(2, Family::kIndividuals, "x").status().code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace pmdb::storage
