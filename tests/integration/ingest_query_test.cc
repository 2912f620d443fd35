// Ingest through to query with real RocksDB stores: normalization, multi-allelic splitting,
// filters, symbolic alleles, phenopackets joined to genotypes, assemblies kept apart.
#include <filesystem>

#include "gtest/gtest.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/reference_files.h"
#include "node/ingest/vcf_ingest.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tests/integration/fixtures.h"
#include "tests/test_util.h"

namespace pmdb {
namespace {

using testing::DumpStore;
using testing::SharedData;
using testing::TempDir;
using testing::WriteFile;

class IngestQueryTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    WriteFile(dir_.Path("four.vcf"), testing::kFourSampleVcf);
    WriteFile(dir_.Path("packets.jsonl"), testing::kThreePhenopackets);
  }

  absl::StatusOr<ingest::IngestSummary> IngestFour(bool include_filtered = false) {
    ingest::VcfIngestOptions o{dir_.Path("four.vcf"), "wgs", "GRCh38"};
    o.include_filtered = include_filtered;
    return ingest::IngestVcf(*store_, o);
  }

  absl::Status LoadHpo() {
    return ingest::RememberReferenceFiles(*store_, {SharedData("ontology/hp.obo"), {}});
  }

  uint64_t Count(std::string_view text, v1::Purpose purpose = v1::RESEARCH) {
    auto view = store_->Snapshot();
    auto catalog = vocab::Catalog::Load(*view);
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    auto c = query::ParseCriterion(text);
    EXPECT_TRUE(c.ok()) << c.status();
    auto r = query::Engine(*catalog).Count(*view, *c, purpose);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->value : ~0ull;
  }

  query::AlleleFrequency Frequency(std::string_view text) {
    auto view = store_->Snapshot();
    auto catalog = vocab::Catalog::Load(*view);
    auto r = query::Engine(*catalog, query::Engine::kExact)
                 .Frequency(*view, *query::ParseCriterion(text), v1::RESEARCH);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->value : query::AlleleFrequency{};
  }
};

TEST_F(IngestQueryTest, MultiAllelicRecordsSplitAndTrim) {
  auto s = IngestFour();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->individuals_new, 4u);
  EXPECT_EQ(s->variants, 3u);  // T>C, the deletion, <DEL>; the filtered record is skipped
  EXPECT_EQ(s->skipped.begin()->second, 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)"), 2u);         // P1 het, P2 het
  EXPECT_EQ(Count("variant(GRCh38:chr1:100:GTT:GCT)"), 2u);  // same key, padded
  EXPECT_EQ(Count("variant(GRCh38:1:100:GTT:G,hom)"), 1u);   // P3
  EXPECT_EQ(Count("variant(GRCh38:1:100:GTT:G,het)"), 1u);   // P2 (1/2)
  EXPECT_EQ(Count("variant(GRCh38:1:200:A:C)"), 0u);
  EXPECT_EQ(Count("variant(GRCh38:1:300:T:<DEL>,hom)"), 1u);
  // The split alleles share the site's AN: P4 is a no-call.
  EXPECT_EQ(Frequency("variant(GRCh38:1:101:T:C)").an, 6u);
  EXPECT_EQ(Frequency("variant(GRCh38:1:101:T:C)").ac, 2u);
  EXPECT_EQ(Frequency("variant(GRCh38:1:100:GTT:G)").ac, 3u);
}

TEST_F(IngestQueryTest, BcfAndBgzippedVcfGiveTheSameStore) {
  ASSERT_TRUE(IngestFour().ok());
  auto expected = DumpStore(*store_);
  for (std::string format : {"b", "z"}) {
    std::string file = dir_.Path("four." + format);
    auto r = testing::Run({"bcftools", "view", "-O" + format, "-o", file, dir_.Path("four.vcf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    TempDir other;
    auto store = testing::OpenOrDie(other.Path("db"));
    auto s = ingest::IngestVcf(*store, {file, "wgs", "GRCh38"});
    ASSERT_TRUE(s.ok()) << format << ": " << s.status();
    auto got = DumpStore(*store);
    // Everything but the dataset record, which names its source file, and the data version,
    // which is drawn afresh by every write, is identical.
    auto unequal = [](const auto& kv) {
      return kv.first.find("dataset/") != std::string::npos ||
             kv.first.find("data_version") != std::string::npos;
    };
    std::erase_if(got, unequal);
    auto want = expected;
    std::erase_if(want, unequal);
    EXPECT_EQ(got, want) << format;
  }
}

TEST_F(IngestQueryTest, PhenopacketsFromADirectory) {
  ASSERT_TRUE(LoadHpo().ok());
  std::filesystem::create_directories(dir_.Path("packets"));
  WriteFile(dir_.Path("packets/a.json"), R"({"subject":{"id":"A","sex":"FEMALE"}})");
  WriteFile(dir_.Path("packets/b.jsonl"),
            "{\"subject\":{\"id\":\"B\",\"sex\":\"MALE\"}}\n"
            "{\"subject\":{\"id\":\"C\",\"sex\":\"FEMALE\"}}\n");
  WriteFile(dir_.Path("packets/notes.txt"), "not a phenopacket");
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("packets"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->records_read, 3u);
  EXPECT_EQ(Count("sex(F)"), 2u);
  EXPECT_EQ(Count("sex(M)"), 1u);
  EXPECT_EQ(Count("sex(U)"), 0u);  // new subjects with a clinical record are never "unknown"
}

TEST_F(IngestQueryTest, FilteredRecordsAreKeptOnRequest) {
  ASSERT_TRUE(IngestFour(/*include_filtered=*/true).ok());
  EXPECT_EQ(Count("variant(GRCh38:1:200:A:C)"), 2u);
}

TEST_F(IngestQueryTest, PhenopacketsJoinGenotypesBySubjectId) {
  ASSERT_TRUE(IngestFour().ok());
  ASSERT_TRUE(LoadHpo().ok());
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("packets.jsonl"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->individuals_new, 0u);
  EXPECT_EQ(s->individuals_updated, 3u);
  EXPECT_EQ(s->notes.at("unknown field favouriteColour (ignored)"), 1u);
  EXPECT_EQ(s->notes.at("diseases not coded in ICD-10 (kept, not indexed)"), 1u);
  EXPECT_EQ(s->notes.at("HPO ids mapped to current terms"), 1u);  // HP:0004715 is an alt id

  EXPECT_EQ(Count("sex(F)"), 2u);
  EXPECT_EQ(Count("sex(U)"), 1u);  // P4 has genotypes only
  EXPECT_EQ(Count("dx(C50) AND variant(GRCh38:1:101:T:C)"), 1u);
  EXPECT_EQ(Count("treatment(L02B) AND age(60-69)"), 1u);
  // HP:0100013 has ancestor HP:0002664 (Neoplasm); P3 excluded it, so only P1 matches.
  EXPECT_EQ(Count("hpo(HP:0002664)"), 1u);
  EXPECT_EQ(Count("hpo(HP:0000003)"), 1u);  // P3, through the alt id
  EXPECT_EQ(Count("hpo(HP:0004715)"), 1u);  // the alt id works in queries too
}

TEST_F(IngestQueryTest, ANewerPhenopacketReplacesTheClinicalPart) {
  ASSERT_TRUE(LoadHpo().ok());
  ASSERT_TRUE(ingest::IngestPhenopackets(*store_, dir_.Path("packets.jsonl")).ok());
  EXPECT_EQ(Count("dx(C61)"), 1u);
  WriteFile(
      dir_.Path("update.json"),
      R"({"subject":{"id":"P2","sex":"OTHER_SEX"},"diseases":[{"term":{"id":"ICD10:C18.7"}}]})");
  ASSERT_TRUE(ingest::IngestPhenopackets(*store_, dir_.Path("update.json")).ok());
  EXPECT_EQ(Count("dx(C61)"), 0u);
  EXPECT_EQ(Count("dx(C18)"), 1u);
  EXPECT_EQ(Count("sex(M)"), 0u);
  EXPECT_EQ(Count("sex(O)"), 1u);
  EXPECT_EQ(Count("age(70-79)"), 0u);
}

// A lab-reported variant in a phenopacket's interpretation (JSON as Phenopacket v2 writes it).
std::string Interpreted(const std::string& subject, const std::string& chrom, int pos,
                        const std::string& ref, const std::string& alt, const std::string& geno,
                        const std::string& status = "CAUSATIVE") {
  return R"({"subject":{"id":")" + subject +
         R"("},"metaData":{"submittedBy":"Klinisk genetik, Sahlgrenska"},"interpretations":[{"id":"i1","progressStatus":"SOLVED","diagnosis":{"disease":{"id":"OMIM:173900","label":"PKD1"},"genomicInterpretations":[{"subjectOrBiosampleId":")" +
         subject + R"(","interpretationStatus":")" + status +
         R"(","variantInterpretation":{"acmgPathogenicityClassification":"PATHOGENIC","variationDescriptor":{"id":"v1","geneContext":{"valueId":"HGNC:9008","symbol":"PKD1"},"vcfRecord":{"genomeAssembly":"GRCh38","chrom":")" +
         chrom + R"(","pos":")" + std::to_string(pos) + R"(","ref":")" + ref + R"(","alt":")" +
         alt + R"("},"allelicState":{"id":")" + geno +
         R"(","label":"x"}}}},{"subjectOrBiosampleId":"s","interpretationStatus":"CANDIDATE","gene":{"valueId":"HGNC:1101","symbol":"BRCA2"}}]}}]})";
}

TEST_F(IngestQueryTest, InterpretedVariantsAreIndexedLikeGenotypes) {
  ASSERT_TRUE(IngestFour().ok());
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)"), 2u);
  EXPECT_EQ(Frequency("variant(GRCh38:1:101:T:C)").an, 6u);
  // L1 comes from a lab report only (homozygous, written padded as in the VCF); P1 was
  // genotyped het by the VCF and a packet claims hom: the VCF call stands.
  WriteFile(dir_.Path("lab.jsonl"),
            Interpreted("L1", "chr1", 100, "GTT", "GCT", "GENO:0000136") + "\n" +
                Interpreted("P1", "1", 101, "T", "C", "GENO:0000136") + "\n" +
                Interpreted("L2", "1", 101, "T", "C", "GENO:0000135", "REJECTED") + "\n" +
                // A position whose big-endian bytes are not UTF-8 (0x00F7F9C9).
                Interpreted("L3", "1", 16251913, "G", "A", "GENO:0000134") + "\n");
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("lab.jsonl"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->notes["interpreted variants a VCF already genotyped (the VCF call kept)"], 1u);
  EXPECT_EQ(s->notes["genomic interpretations REJECTED (not indexed)"], 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)"), 3u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C,hom)"), 1u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C,het)"), 2u);
  EXPECT_EQ(Count("variant(GRCh38:1:16251913:G:A,hemi)"), 1u);
  query::AlleleFrequency f = Frequency("variant(GRCh38:1:101:T:C)");
  EXPECT_EQ(f.an, 8u);
  EXPECT_EQ(f.ac, 4u);

  // The record keeps the calls (the rejected one is not there) and the care unit.
  auto dump = DumpStore(*store_);
  v1::IndividualRecord l1;
  for (const auto& [k, v] : dump) {
    v1::IndividualRecord r;
    if (k.starts_with("1i/") && r.ParseFromString(v) && r.subject_id() == "L1") l1 = r;
  }
  size_t records = 0;
  for (const auto& [k, v] : dump) {
    v1::IndividualRecord r;
    if (k.starts_with("1i/")) records += r.ParseFromString(v);
  }
  EXPECT_EQ(records, 7u) << "P1-P4, L1, L2 (its call rejected), L3: every record reads back";
  ASSERT_EQ(l1.reported_size(), 2);
  EXPECT_EQ(l1.reported(0).gene(), "PKD1");
  EXPECT_EQ(l1.reported(0).zygosity(), v1::HOMOZYGOUS);
  EXPECT_FALSE(l1.reported(0).variant_key().empty());
  EXPECT_EQ(l1.reported(1).gene(), "BRCA2");
  EXPECT_TRUE(l1.reported(1).variant_key().empty());
  EXPECT_EQ(l1.care_unit(), "Klinisk genetik, Sahlgrenska");
  EXPECT_EQ(l1.other_diseases(0), "OMIM:173900");

  // Newer packets without interpretations take L1's bits away and leave the VCF's for P1.
  WriteFile(dir_.Path("update.jsonl"), R"({"subject":{"id":"L1"}})"
                                       "\n"
                                       R"({"subject":{"id":"P1"}})"
                                       "\n");
  ASSERT_TRUE(ingest::IngestPhenopackets(*store_, dir_.Path("update.jsonl")).ok());
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C)"), 2u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C,hom)"), 0u);
  EXPECT_EQ(Frequency("variant(GRCh38:1:101:T:C)").an, 6u);
}

TEST_F(IngestQueryTest, BadInterpretationsNameTheFieldAndChangeNothing) {
  auto before = DumpStore(*store_);
  WriteFile(dir_.Path("bad.json"), Interpreted("L1", "1", 0, "T", "C", "GENO:0000135"));
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("bad.json"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(
      std::string(s.status().message())
          .find("interpretations[0].diagnosis.genomicInterpretations[0].variantInterpretation."
                "variationDescriptor.vcfRecord.pos"),
      std::string::npos)
      << s.status();
  WriteFile(dir_.Path("bad2.json"), Interpreted("L1", "1", 5, "T", "<DEL>", "GENO:0000135"));
  s = ingest::IngestPhenopackets(*store_, dir_.Path("bad2.json"));
  EXPECT_NE(std::string(s.status().message()).find("vcfRecord.alt"), std::string::npos);
  WriteFile(dir_.Path("bad3.json"), Interpreted("L1", "1", 5, "T", "C", "GENO:9"));
  s = ingest::IngestPhenopackets(*store_, dir_.Path("bad3.json"));
  EXPECT_NE(std::string(s.status().message()).find("allelicState"), std::string::npos);
  EXPECT_EQ(DumpStore(*store_), before);
}

TEST_F(IngestQueryTest, PhenotypesNeedAnOntology) {
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("packets.jsonl"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.status().message()).find("--hpo"), std::string::npos);
}

TEST_F(IngestQueryTest, BadPhenopacketsNameTheLineAndChangeNothing) {
  ASSERT_TRUE(LoadHpo().ok());
  auto before = DumpStore(*store_);
  WriteFile(dir_.Path("bad.jsonl"), std::string(testing::kThreePhenopackets) + "{\"subject\": \n");
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("bad.jsonl"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("bad.jsonl:4: invalid JSON"), std::string::npos)
      << s.status();
  WriteFile(dir_.Path("badage.json"),
            R"({"subject":{"id":"X","timeAtLastEncounter":{"age":{"iso8601duration":"forty"}}}})");
  s = ingest::IngestPhenopackets(*store_, dir_.Path("badage.json"));
  EXPECT_NE(
      std::string(s.status().message()).find("subject.timeAtLastEncounter.age.iso8601duration"),
      std::string::npos)
      << s.status();
  EXPECT_EQ(DumpStore(*store_), before);
}

TEST_F(IngestQueryTest, ADatasetKeepsOneAssembly) {
  ASSERT_TRUE(IngestFour().ok());
  auto before = DumpStore(*store_);
  auto s = ingest::IngestVcf(*store_, {dir_.Path("four.vcf"), "wgs", "GRCh37"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DumpStore(*store_), before);
  // The same file as GRCh37 in another dataset: variants kept apart by assembly.
  ASSERT_TRUE(ingest::IngestVcf(*store_, {dir_.Path("four.vcf"), "old", "GRCh37"}).ok());
  EXPECT_EQ(Count("variant(GRCh37:1:101:T:C)"), 2u);
  EXPECT_EQ(Count("variant(GRCh38:1:101:T:C) AND dataset(old)"), 2u);  // same people
  EXPECT_EQ(Count("dataset(old) AND dataset(wgs)"), 4u);
}

TEST_F(IngestQueryTest, SampleMapRenamesSamplesToSubjects) {
  WriteFile(dir_.Path("map.tsv"), "# sample\tsubject\nP1\tS-001\nP2\tS-002\n");
  ingest::VcfIngestOptions o{dir_.Path("four.vcf"), "wgs", "GRCh38"};
  o.sample_map_path = dir_.Path("map.tsv");
  ASSERT_TRUE(ingest::IngestVcf(*store_, o).ok());
  ASSERT_TRUE(LoadHpo().ok());
  WriteFile(dir_.Path("s1.json"), R"({"subject":{"id":"S-001","sex":"FEMALE"}})");
  auto s = ingest::IngestPhenopackets(*store_, dir_.Path("s1.json"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->individuals_new, 0u);
  EXPECT_EQ(Count("sex(F) AND variant(GRCh38:1:101:T:C)"), 1u);
}

TEST_F(IngestQueryTest, GeneQueriesUseTheAssemblysTable) {
  // BRCA1 is on chr17 in GRCh38; put a variant inside it.
  WriteFile(dir_.Path("brca1.vcf"),
            "##fileformat=VCFv4.2\n##contig=<ID=17>\n"
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tP1\tP2\n"
            "17\t43045000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n");
  ASSERT_TRUE(ingest::IngestVcf(*store_, {dir_.Path("brca1.vcf"), "wgs", "GRCh38"}).ok());
  auto view = store_->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  auto r =
      query::Engine(*catalog).Count(*view, *query::ParseCriterion("gene(BRCA1)"), v1::RESEARCH);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);  // no table yet
  ASSERT_TRUE(
      ingest::RememberReferenceFiles(*store_, {"", {"GRCh38=" + SharedData("genes_grch38.tsv")}})
          .ok());
  EXPECT_EQ(Count("gene(BRCA1)"), 1u);
  EXPECT_EQ(Count("gene(BRCA2)"), 0u);
}

}  // namespace
}  // namespace pmdb
