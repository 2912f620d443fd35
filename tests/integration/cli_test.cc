// The pmdb command line as a user meets it: help, errors and exit codes, JSON output, batches,
// and a generated cohort ingested and queried end to end.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::JsonAt;
using testing::JsonBool;
using testing::JsonNumber;
using testing::JsonString;
using testing::ParseJson;
using testing::Pmdb;
using testing::PmdbBinary;
using testing::ReadFile;
using testing::SharedData;
using testing::TempDir;
using testing::WriteFile;

TEST(CliTest, HelpTeachesEveryCommand) {
  auto top = Pmdb({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (std::string cmd : {"ingest", "query", "consent", "info", "generate", "ca"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    auto help = Pmdb({cmd, "--help"});
    EXPECT_EQ(help.exit_code, 0) << cmd;
    EXPECT_NE(help.out.find("usage: pmdb " + cmd), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("examples:"), std::string::npos) << cmd;
  }
}

TEST(CliTest, UsageErrorsExitTwo) {
  auto unknown = Pmdb({"query", "--db", "x", "--frobnicate", "sex(F)"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown flag --frobnicate"), std::string::npos);
  EXPECT_EQ(Pmdb({"fly"}).exit_code, 2);
  auto both = Pmdb({"ingest", "--db", "x", "--vcf", "a", "--phenopackets", "b"});
  EXPECT_EQ(both.exit_code, 2);
}

TEST(CliTest, MissingStoreExitsOneWithAHint) {
  TempDir dir;
  auto r = Pmdb({"query", "--db", dir.Path("nothing"), "sex(F)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no pmdb store"), std::string::npos) << r.err;
}

TEST(CliTest, IngestShowsABarOnATerminalAndLinesElsewhere) {
  TempDir dir;
  std::string ingest = PmdbBinary() + " ingest --db " + dir.Path("tty.db") + " --vcf " +
                       SharedData("vcf/1kg_phase1_629samples.vcf.gz") +
                       " --dataset kg --assembly GRCh37";
  // `script` gives the command a pseudo-terminal, as a person at a shell would.
  auto tty = testing::Run({"script", "-qec", ingest, "/dev/null"});
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_NE(tty.out.find("ingesting [##############################] 100%"), std::string::npos)
      << tty.out;
  auto piped = Pmdb({"ingest", "--db", dir.Path("pipe.db"), "--vcf",
                     SharedData("vcf/1kg_phase1_629samples.vcf.gz"), "--dataset", "kg",
                     "--assembly", "GRCh37"});
  ASSERT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.err.find("ingesting ["), std::string::npos) << "no bar into a pipe";
  EXPECT_NE(piped.out.find("629 new"), std::string::npos);
  // Into a log (here every moment instead of every 10 s): whole lines with a rate and the time
  // left.
  auto logged = Pmdb(
      {"ingest", "--db", dir.Path("log.db"), "--vcf",
       SharedData("vcf/1kg_phase1_629samples.vcf.gz"), "--dataset", "kg", "--assembly", "GRCh37"},
      {"PMDB_PROGRESS_SECONDS=0"});
  ASSERT_EQ(logged.exit_code, 0) << logged.err;
  EXPECT_TRUE(logged.err.starts_with("pmdb: ingesting ")) << logged.err;
  EXPECT_NE(logged.err.find(" records, "), std::string::npos) << logged.err;
  EXPECT_NE(logged.err.find("/s\n"), std::string::npos);
  EXPECT_EQ(logged.err.find('\r'), std::string::npos) << "no redrawing in a log";
  // Longer work with a known total also says how long is left.
  auto generated =
      Pmdb({"generate", "--individuals", "100", "--variants", "3000", "--out", dir.Path("cohort")},
           {"PMDB_PROGRESS_SECONDS=0"});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_NE(generated.err.find("pmdb: generating "), std::string::npos) << generated.err;
  EXPECT_NE(generated.err.find(" s left\n"), std::string::npos) << generated.err.substr(0, 2000);
}

TEST(CliTest, AServerWithoutAPortIsRefused) {
  for (const char* where : {"localhost", "localhost:", "localhost:0", "localhost:99999", "[::1]"}) {
    auto r = Pmdb({"query", "--node", where, "sex(F)"});
    EXPECT_EQ(r.exit_code, 2) << where;
    EXPECT_NE(r.err.find("needs a port: HOST:PORT"), std::string::npos) << where << ": " << r.err;
  }
  auto hub = Pmdb({"info", "--node", "pmdb-vast.region.se"});
  EXPECT_NE(hub.err.find("--node pmdb-vast.region.se needs a port"), std::string::npos) << hub.err;
}

TEST(CliTest, VersionNamesPmdbAndItsLibraries) {
  auto r = Pmdb({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("pmdb 0.", 0), 0u) << r.out;
  for (const char* library : {"RocksDB ", "gRPC ", "OpenSSL ", "htslib "}) {
    EXPECT_NE(r.out.find(library), std::string::npos) << library << " in " << r.out;
  }
  EXPECT_EQ(Pmdb({"version"}).out, r.out);
}

TEST(CliTest, AFailedFirstIngestLeavesNoStore) {
  TempDir dir;
  auto r =
      Pmdb({"ingest", "--db", dir.Path("new.db"), "--vcf",
            SharedData("vcf/edge/no_FORMAT_column.vcf"), "--dataset", "d", "--assembly", "GRCh37"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no_FORMAT_column.vcf: no sample columns"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(nothing was stored)"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.Path("new.db")));
}

TEST(CliTest, GenerateIsDeterministicPerSeed) {
  TempDir dir;
  for (std::string out : {"a", "b", "c"}) {
    std::string seed = out == "c" ? "8" : "7";
    auto r = Pmdb({"generate", "--individuals", "50", "--variants", "40", "--seed", seed, "--out",
                   dir.Path(out)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(ReadFile(dir.Path("a/phenopackets.jsonl")), ReadFile(dir.Path("b/phenopackets.jsonl")));
  auto plain = [&](const std::string& d) {
    return testing::Run({"bash", "-c", "zcat " + dir.Path(d) + "/cohort.vcf.gz"}).out;
  };
  EXPECT_EQ(plain("a"), plain("b"));
  EXPECT_NE(plain("a"), plain("c"));
  EXPECT_NE(ReadFile(dir.Path("a/phenopackets.jsonl")), ReadFile(dir.Path("c/phenopackets.jsonl")));
}

// What an operator does to a store with the command line is audited in that store, as it is
// through the node: ingests, questions (refused ones too), similar-case searches and opt-outs,
// under the local user's name, and never with a subject id.
// A region that gives its ICD-10 code list (issue 27) hears about codes outside it: counted at
// ingest, warned about in questions (the code is still answered as written), shown by info.
TEST(CliTest, CodesOutsideTheRegionsIcd10ListAreWarnedAbout) {
  TempDir dir;
  WriteFile(dir.Path("icd10.txt"), "# the region's list\nC50.9\tBreast, unspecified\nE10\n");
  auto packet = [](const std::string& id, const std::string& code) {
    return "{\"id\":\"" + id + "\",\"subject\":{\"id\":\"" + id +
           "\",\"sex\":\"FEMALE\"},\"diseases\":[{\"term\":{\"id\":\"ICD10:" + code +
           "\"}}],\"metaData\":{\"submittedBy\":\"t\"}}\n";
  };
  WriteFile(dir.Path("p.jsonl"), packet("A", "C50.9") + packet("B", "C50.8") + packet("C", "E10"));
  const std::string db = dir.Path("db");
  auto bad = Pmdb({"ingest", "--db", db, "--phenopackets", dir.Path("p.jsonl"), "--icd10",
                   dir.Path("p.jsonl")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("p.jsonl:1: "), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "a refused first ingest leaves no store";

  auto in = Pmdb({"ingest", "--db", db, "--phenopackets", dir.Path("p.jsonl"), "--icd10",
                  dir.Path("icd10.txt"), "--json"});
  ASSERT_EQ(in.exit_code, 0) << in.err;
  auto summary = ParseJson(in.out);
  EXPECT_EQ(JsonNumber(JsonAt(summary, "notes"),
                       "ICD-10 codes not in the region's code list (indexed as given)"),
            1);

  auto known = Pmdb({"query", "--db", db, "dx(C50.9) OR dx(E)"});
  ASSERT_EQ(known.exit_code, 0) << known.err;
  EXPECT_EQ(known.err.find("warning"), std::string::npos) << known.err;
  auto unknown = Pmdb({"query", "--db", db, "dx(C50.8)"});
  ASSERT_EQ(unknown.exit_code, 0) << unknown.err;
  EXPECT_NE(unknown.err.find("warning: diagnosis(C508): not in the region's ICD-10 code list "
                             "(icd10.txt)"),
            std::string::npos)
      << unknown.err;
  auto answered = Pmdb({"query", "--db", db, "--json", "dx(C50.8)"});
  EXPECT_EQ(JsonNumber(ParseJson(answered.out), "count.low"), 1) << "answered as written";

  auto info = Pmdb({"info", "--db", db});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("ICD-10 list  2 codes, icd10.txt"), std::string::npos) << info.out;
}

TEST(CliTest, EverythingThatTouchesAStoreLocallyIsAudited) {
  TempDir dir;
  auto g = Pmdb({"generate", "--individuals", "60", "--variants", "20", "--seed", "3", "--out",
                 dir.Path("gen"), "--id-prefix", "AUD"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::string db = dir.Path("db");
  ASSERT_EQ(Pmdb({"ingest", "--db", db, "--vcf", dir.Path("gen/cohort.vcf.gz"), "--dataset", "syn",
                  "--assembly", "GRCh38"})
                .exit_code,
            0);
  ASSERT_EQ(Pmdb({"ingest", "--db", db, "--phenopackets", dir.Path("gen/phenopackets.jsonl"),
                  "--hpo", SharedData("ontology/hp.obo")})
                .exit_code,
            0);
  ASSERT_EQ(Pmdb({"query", "--db", db, "sex(F)"}).exit_code, 0);
  ASSERT_EQ(Pmdb({"query", "--db", db, "sex(F) AND AND"}).exit_code, 1);
  WriteFile(dir.Path("case.json"),
            R"({"id": "q", "phenotypicFeatures": [{"type": {"id": "HP:0001250"}}]})");
  auto similar = Pmdb({"similar", "--db", db, "--case", dir.Path("case.json")});
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  WriteFile(dir.Path("optout.txt"), "AUD000001\n");
  ASSERT_EQ(Pmdb({"consent", "--db", db, "--withdraw", dir.Path("optout.txt")}).exit_code, 0);

  auto list = Pmdb({"audit", "list", "--db", db, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<std::string> methods;
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    auto e = ParseJson(line);
    methods.push_back(JsonString(e, "method") + " " + JsonString(e, "outcome"));
    EXPECT_EQ(JsonString(e, "caller").rfind("local:", 0), 0u) << line;
    EXPECT_EQ(JsonString(e, "role"), "operator");
  }
  EXPECT_EQ(methods, (std::vector<std::string>{"Local/Ingest ok", "Local/Ingest ok",
                                               "Local/Count ok", "Local/Count INVALID_ARGUMENT",
                                               "Local/SimilarCases ok", "Local/Consent ok"}))
      << list.out;
  EXPECT_EQ(list.out.find("AUD0000"), std::string::npos) << "no subject id in the log";
  EXPECT_EQ(Pmdb({"audit", "verify", "--db", db}).exit_code, 0);
}

class CliCohortTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto g = Pmdb({"generate", "--individuals", "400", "--variants", "300", "--seed", "11", "--out",
                   dir_->Path("gen"), "--id-prefix", "T"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    auto v = Pmdb({"ingest", "--db", db(), "--vcf", dir_->Path("gen/cohort.vcf.gz"), "--dataset",
                   "syn", "--assembly", "GRCh38", "--json"});
    ASSERT_EQ(v.exit_code, 0) << v.err;
    vcf_summary_ = v.out;
    auto p = Pmdb({"ingest", "--db", db(), "--phenopackets", dir_->Path("gen/phenopackets.jsonl"),
                   "--hpo", SharedData("ontology/hp.obo")});
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string db() { return dir_->Path("db"); }

  // Counts lines of the generated phenopackets that contain every needle: an independent
  // reading of the input, not through pmdb.
  static uint64_t CountPackets(const std::vector<std::string>& needles) {
    std::ifstream in(dir_->Path("gen/phenopackets.jsonl"));
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line)) {
      bool all = true;
      for (const std::string& needle : needles) all &= line.find(needle) != std::string::npos;
      n += all;
    }
    return n;
  }

  static TempDir* dir_;
  static std::string vcf_summary_;
};
TempDir* CliCohortTest::dir_ = nullptr;
std::string CliCohortTest::vcf_summary_;

TEST_F(CliCohortTest, IngestSummaryIsJson) {
  EXPECT_NE(vcf_summary_.find("\"individuals_new\":400"), std::string::npos) << vcf_summary_;
  EXPECT_NE(vcf_summary_.find("\"variants\":300"), std::string::npos);
}

TEST_F(CliCohortTest, CountsMatchTheInputFiles) {
  auto females = Pmdb({"query", "--db", db(), "--json", "sex(F)"});
  ASSERT_EQ(females.exit_code, 0) << females.err;
  // The one JSON shape of an answer (docs/json.md): a store's exact answer, no regions.
  auto f = ParseJson(females.out);
  EXPECT_EQ(JsonString(f, "query"), "sex(F)");
  EXPECT_EQ(JsonString(f, "kind"), "count");
  EXPECT_EQ(JsonNumber(f, "count.low"), CountPackets({"\"FEMALE\""})) << females.out;
  EXPECT_EQ(JsonNumber(f, "count.high"), CountPackets({"\"FEMALE\""}));
  EXPECT_TRUE(JsonBool(f, "count.exact"));
  EXPECT_TRUE(JsonBool(f, "disclosure.exact"));
  EXPECT_FALSE(JsonBool(f, "partial"));
  EXPECT_TRUE(JsonAt(f, "regions").has_list_value());
  EXPECT_EQ(JsonAt(f, "regions").list_value().values_size(), 0);
  EXPECT_TRUE(JsonAt(f, "warnings").has_list_value());
  EXPECT_EQ(testing::JsonKeys(f), testing::CountAnswerKeys());
  auto breast = Pmdb({"query", "--db", db(), "--json", "dx(C50) AND sex(F)"});
  EXPECT_EQ(JsonNumber(ParseJson(breast.out), "count.low"),
            CountPackets({"ICD10:C50", "\"FEMALE\""}))
      << breast.out;
  auto text = Pmdb({"query", "--db", db(), "dx(C61)"});
  EXPECT_EQ(text.out, std::to_string(CountPackets({"ICD10:C61"})) + " individuals match dx(C61)\n");
}

TEST_F(CliCohortTest, ParseErrorsShowWhere) {
  auto r = Pmdb({"query", "--db", db(), "sex(F) AND AND dx(C50)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "pmdb query: column 12: expected a criterion before AND\n"
            "  sex(F) AND AND dx(C50)\n             ^\n");
}

TEST_F(CliCohortTest, BatchAnswersInOrderAndReportsBadLines) {
  WriteFile(dir_->Path("batch.txt"), "sex(F)\n# a comment\nbogus(\nsex(M)\n");
  auto r = Pmdb({"query", "--db", db(), "--batch", dir_->Path("batch.txt")});
  EXPECT_EQ(r.exit_code, 1);  // one line failed
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(JsonString(ParseJson(lines[0]), "query"), "sex(F)");
  EXPECT_EQ(JsonString(ParseJson(lines[1]), "query"), "bogus(");
  EXPECT_EQ(JsonString(ParseJson(lines[1]), "error.code"), "invalid_argument") << lines[1];
  EXPECT_NE(JsonString(ParseJson(lines[1]), "error.message").find("column"), std::string::npos);
  EXPECT_EQ(JsonString(ParseJson(lines[2]), "query"), "sex(M)");
}

TEST_F(CliCohortTest, BreakdownAndFrequencyJson) {
  auto b = Pmdb({"query", "--db", db(), "--json", "--breakdown", "sex,age_band", "dataset(syn)"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("\"dimensions\":[\"sex\",\"age_band\"]"), std::string::npos);
  EXPECT_NE(b.out.find("{\"sex\":\"F\",\"age_band\":\"60-69\",\"count\":{\"low\":"),
            std::string::npos)
      << b.out;
  EXPECT_FALSE(JsonBool(ParseJson(b.out), "breakdown.cells.0.suppressed"));
  std::string first_variant =
      testing::Run({"bash", "-c",
                    "zcat " + dir_->Path("gen/cohort.vcf.gz") +
                        " | grep -v '^#' | head -1 | cut -f2,4,5 | tr '\\t' ':'"})
          .out;
  first_variant.pop_back();
  auto f = Pmdb(
      {"query", "--db", db(), "--json", "--frequency", "variant(GRCh38:22:" + first_variant + ")"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  auto fj = ParseJson(f.out);
  EXPECT_GT(JsonNumber(fj, "an.low"), 0) << f.out;
  EXPECT_TRUE(JsonBool(fj, "af.exact"));
  EXPECT_DOUBLE_EQ(JsonNumber(fj, "af.low"), JsonNumber(fj, "ac.low") / JsonNumber(fj, "an.low"));
}

TEST_F(CliCohortTest, InfoDescribesTheStore) {
  auto r = Pmdb({"info", "--db", db(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"individuals\":400"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"id\":\"syn\",\"assembly\":\"GRCh38\""), std::string::npos);
  EXPECT_NE(r.out.find("releases/2015-01-27"), std::string::npos);
  EXPECT_NE(r.out.find("\"gene_tables\":[]"), std::string::npos) << "none remembered yet";
  // A question with --genes remembers the table; info then names it.
  auto q = Pmdb({"query", "--db", db(), "--genes", "GRCh38=" + SharedData("genes_grch38.tsv"),
                 "gene(BRCA2)"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  r = Pmdb({"info", "--db", db(), "--json"});
  auto j = ParseJson(r.out);
  EXPECT_EQ(JsonString(j, "gene_tables.0.assembly"), "GRCh38") << r.out;
  EXPECT_GT(JsonNumber(j, "gene_tables.0.genes"), 10000);
  auto text = Pmdb({"info", "--db", db()});
  EXPECT_NE(text.out.find("  gene table   GRCh38  "), std::string::npos) << text.out;
}

}  // namespace
}  // namespace pmdb
