// A kill campaign: `pmdb ingest` (VCF and Phenopackets) and `pmdb query --batch` killed with
// SIGKILL at random moments, 100 ingest kills and about 40 query kills. After every kill the store
// opens, its audit chain verifies, an ingest is there whole or not at all, and every answer that
// was shown has its audit entry; once the killed work is run again to the end, the store answers as
// a clean run's.
#include <chrono>
#include <filesystem>
#include <random>

#include "gtest/gtest.h"
#include "node/base/strings.h"
#include "tests/test_util.h"

namespace pmdb::testing {
namespace {

namespace fs = std::filesystem;

class KillCampaign : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = Pmdb({"generate", "--individuals", "400", "--variants", "300", "--seed", "11",
                     "--out", dir_.Path("cohort")});
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    auto base = Pmdb({"ingest", "--db", dir_.Path("base"), "--vcf",
                      SharedData("vcf/edge/samples-space.vcf"), "--dataset", "base", "--assembly",
                      "GRCh37", "--hpo", SharedData("ontology/hp.obo")});
    ASSERT_EQ(base.exit_code, 0) << base.err;
  }

  // A fresh copy of the base store (and its audit anchor) at `db`.
  void Reset(const std::string& db) {
    fs::remove_all(db);
    fs::remove(db + ".audit-anchor");
    fs::copy(dir_.Path("base"), db, fs::copy_options::recursive);
    fs::copy_file(dir_.Path("base") + ".audit-anchor", db + ".audit-anchor");
  }

  std::vector<std::string> IngestVcf(const std::string& db) const {
    return {"ingest",    "--db",   db,           "--vcf", dir_.Path("cohort/cohort.vcf.gz"),
            "--dataset", "cohort", "--assembly", "GRCh38"};
  }
  std::vector<std::string> IngestPackets(const std::string& db) const {
    return {"ingest", "--db", db, "--phenopackets", dir_.Path("cohort/phenopackets.jsonl")};
  }

  double Count(const std::string& db, const std::string& expr) {
    auto r = Pmdb({"query", "--db", db, "--json", expr});
    EXPECT_EQ(r.exit_code, 0) << expr << ": " << r.err;
    return r.exit_code == 0 ? JsonNumber(ParseJson(r.out), "count.low") : -1;
  }

  // Microseconds a clean run of `args` takes.
  int64_t Timed(const std::vector<std::string>& args) {
    auto start = std::chrono::steady_clock::now();
    auto r = Pmdb(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  }

  TempDir dir_;
  std::mt19937_64 rng_{20261206};
};

TEST_F(KillCampaign, IngestsKilledAtRandomMomentsAreWholeOrAbsent) {
  const std::string clean = dir_.Path("clean");
  Reset(clean);
  const int64_t vcf_us = Timed(IngestVcf(clean));
  const int64_t packets_us = Timed(IngestPackets(clean));
  const double people = Count(clean, "dataset(cohort)");
  const double women = Count(clean, "sex(F)");
  const std::string anyone = "sex(F) OR sex(M) OR sex(O)";
  const double with_packets = Count(clean, anyone);
  const double without = Count(dir_.Path("base"), anyone);
  ASSERT_EQ(people, 400);
  ASSERT_NE(with_packets, without);

  struct Tally {
    int kills = 0, absent = 0, whole = 0, finished = 0;
  };
  std::map<std::string, Tally> tally;
  const std::string db = dir_.Path("db");
  // Until 100 runs were killed (a busy machine lets more runs finish first).
  int kills = 0;
  int64_t spans[2] = {vcf_us, packets_us};  // the fastest finished run of each
  for (int i = 0; kills < 100 && i < 400; ++i) {
    const bool vcf = i % 5 < 3;  // 3 VCF to 2 Phenopackets
    Reset(db);
    int64_t& span = spans[vcf ? 0 : 1];
    const auto started = std::chrono::steady_clock::now();
    auto r = Pmdb(vcf ? IngestVcf(db) : IngestPackets(db), {},
                  static_cast<int64_t>(rng_() % static_cast<uint64_t>(span + span / 4)));
    Tally& t = tally[vcf ? "vcf" : "phenopackets"];
    if (r.signal == SIGKILL) ++t.kills, ++kills;
    if (r.exit_code == 0) {
      ++t.finished;
      span = std::min<int64_t>(span, std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count());
    }
    auto verify = Pmdb({"audit", "verify", "--db", db});
    ASSERT_EQ(verify.exit_code, 0) << "kill " << i << ": " << verify.out << verify.err;
    const double seen = Count(db, vcf ? "dataset(cohort)" : anyone);
    const double all = vcf ? people : with_packets;
    const double none = vcf ? 0 : without;
    ASSERT_TRUE(seen == all || seen == none) << "kill " << i << ": a partial batch, " << seen;
    (seen == all ? t.whole : t.absent) += 1;
  }
  for (const auto& [kind, t] : tally) {
    std::printf("[kills] %-12s %d kills: %d left nothing, %d left the whole batch; %d finished\n",
                kind.c_str(), t.kills, t.absent, t.whole - t.finished, t.finished);
  }
  EXPECT_EQ(kills, 100);
  EXPECT_GT(tally["vcf"].absent, 0);
  // Run again to the end, the store answers as the clean run's.
  Reset(db);
  Pmdb(IngestVcf(db), {}, vcf_us / 2);
  ASSERT_EQ(Pmdb(IngestVcf(db)).exit_code, 0);
  ASSERT_EQ(Pmdb(IngestPackets(db)).exit_code, 0);
  EXPECT_EQ(Count(db, "dataset(cohort)"), people);
  EXPECT_EQ(Count(db, "sex(F)"), women);
  EXPECT_EQ(Pmdb({"audit", "verify", "--db", db}).exit_code, 0);
}

TEST_F(KillCampaign, AnswersShownBeforeAKillAreAllInTheAuditLog) {
  const std::string db = dir_.Path("db");
  Reset(db);
  ASSERT_EQ(Pmdb(IngestPackets(db)).exit_code, 0);
  std::string questions;
  for (int age = 0; age < 200; ++age) StrAppend(&questions, "age(", age % 100, "-) AND sex(F)\n");
  WriteFile(dir_.Path("questions.txt"), questions);
  const std::vector<std::string> batch = {"query", "--db", db, "--batch",
                                          dir_.Path("questions.txt")};
  int64_t batch_us = Timed(batch);  // the fastest finished run
  int kills = 0, shown = 0;
  for (int i = 0; kills < 40 && i < 160; ++i) {
    auto before = Pmdb({"audit", "list", "--db", db, "--json"});
    const long entries_before = std::count(before.out.begin(), before.out.end(), '\n');
    const auto started = std::chrono::steady_clock::now();
    auto r = Pmdb(batch, {}, static_cast<int64_t>(rng_() % static_cast<uint64_t>(batch_us)));
    if (r.exit_code == 0) {
      batch_us = std::min<int64_t>(batch_us, std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::steady_clock::now() - started)
                                                 .count());
    }
    kills += r.signal == SIGKILL;
    const long answers = std::count(r.out.begin(), r.out.end(), '\n');
    shown += static_cast<int>(answers);
    auto after = Pmdb({"audit", "list", "--db", db, "--json"});
    ASSERT_EQ(after.exit_code, 0) << after.err;
    const long entries_after = std::count(after.out.begin(), after.out.end(), '\n');
    EXPECT_GE(entries_after - entries_before, answers) << "kill " << i << ": an answer was shown "
                                                       << "whose audit entry is not durable";
    ASSERT_EQ(Pmdb({"audit", "verify", "--db", db}).exit_code, 0) << "kill " << i;
  }
  std::printf("[kills] query --batch: %d kills, %d answers shown, each with its audit entry\n",
              kills, shown);
  EXPECT_EQ(kills, 40);
}

}  // namespace
}  // namespace pmdb::testing
