// A large ingest is staged in parts (storage::StagedWrite) so that its memory does not grow
// with the file. The store it makes must be the store one batch makes, person for person and
// bit for bit: also when a subject's phenopacket comes again in a later part, when a packet
// updates a person a VCF brought, and when a new person comes twice. And it must stay all or
// nothing when the process is killed while it stages or while it applies.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/reference_files.h"
#include "node/ingest/vcf_ingest.h"
#include "node/storage/keys.h"
#include "pmdb/v1/records.pb.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

namespace keys = storage::keys;
using testing::DumpStore;
using testing::JsonNumber;
using testing::ParseJson;
using testing::Pmdb;
using testing::SharedData;
using testing::TempDir;

// The store's content with ordinals replaced by the subject ids they stand for: a staged
// ingest assigns new people their ordinals part by part, so only who holds what must match.
// The audit log and the data version (random by design) are left out.
std::map<std::string, std::string> ByPerson(const storage::Store& store) {
  std::map<std::string, std::string> dump = DumpStore(store);
  std::map<uint32_t, std::string> who;
  const std::string individuals(1, '0' + static_cast<int>(storage::Family::kIndividuals));
  for (const auto& [k, v] : dump) {
    if (!k.starts_with(individuals)) continue;
    auto ordinal = keys::ParseIndividual(std::string_view(k).substr(1));
    v1::IndividualRecord r;
    if (ordinal && r.ParseFromString(v)) who[*ordinal] = r.subject_id();
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : dump) {
    auto family = static_cast<storage::Family>(k[0] - '0');
    std::string_view key = std::string_view(k).substr(1);
    if (family == storage::Family::kAudit) continue;
    if (family == storage::Family::kMeta &&
        (key == keys::kMetaDataVersion || key == keys::kMetaAuditHead)) {
      continue;
    }
    if (family == storage::Family::kIndividuals) {
      if (auto ordinal = keys::ParseIndividual(key)) {
        out["person " + who[*ordinal]] = v;
      } else {
        out[k] = "an ordinal";  // the subject index: its key names the subject
      }
      continue;
    }
    if (family == storage::Family::kBitmaps) {
      auto bits = storage::Bitmap::Deserialize(v);
      EXPECT_TRUE(bits.ok()) << k;
      std::set<std::string> people;
      for (uint32_t o : bits->ToVector()) people.insert(who.contains(o) ? who[o] : "?");
      std::string list;
      for (const std::string& p : people) list += p + ",";
      out[k] = list;
      continue;
    }
    out[k] = v;
  }
  return out;
}

class StagedIngestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto g = Pmdb({"generate", "--individuals", "300", "--variants", "400", "--seed", "11", "--out",
                   dir_->Path("cohort")});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    // The generated packets, then the first 40 again with another sex (a later packet of the
    // same subject replaces the earlier), and people no VCF brought, one of them twice.
    std::ifstream in(dir_->Path("cohort/phenopackets.jsonl"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_GT(lines.size(), 100u);
    std::ofstream out(dir_->Path("packets.jsonl"));
    auto person = [](int i, const char* sex, const char* dx) {
      return std::string(R"({"subject":{"id":"NEW-)") + std::to_string(i) + R"(","sex":")" + sex +
             R"("},"diseases":[{"term":{"id":"ICD10:)" + dx + R"("}}]})";
    };
    out << person(1, "FEMALE", "C50.9") << "\n";
    for (const std::string& l : lines) out << l << "\n";
    for (size_t i = 0; i < 40; ++i) {
      std::string l = lines[i];
      for (auto [from, to] : {std::pair{"\"MALE\"", "\"OTHER_SEX\""}, {"\"FEMALE\"", "\"MALE\""}}) {
        if (auto at = l.find(from); at != std::string::npos) l.replace(at, strlen(from), to);
      }
      out << l << "\n";
    }
    out << person(2, "MALE", "C61") << "\n" << person(1, "MALE", "C18.7") << "\n";
  }
  static void TearDownTestSuite() { delete dir_; }

  // VCF, then HPO, then the phenopackets; `parts`: small parts, else the defaults.
  std::unique_ptr<storage::Store> Build(const std::string& name, bool parts, uint64_t* vcf_parts,
                                        uint64_t* packet_parts) {
    auto store = testing::OpenOrDie(dir_->Path(name));
    ingest::VcfIngestOptions vcf{dir_->Path("cohort/cohort.vcf.gz"), "syn", "GRCh38"};
    if (parts) vcf.part_bytes = 8 << 10;
    auto v = ingest::IngestVcf(*store, vcf);
    EXPECT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(ingest::RememberReferenceFiles(*store, {SharedData("ontology/hp.obo"), {}}).ok());
    auto p = ingest::IngestPhenopackets(*store, dir_->Path("packets.jsonl"), nullptr,
                                        parts ? 7 : ingest::kSubjectsPerPart);
    EXPECT_TRUE(p.ok()) << p.status();
    if (v.ok()) *vcf_parts = v->parts;
    if (p.ok()) {
      *packet_parts = p->parts;
      EXPECT_EQ(p->individuals_new, 2u) << "NEW-1 and NEW-2";
      EXPECT_EQ(p->individuals_updated, 300u);
      EXPECT_EQ(p->notes["phenopackets replaced by a later one of the same subject"], 41u);
    }
    return store;
  }

  static TempDir* dir_;
};

TempDir* StagedIngestTest::dir_ = nullptr;

TEST_F(StagedIngestTest, PartsMakeTheStoreOneBatchMakes) {
  uint64_t whole_vcf = 0, whole_packets = 0, vcf_parts = 0, packet_parts = 0;
  auto whole = Build("whole", false, &whole_vcf, &whole_packets);
  auto staged = Build("staged", true, &vcf_parts, &packet_parts);
  EXPECT_EQ(whole_vcf, 1u);
  EXPECT_EQ(whole_packets, 2u) << "the packets, then the next ordinal";
  EXPECT_GT(vcf_parts, 10u);
  EXPECT_GT(packet_parts, 40u);
  auto a = ByPerson(*whole);
  auto b = ByPerson(*staged);
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a.size(), b.size());
  size_t differ = 0;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) {
      if (++differ <= 5) ADD_FAILURE() << "differs: " << k;
    }
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(b.count("person NEW-1"), 1u);
}

// Killed while parts are staged: as if it never ran. Killed while they are applied: finished
// when the store is next opened, before any question is answered.
TEST_F(StagedIngestTest, AKilledStagedIngestIsAllOrNothing) {
  const std::string db = dir_->Path("killed");
  auto first = Pmdb({"ingest", "--db", db, "--vcf", dir_->Path("cohort/cohort.vcf.gz"), "--dataset",
                     "syn", "--assembly", "GRCh38", "--hpo", SharedData("ontology/hp.obo")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::map<std::string, std::string> before;
  { before = DumpStore(*testing::OpenOrDie(db, false)); }
  const std::vector<std::string> ingest = {
      "ingest",        "--db", db,      "--phenopackets", dir_->Path("packets.jsonl"),
      "--part-people", "25",   "--json"};
  auto staging = Pmdb(ingest, {"PMDB_CRASH_AT=ingest.before_commit"});
  EXPECT_EQ(staging.signal, SIGKILL);
  EXPECT_EQ(DumpStore(*testing::OpenOrDie(db, false)), before)
      << "the staged parts are gone, nothing else changed";

  auto applying = Pmdb(ingest, {"PMDB_CRASH_AT=staged.between_parts"});
  EXPECT_EQ(applying.signal, SIGKILL);
  auto q = Pmdb({"query", "--db", db, "--json", "dx(C18)"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  uint64_t whole_vcf = 0, whole_packets = 0;
  auto reference = Build("reference", false, &whole_vcf, &whole_packets);
  {
    auto store = testing::OpenOrDie(db, false);
    EXPECT_EQ(ByPerson(*store), ByPerson(*reference)) << "the whole ingest, finished on open";
  }
  auto again = Pmdb({"ingest", "--db", db, "--phenopackets", dir_->Path("packets.jsonl"),
                     "--part-people", "25", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GT(JsonNumber(ParseJson(again.out), "parts"), 10) << again.out;
}

TEST_F(StagedIngestTest, PartSizesAreCheckedAndOnlyForALocalStore) {
  auto zero = Pmdb({"ingest", "--db", dir_->Path("x"), "--phenopackets",
                    dir_->Path("packets.jsonl"), "--part-people", "0"});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("--part-people takes a whole number"), std::string::npos) << zero.err;
  auto node = Pmdb({"ingest", "--node", "127.0.0.1:1", "--phenopackets",
                    dir_->Path("packets.jsonl"), "--part-mb", "8"});
  EXPECT_EQ(node.exit_code, 2);
  EXPECT_NE(node.err.find("--part-mb is for --db"), std::string::npos) << node.err;
  EXPECT_FALSE(std::filesystem::exists(dir_->Path("x")));
}

}  // namespace
}  // namespace pmdb
