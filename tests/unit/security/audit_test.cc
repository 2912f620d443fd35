#include "security/audit.h"

#include <gtest/gtest.h>

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
        ASSERT_TRUE((*log)->AppendAndWait(Entry("spiffe://f/researcher/r" + std::to_string(i % 3),
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
  auto list = testing::Pmdb({"audit", "list", "--db", dir.Path("db"), "--caller",
                             "spiffe://f/researcher/r0", "--json"});
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

}  // namespace
}  // namespace pmdb::security
