// An operator's work on a running node, through the command line and an operator's certificate:
// ingest (VCF and Phenopackets, streamed), opt-outs and info, while the node keeps answering and
// without ever stopping it.
#include <gtest/gtest.h>

#include "node/base/strings.h"
#include "security/ca.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

std::vector<std::string> CertsOf(const Federation& fed, const std::string& prefix) {
  return {"PMDB_CERT=" + fed.dir().Path(prefix + ".crt"),
          "PMDB_KEY=" + fed.dir().Path(prefix + ".key"), "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
}

std::string Woman(const std::string& id) {
  return StrCat(R"({"id":"p-)", id, R"(","subject":{"id":")", id,
                R"(","sex":"FEMALE","timeAtLastEncounter":{"age":{"iso8601duration":"P40Y"}}},)",
                R"("metaData":{"submittedBy":"Test"}})", "\n");
}

class OnlineOperations : public ::testing::Test {
 protected:
  void SetUp() override {
    fed_.StartNodes();
    node_ = StrCat("127.0.0.1:", fed_.node_port("vast"));
    olle_ = CertsOf(fed_, "olle");
  }

  // An exact count on the running node, as its operator.
  uint64_t Count(const std::string& expr, const std::string& purpose = "research") {
    auto r = Pmdb({"query", "--node", node_, "--purpose", purpose, "--json", expr}, olle_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? static_cast<uint64_t>(JsonNumber(ParseJson(r.out), "count.low"))
                            : ~0ull;
  }

  Federation fed_{60};
  std::string node_;
  std::vector<std::string> olle_;
};

TEST_F(OnlineOperations, IngestOptOutsAndInfoReachARunningNode) {
  auto info = Pmdb({"info", "--node", node_, "--json"}, olle_);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto before = ParseJson(info.out);
  EXPECT_EQ(JsonString(before, "node.region"), "vast") << info.out;
  EXPECT_EQ(JsonNumber(before, "individuals"), 60);
  EXPECT_GT(JsonNumber(before, "node.audit_entries"), 0);
  EXPECT_EQ(JsonString(before, "datasets.0.id"), "syn");
  // The store itself is the node's while it runs: --db says where to go instead.
  auto held = Pmdb({"info", "--db", fed_.db("vast")});
  EXPECT_EQ(held.exit_code, 1);
  EXPECT_NE(held.err.find("--node"), std::string::npos) << held.err;

  const uint64_t women = Count("sex(F)");
  const uint64_t women_care = Count("sex(F)", "care");
  WriteFile(fed_.dir().Path("new.jsonl"), Woman("NEW-1") + Woman("NEW-2") + Woman("NEW-3"));
  auto packets = Pmdb(
      {"ingest", "--node", node_, "--phenopackets", fed_.dir().Path("new.jsonl"), "--json"}, olle_);
  ASSERT_EQ(packets.exit_code, 0) << packets.err;
  EXPECT_EQ(JsonNumber(ParseJson(packets.out), "individuals_new"), 3) << packets.out;
  EXPECT_EQ(Count("sex(F)"), women + 3) << "the next question sees the new records";

  auto vcf = Pmdb({"ingest", "--node", node_, "--vcf", SharedData("vcf/1kg_chr22_5samples.vcf.gz"),
                   "--dataset", "kg", "--assembly", "GRCh37"},
                  olle_);
  ASSERT_EQ(vcf.exit_code, 0) << vcf.err;
  EXPECT_NE(vcf.out.find("5 new"), std::string::npos) << vcf.out;
  EXPECT_EQ(Count("dataset(kg)"), 5u);

  // A broken file is refused whole, named as the operator knows it.
  auto broken =
      Pmdb({"ingest", "--node", node_, "--vcf", SharedData("vcf/edge/no_FORMAT_column.vcf"),
            "--dataset", "kg2", "--assembly", "GRCh37"},
           olle_);
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("no_FORMAT_column.vcf: no sample columns"), std::string::npos)
      << broken.err;
  EXPECT_NE(broken.err.find("(nothing was stored)"), std::string::npos) << broken.err;

  // Opt-outs: one subject leaves every purpose (deleted), one leaves research only.
  WriteFile(fed_.dir().Path("optout.txt"), "NEW-1\nNEW-2 research\n");
  auto consent = Pmdb(
      {"consent", "--node", node_, "--withdraw", fed_.dir().Path("optout.txt"), "--json"}, olle_);
  ASSERT_EQ(consent.exit_code, 0) << consent.err;
  auto c = ParseJson(consent.out);
  EXPECT_EQ(JsonNumber(c, "lines"), 2);
  EXPECT_EQ(JsonNumber(c, "removed"), 1);
  EXPECT_EQ(JsonNumber(c, "withdrawn_research"), 1);
  EXPECT_EQ(Count("sex(F)"), women + 1) << "effective on the next question";
  EXPECT_EQ(Count("sex(F)", "care"), women_care + 2) << "NEW-2 left research only";
  WriteFile(fed_.dir().Path("bad.txt"), "NEW-3 shopping\n");
  auto bad = Pmdb({"consent", "--node", node_, "--withdraw", fed_.dir().Path("bad.txt")}, olle_);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(fed_.dir().Path("bad.txt") + ":1: unknown purpose 'shopping'"),
            std::string::npos)
      << bad.err;

  auto after = ParseJson(Pmdb({"info", "--node", node_, "--json"}, olle_).out);
  EXPECT_EQ(JsonNumber(after, "individuals"), 60 + 3 + 5 - 1);
  EXPECT_EQ(JsonString(after, "datasets.0.id"), "kg");

  // Every one of these is the operator's and audited at the node, without a subject id.
  grpc::ClientContext ctx;
  v1::AuditListReply log;
  ASSERT_TRUE(fed_.Admin("olle", "vast")->AuditList(&ctx, v1::AuditListRequest(), &log).ok());
  int ingests = 0, consents = 0;
  for (const v1::AuditEntry& e : log.entries()) {
    ingests += e.method() == "AdminService/Ingest";
    consents += e.method() == "AdminService/Consent";
    EXPECT_EQ(e.DebugString().find("NEW-"), std::string::npos) << e.DebugString();
  }
  EXPECT_EQ(ingests, 3);
  EXPECT_EQ(consents, 2);
}

TEST_F(OnlineOperations, OnlyTheRegionsOperatorsMayChangeIt) {
  WriteFile(fed_.dir().Path("new.jsonl"), Woman("NEW-9"));
  auto anna = Pmdb({"ingest", "--node", node_, "--phenopackets", fed_.dir().Path("new.jsonl")},
                   CertsOf(fed_, "anna"));
  EXPECT_EQ(anna.exit_code, 1);
  EXPECT_NE(anna.err.find("belongs to no region"), std::string::npos) << anna.err;
  auto usage = Pmdb({"ingest", "--node", node_, "--phenopackets", fed_.dir().Path("new.jsonl"),
                     "--hpo", "hp.obo"},
                    olle_);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--hpo, --genes and --icd10 go into the store with --db"),
            std::string::npos)
      << usage.err;
  auto both = Pmdb({"info", "--node", node_, "--db", fed_.db("vast")}, olle_);
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("give exactly one of --db and --node"), std::string::npos) << both.err;
}

// A backup of the running node, while it answers, restored and proved into a new store that
// answers the same, with an intact audit chain.
TEST_F(OnlineOperations, ABackupOfARunningNodeRestoresToTheSameAnswers) {
  const uint64_t women = Count("sex(F)");
  const std::string backups = fed_.dir().Path("backups");
  auto made = Pmdb({"backup", "--node", node_, "--to", backups, "--json"}, olle_);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto m = ParseJson(made.out);
  EXPECT_EQ(JsonNumber(m, "backup_id"), 1);
  EXPECT_EQ(JsonNumber(m, "individuals"), 60);
  WriteFile(fed_.dir().Path("new.jsonl"), Woman("NEW-7"));
  ASSERT_EQ(Pmdb({"ingest", "--node", node_, "--phenopackets", fed_.dir().Path("new.jsonl")}, olle_)
                .exit_code,
            0);
  auto again = Pmdb({"backup", "--node", node_, "--to", backups, "--json"}, olle_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(JsonNumber(ParseJson(again.out), "backup_id"), 2);
  auto list = Pmdb({"backup", "--list", backups});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("backup 2"), std::string::npos) << list.out;

  const std::string restored = fed_.dir().Path("restored.db");
  auto r = Pmdb({"restore", "--from", backups, "--id", "1", "--to", restored, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(JsonBool(ParseJson(r.out), "verified"));
  EXPECT_EQ(JsonString(ParseJson(r.out), "digest"), JsonString(m, "digest"));
  auto count = Pmdb({"query", "--db", restored, "--json", "sex(F)"});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(JsonNumber(ParseJson(count.out), "count.low"), static_cast<double>(women));
  auto verify = Pmdb({"audit", "verify", "--db", restored});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto relative = Pmdb({"backup", "--node", node_, "--to", "backups"}, olle_);
  EXPECT_EQ(relative.exit_code, 2);
  EXPECT_NE(relative.err.find("absolute path on the node's machine"), std::string::npos);
}

// What goes wrong between an operator's command and a node is said in plain words, with gRPC's
// own text after it for whoever needs it.
TEST(PlainErrorsTest, ConnectionAndCertificateProblemsAreSaidPlainly) {
  Federation fed(30, 5);
  fed.StartNodes();
  const std::string node = StrCat("127.0.0.1:", fed.node_port("vast"));
  // A CA file that did not sign the node's certificate.
  auto other = security::CertificateAuthority::Init(fed.dir().Path("other-ca"), kFederation, 30);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      other
          ->Issue({.identity = "spiffe://test-fed/region/vast/operator/eve"}, fed.dir().Path("eve"))
          .ok());
  std::vector<std::string> wrong_ca = {"PMDB_CERT=" + fed.dir().Path("olle.crt"),
                                       "PMDB_KEY=" + fed.dir().Path("olle.key"),
                                       "PMDB_CA=" + fed.dir().Path("other-ca/ca.crt")};
  auto r = Pmdb({"info", "--node", node}, wrong_ca);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the server's certificate is not signed by the CA file you gave"),
            std::string::npos)
      << r.err;
  // A client certificate from another CA: the node refuses it.
  std::vector<std::string> foreign = {"PMDB_CERT=" + fed.dir().Path("eve.crt"),
                                      "PMDB_KEY=" + fed.dir().Path("eve.key"),
                                      "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  r = Pmdb({"info", "--node", node}, foreign);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused your certificate"), std::string::npos) << r.err;
  // Nothing listening.
  std::vector<std::string> olle = {"PMDB_CERT=" + fed.dir().Path("olle.crt"),
                                   "PMDB_KEY=" + fed.dir().Path("olle.key"),
                                   "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  fed.StopNode("vast");
  r = Pmdb({"info", "--node", node}, olle);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing answers at " + node), std::string::npos) << r.err;
}

// A region's own limits on one question ([limits] in its configuration): over them, a question
// is refused before any data is read, saying which limit.
TEST(QuestionLimitsTest, ANodeAppliesItsConfiguredLimits) {
  Federation fed(30, 5);
  fed.Issue("region/syd/operator/otto", "otto");
  const std::string toml = fed.ChildNodeConfig(
      "syd",
      "[log]\nformat = \"off\"\n"
      "[limits]\nmax_criteria = 3\nmax_nesting = 4\nmax_question_bytes = 300\n");
  ChildProcess child({"node", "--config", toml});
  ASSERT_GT(child.port(), 0);
  std::vector<std::string> otto = {"PMDB_CERT=" + fed.dir().Path("otto.crt"),
                                   "PMDB_KEY=" + fed.dir().Path("otto.key"),
                                   "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  const std::string node = StrCat("127.0.0.1:", child.port());
  auto ask = [&](const std::string& expr) { return Pmdb({"query", "--node", node, expr}, otto); };
  EXPECT_EQ(ask("sex(F) AND age(40-60) AND dx(C50)").exit_code, 0);
  auto many = ask("sex(F) AND age(40-60) AND dx(C50) AND treatment(L01)");
  EXPECT_EQ(many.exit_code, 1);
  EXPECT_NE(many.err.find("a question has at most 3 criteria"), std::string::npos) << many.err;
  auto deep = ask("NOT (NOT (NOT (NOT (NOT sex(F)))))");
  EXPECT_EQ(deep.exit_code, 1);
  EXPECT_NE(deep.err.find("nests at most 4"), std::string::npos) << deep.err;
  auto long_one = ask("dataset(" + std::string(400, 'a') + ")");
  EXPECT_EQ(long_one.exit_code, 1);
  EXPECT_NE(long_one.err.find("at most 300 bytes"), std::string::npos) << long_one.err;
}

}  // namespace
}  // namespace pmdb::testing
