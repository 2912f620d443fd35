// An ingest is all or nothing, also when the process is killed with SIGKILL.
#include <csignal>
#include <filesystem>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::DumpStore;
using testing::JsonBool;
using testing::JsonNumber;
using testing::ParseJson;
using testing::Pmdb;
using testing::SharedData;
using testing::TempDir;

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r =
        Pmdb({"ingest", "--db", dir_.Path("db"), "--vcf", SharedData("vcf/edge/samples-space.vcf"),
              "--dataset", "base", "--assembly", "GRCh37"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  testing::CommandResult IngestKilledAt(const std::string& point) {
    return Pmdb(
        {"ingest", "--db", dir_.Path("db"), "--vcf", SharedData("vcf/1kg_phase1_629samples.vcf.gz"),
         "--dataset", "kg", "--assembly", "GRCh37"},
        {"PMDB_CRASH_AT=" + point});
  }
  TempDir dir_;
};

TEST_F(CrashTest, KilledBeforeCommitLeavesTheStoreAsItWas) {
  std::map<std::string, std::string> before;
  { before = DumpStore(*testing::OpenOrDie(dir_.Path("db"), false)); }
  auto r = IngestKilledAt("ingest.before_commit");
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(DumpStore(*testing::OpenOrDie(dir_.Path("db"), false)), before);
}

TEST_F(CrashTest, KilledRightAfterCommitKeepsTheWholeBatch) {
  auto r = IngestKilledAt("ingest.after_commit");
  EXPECT_EQ(r.signal, SIGKILL);
  auto q = Pmdb({"query", "--db", dir_.Path("db"), "--json", "dataset(kg)"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(JsonNumber(ParseJson(q.out), "count.low"), 629) << q.out;
  EXPECT_TRUE(JsonBool(ParseJson(q.out), "count.exact")) << q.out;
  auto v = Pmdb({"query", "--db", dir_.Path("db"), "--json", "range(GRCh37:2:1-250000000)"});
  EXPECT_EQ(JsonNumber(ParseJson(v.out), "count.low"), 629) << v.out;
}

// Creating a store is atomic too: killed while its first ingest creates it, a directory holds
// either no store (and the next ingest creates it) or a whole one, never a RocksDB database
// that every command calls "not a pmdb store".
TEST(StoreCreationTest, KilledWhileCreatingLeavesNoHalfStore) {
  TempDir dir;
  const std::string db = dir.Path("fresh");
  const std::vector<std::string> ingest = {
      "ingest",    "--db", db,           "--vcf", SharedData("vcf/edge/samples-space.vcf"),
      "--dataset", "base", "--assembly", "GRCh37"};
  auto killed = Pmdb(ingest, {"PMDB_CRASH_AT=store.before_rename"});
  EXPECT_EQ(killed.signal, SIGKILL);
  auto info = Pmdb({"info", "--db", db});
  EXPECT_EQ(info.exit_code, 1);
  EXPECT_NE(info.err.find("no pmdb store"), std::string::npos) << info.err;
  auto again = Pmdb(ingest);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Pmdb({"info", "--db", db}).exit_code, 0);
  // A directory that holds something else is not taken over.
  std::filesystem::create_directories(dir.Path("other"));
  testing::WriteFile(dir.Path("other/notes.txt"), "mine");
  auto other =
      Pmdb({"ingest", "--db", dir.Path("other"), "--vcf", SharedData("vcf/edge/samples-space.vcf"),
            "--dataset", "base", "--assembly", "GRCh37"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("exists and is not a pmdb store"), std::string::npos) << other.err;
  EXPECT_EQ(testing::ReadFile(dir.Path("other/notes.txt")), "mine");
}

}  // namespace
}  // namespace pmdb
