#include "security/audit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "node/storage/keys.h"
#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using storage::Family;
using testing::TempDir;

v1::AuditEntry Entry(const std::string& caller, const std::string& query) {
  v1::AuditEntry e;
  e.set_caller(caller);
  e.set_role("researcher");
  e.set_method("RegionService/Count");
  e.set_query(query);
  e.set_outcome("ok");
  e.set_released("count=12");
  e.set_region("vast");
  return e;
}

// Writes `n` entries from several threads and closes the log.
void Fill(storage::Store* store, int n) {
  auto log = AuditLog::Open(store);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < n; i += 4) {
        ASSERT_TRUE((*log)
                        ->AppendAndWait(Entry("spiffe://f/researcher/r" + std::to_string(i % 3),
                                              "dx(C" + std::to_string(i) + ")"))
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
}

std::string Problems(const AuditVerification& v) {
  std::string s;
  for (const auto& p : v.problems) s += std::to_string(p.seq) + ": " + p.what + "\n";
  return s;
}

TEST(AuditTest, ChainIsIntactAcrossReopensAndConcurrentWriters) {
  TempDir dir;
  auto store = testing::OpenOrDie(dir.Path("db"));
  Fill(store.get(), 40);
  Fill(store.get(), 10);  // a restart continues the chain
  AuditVerification v = VerifyAudit(*store->Snapshot());
  EXPECT_TRUE(v.problems.empty()) << Problems(v);
  EXPECT_EQ(v.entries, 50u);
  EXPECT_EQ(v.head_hash_hex.size(), 64u);
  auto all = ListAudit(*store->Snapshot(), {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 50u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].seq(), i);
  auto one = ListAudit(*store->Snapshot(), {.caller = "spiffe://f/researcher/r1"});
  ASSERT_TRUE(one.ok());
  EXPECT_GT(one->size(), 10u);
  for (const auto& e : *one) EXPECT_EQ(e.caller(), "spiffe://f/researcher/r1");
  auto none = ListAudit(*store->Snapshot(), {.since_unix_micros = INT64_MAX});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // The oldest 7, or the newest 7 (still oldest first).
  auto first = ListAudit(*store->Snapshot(), {.limit = 7});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 7u);
  EXPECT_EQ(first->front().seq(), 0u);
  auto last = ListAudit(*store->Snapshot(), {.limit = 7, .newest = true});
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 7u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ((*last)[i].seq(), 43 + i);
}

class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenOrDie(dir_.Path("db"));
    Fill(store_.get(), 10);
    ASSERT_TRUE(VerifyAudit(*store_->Snapshot()).problems.empty());
  }
  std::string Raw(uint64_t seq) {
    auto v = store_->Snapshot()->Get(Family::kAudit, storage::keys::AuditKey(seq));
    EXPECT_TRUE(v.ok() && v->has_value());
    return **v;
  }
  void Put(uint64_t seq, const std::string& bytes) {
    storage::WriteBatch b = store_->NewBatch();
    b.Put(Family::kAudit, storage::keys::AuditKey(seq), bytes);
    ASSERT_TRUE(store_->Write(b).ok());
  }
  void Delete(uint64_t seq) {
    storage::WriteBatch b = store_->NewBatch();
    b.Delete(Family::kAudit, storage::keys::AuditKey(seq));
    ASSERT_TRUE(store_->Write(b).ok());
  }
  bool Names(uint64_t seq) {
    for (const auto& p : VerifyAudit(*store_->Snapshot()).problems) {
      if (p.seq == seq) return true;
    }
    return false;
  }
  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(AuditTamperTest, EditedEntryIsNamed) {
  v1::AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(Raw(4)));
  e.set_released("count=0-4");  // hide what was released
  Put(4, e.SerializeAsString());
  AuditVerification v = VerifyAudit(*store_->Snapshot());
  EXPECT_FALSE(v.problems.empty());
  EXPECT_TRUE(Names(5)) << Problems(v) << "entry 5's link to entry 4 must break";
}

TEST_F(AuditTamperTest, RemovedEntryIsNamed) {
  Delete(6);
  AuditVerification v = VerifyAudit(*store_->Snapshot());
  EXPECT_TRUE(Names(6)) << Problems(v);
}

TEST_F(AuditTamperTest, ReorderedEntriesAreNamed) {
  std::string three = Raw(3), seven = Raw(7);
  Put(3, seven);
  Put(7, three);
  AuditVerification v = VerifyAudit(*store_->Snapshot());
  EXPECT_TRUE(Names(3)) << Problems(v);
  EXPECT_TRUE(Names(7)) << Problems(v);
}

TEST_F(AuditTamperTest, TruncatedTailIsNoticed) {
  Delete(9);
  AuditVerification v = VerifyAudit(*store_->Snapshot());
  EXPECT_FALSE(v.problems.empty()) << "the head still says the log ends at entry 9";
}

TEST_F(AuditTamperTest, EditedLastEntryIsNoticed) {
  v1::AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(Raw(9)));
  e.set_caller("spiffe://f/researcher/someone-else");
  Put(9, e.SerializeAsString());
  EXPECT_TRUE(Names(9)) << Problems(VerifyAudit(*store_->Snapshot()));
}

TEST(AuditCliTest, VerifyExitsNonZeroOnTamperingAndListFilters) {
  TempDir dir;
  {
    auto store = testing::OpenOrDie(dir.Path("db"));
    Fill(store.get(), 6);
  }
  auto ok = testing::Pmdb({"audit", "verify", "--db", dir.Path("db")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("intact: 6 entries"), std::string::npos) << ok.out;
  auto list = testing::Pmdb(
      {"audit", "list", "--db", dir.Path("db"), "--caller", "spiffe://f/researcher/r0", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 2) << list.out;  // entries 0, 3
  {
    auto store = testing::OpenOrDie(dir.Path("db"));
    storage::WriteBatch b = store->NewBatch();
    b.Delete(Family::kAudit, storage::keys::AuditKey(2));
    ASSERT_TRUE(store->Write(b).ok());
  }
  auto bad = testing::Pmdb({"audit", "verify", "--db", dir.Path("db")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("entry 2"), std::string::npos) << bad.out;
}

// The tampers that gave budget back when the head lived only in the store, each with the
// anchor beside the store: every one is refused when the log is opened again, and shown by
// pmdb audit verify.
class AuditAnchorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenOrDie(Db());
    Fill(store_.get(), 10);
  }
  std::string Db() const { return dir_.Path("db"); }
  absl::Status Reopen(bool accept = false) {
    auto log = AuditLog::Open(store_.get(), AuditLog::Options{.accept_damage = accept});
    return log.status();
  }
  std::string Raw(uint64_t seq) {
    return **store_->Snapshot()->Get(Family::kAudit, storage::keys::AuditKey(seq));
  }
  // Rewrites entries `from`.. with correct links and a matching head record, as someone who
  // can write the store would after editing or removing entries.
  void Relink(uint64_t from, uint64_t end) {
    storage::WriteBatch b = store_->NewBatch();
    std::string prev = from == 0 ? "" : Sha256(Raw(from - 1));
    for (uint64_t seq = from; seq < end; ++seq) {
      v1::AuditEntry e;
      ASSERT_TRUE(e.ParseFromString(Raw(seq)));
      e.set_prev_hash(prev);
      std::string bytes = e.SerializeAsString();
      b.Put(Family::kAudit, storage::keys::AuditKey(seq), bytes);
      prev = Sha256(bytes);
    }
    b.Put(Family::kMeta, storage::keys::kMetaAuditHead, storage::keys::AuditKey(end - 1) + prev);
    ASSERT_TRUE(store_->Write(b).ok());
  }
  void ExpectRefused(const std::string& words) {
    absl::Status s = Reopen();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find(words), std::string::npos) << s;
  }
  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(AuditAnchorTest, AnUntouchedLogOpensAndTheAnchorFollowsIt) {
  EXPECT_TRUE(Reopen().ok());
  auto anchor = ReadAnchor(AnchorPathOf(Db()));
  ASSERT_TRUE(anchor.ok() && anchor->has_value());
  EXPECT_EQ((*anchor)->entries, 10u);
  EXPECT_EQ((*anchor)->hash, Sha256(Raw(9)));
}

TEST_F(AuditAnchorTest, NewestEntriesRemovedAndTheHeadRewrittenAreRefused) {
  storage::WriteBatch b = store_->NewBatch();
  for (uint64_t seq = 7; seq < 10; ++seq) b.Delete(Family::kAudit, storage::keys::AuditKey(seq));
  ASSERT_TRUE(store_->Write(b).ok());
  Relink(0, 7);
  EXPECT_TRUE(VerifyAudit(*store_->Snapshot()).problems.empty()) << "the chain alone looks whole";
  ExpectRefused("has 7 entries but was anchored at 10");
  auto verify = testing::Pmdb({"audit", "verify", "--db", Db()});
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_NE(verify.out.find("anchored at 10"), std::string::npos) << verify.out;
}

TEST_F(AuditAnchorTest, AChargeZeroedAndTheChainReLinkedIsRefused) {
  v1::AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(Raw(3)));
  e.set_rho_micros(0);
  e.set_released("count=0-4");
  storage::WriteBatch b = store_->NewBatch();
  b.Put(Family::kAudit, storage::keys::AuditKey(3), e.SerializeAsString());
  ASSERT_TRUE(store_->Write(b).ok());
  Relink(4, 10);
  EXPECT_TRUE(VerifyAudit(*store_->Snapshot()).problems.empty());
  ExpectRefused("edited and re-linked");
}

TEST_F(AuditAnchorTest, AnOlderCopyOfTheStorePutBackIsRefused) {
  store_.reset();
  std::filesystem::copy(Db(), dir_.Path("old"), std::filesystem::copy_options::recursive);
  store_ = testing::OpenOrDie(Db());
  Fill(store_.get(), 5);
  store_.reset();
  std::filesystem::remove_all(Db());
  std::filesystem::rename(dir_.Path("old"), Db());
  store_ = testing::OpenOrDie(Db(), /*create=*/false);
  ExpectRefused("has 10 entries but was anchored at 15");
}

TEST_F(AuditAnchorTest, TheHeadRecordRemovedIsRefused) {
  storage::WriteBatch b = store_->NewBatch();
  b.Delete(Family::kMeta, storage::keys::kMetaAuditHead);
  ASSERT_TRUE(store_->Write(b).ok());
  ExpectRefused("the head record is missing");
}

TEST_F(AuditAnchorTest, TheOperatorMayGoOnExplicitlyAndIsAnchoredAgain) {
  storage::WriteBatch b = store_->NewBatch();
  b.Delete(Family::kAudit, storage::keys::AuditKey(9));
  ASSERT_TRUE(store_->Write(b).ok());
  ExpectRefused("cut short");
  ASSERT_TRUE(Reopen(/*accept=*/true).ok());
  {
    auto log = AuditLog::Open(store_.get());
    ASSERT_TRUE(log.ok()) << log.status() << " (re-anchored at 9 entries)";
    EXPECT_EQ((*log)->size(), 9u) << "the log goes on after its last entry";
    EXPECT_TRUE((*log)->AppendAndWait(Entry("spiffe://f/researcher/r1", "sex(F)")).ok());
  }
  EXPECT_TRUE(Reopen().ok());
}

TEST_F(AuditAnchorTest, ATornAnchorWriteLeavesThePreviousRecord) {
  {
    auto log = AuditLog::Open(store_.get());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->AppendAndWait(Entry("spiffe://f/researcher/r1", "sex(F)")).ok());
  }
  const std::string path = AnchorPathOf(Db());
  auto newest = ReadAnchor(path);
  ASSERT_TRUE(newest.ok() && newest->has_value());
  ASSERT_EQ((*newest)->entries, 11u);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    // A byte inside the record of 11 entries, changed (a fixed value would already be there
    // once in 256 records).
    f.seekg((*newest)->slot * 56 + 20);
    const char was = static_cast<char>(f.get());
    f.seekp((*newest)->slot * 56 + 20);
    f.put(static_cast<char>(~was));
  }
  auto anchor = ReadAnchor(path);
  ASSERT_TRUE(anchor.ok() && anchor->has_value()) << anchor.status();
  EXPECT_EQ((*anchor)->entries, 10u) << "the record before it, in the other slot";
  EXPECT_TRUE(Reopen().ok());
}

// The head record and the first entry both removed: still found (the log is scanned for any
// entry), so the log is not overwritten from entry 0.
TEST_F(AuditAnchorTest, TheHeadRecordAndTheFirstEntryRemovedAreRefused) {
  storage::WriteBatch b = store_->NewBatch();
  b.Delete(Family::kMeta, storage::keys::kMetaAuditHead);
  b.Delete(Family::kAudit, storage::keys::AuditKey(0));
  ASSERT_TRUE(store_->Write(b).ok());
  ExpectRefused("the head record is missing");
}

// A log with entries whose anchor is gone (an upgrade, a store moved without it — or removed)
// is anchored as it is, with a warning; from then on it is protected again.
TEST_F(AuditAnchorTest, AMissingAnchorIsMadeAgainFromTheLogAsItIs) {
  std::filesystem::remove(AnchorPathOf(Db()));
  ASSERT_TRUE(Reopen().ok());
  auto anchor = ReadAnchor(AnchorPathOf(Db()));
  ASSERT_TRUE(anchor.ok() && anchor->has_value());
  EXPECT_EQ((*anchor)->entries, 10u);
  storage::WriteBatch b = store_->NewBatch();
  b.Delete(Family::kAudit, storage::keys::AuditKey(9));
  ASSERT_TRUE(store_->Write(b).ok());
  ExpectRefused("cut short");
}

TEST_F(AuditAnchorTest, ANewStoreInThePlaceOfAnOldOneStartsAfresh) {
  store_.reset();
  std::filesystem::remove_all(Db());
  store_ = testing::OpenOrDie(Db());
  EXPECT_TRUE(Reopen().ok()) << "a stale anchor beside a new store is removed when it is created";
}

}  // namespace
}  // namespace pmdb::security
