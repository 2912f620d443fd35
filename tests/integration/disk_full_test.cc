// A full disk: pmdb refuses to write, cleanly and naming the disk, instead of aborting (RocksDB
// as Debian builds it aborts the process on a second failed write), and everything works again
// once space is freed. Needs a small file system of its own: a tmpfs mounted for the test, so
// it runs as root (as ./tools/test does on a fresh machine) and is skipped where mounting is
// not allowed.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace pmdb::testing {
namespace {

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = dir_.Path("small");
    std::filesystem::create_directories(mount_);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=96m") != 0) {
      GTEST_SKIP() << "cannot mount a small file system here (" << std::strerror(errno)
                   << "); the full-disk test needs root";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
  }
  // Fills the file system to the last byte.
  void Fill() {
    std::ofstream filler(mount_ + "/filler", std::ios::binary);
    std::string mib(1 << 20, 'x');
    while (filler.write(mib.data(), static_cast<std::streamsize>(mib.size()))) {
    }
    filler.close();
    std::ofstream tail(mount_ + "/filler-tail", std::ios::binary);
    while (tail.put('x')) {
    }
  }
  void Free() {
    std::filesystem::remove(mount_ + "/filler");
    std::filesystem::remove(mount_ + "/filler-tail");
  }
  std::string Db() const { return mount_ + "/db"; }

  TempDir dir_;
  std::string mount_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, WritesAreRefusedCleanlyAndWorkAgainOnceSpaceIsFree) {
  auto first = Pmdb({"ingest", "--db", Db(), "--vcf", SharedData("vcf/1kg_chr22_5samples.vcf.gz"),
                     "--dataset", "kg", "--assembly", "GRCh37"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Fill();
  auto more = Pmdb({"ingest", "--db", Db(), "--vcf", SharedData("vcf/1kg_phase1_629samples.vcf.gz"),
                    "--dataset", "big", "--assembly", "GRCh37"});
  EXPECT_EQ(more.exit_code, 1) << "refused, not aborted: " << more.err;
  EXPECT_NE(more.err.find("is full"), std::string::npos) << more.err;
  EXPECT_NE(more.err.find("nothing was written"), std::string::npos) << more.err;
  // A question to the store needs its audit entry: refused the same way, never a crash.
  auto query = Pmdb({"query", "--db", Db(), "dataset(kg)"});
  EXPECT_EQ(query.exit_code, 1) << query.err;
  EXPECT_NE(query.err.find("is full"), std::string::npos) << query.err;
  // What is stored stays readable.
  auto verify = Pmdb({"audit", "verify", "--db", Db()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  Free();
  auto count = Pmdb({"query", "--db", Db(), "--json", "dataset(kg)"});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(JsonNumber(ParseJson(count.out), "count.low"), 5);
  auto again =
      Pmdb({"ingest", "--db", Db(), "--vcf", SharedData("vcf/1kg_phase1_629samples.vcf.gz"),
            "--dataset", "big", "--assembly", "GRCh37"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Pmdb({"audit", "verify", "--db", Db()}).exit_code, 0);
}

TEST_F(DiskFullTest, ANewStoreOnAFullDiskIsRefusedAndLeavesNothing) {
  Fill();
  auto r =
      Pmdb({"ingest", "--db", mount_ + "/new", "--vcf", SharedData("vcf/1kg_chr22_5samples.vcf.gz"),
            "--dataset", "kg", "--assembly", "GRCh37"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("is full"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(mount_ + "/new"));
}

}  // namespace
}  // namespace pmdb::testing
