// Probing similar cases: a clinician who knows part of a patient's record (a variant and three
// findings) asks, one candidate finding at a time, whether the case holds it, and reads the
// answer from the matched terms of the case's match. Run with the probing defences off (where
// it must read every hidden finding) and with deploy/node.example.toml (a search needs three
// findings, weak matches are not returned, and one person is returned to one clinician at most
// five times in 30 days).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/server/config.h"
#include "tests/integration/federation_fixture.h"
#include "tests/privacy/lab.h"

namespace pmdb::privacy {
namespace {

using testing::Federation;

const std::vector<std::string> kKnown = {"HP:0000113", "HP:0001407", "HP:0000822"};
// The case's other findings, which the clinician does not know, and findings it does not have.
const std::vector<std::string> kHidden = {"HP:0001250", "HP:0000252", "HP:0000486", "HP:0002650",
                                          "HP:0000365", "HP:0004322", "HP:0000028", "HP:0001903"};
const std::vector<std::string> kAbsent = {"HP:0001263", "HP:0001627", "HP:0001508", "HP:0001382",
                                          "HP:0002019", "HP:0000100", "HP:0001945", "HP:0002715"};

std::string TargetCase() {
  std::string features;
  for (const std::vector<std::string>* terms : {&kKnown, &kHidden}) {
    for (const std::string& t : *terms) {
      features += (features.empty() ? "" : ",") + std::string(R"({"type":{"id":")") + t + "\"}}";
    }
  }
  return R"({"id":"p-t","subject":{"id":"VAST-T","sex":"FEMALE","timeAtLastEncounter":{"age":{"iso8601duration":"P34Y"}}},"phenotypicFeatures":[)" +
         features +
         R"(],"interpretations":[{"id":"i","diagnosis":{"disease":{"id":"OMIM:173900"},"genomicInterpretations":[{"subjectOrBiosampleId":"s","interpretationStatus":"CAUSATIVE","variantInterpretation":{"variationDescriptor":{"id":"v","geneContext":{"valueId":"HGNC:9008","symbol":"PKD1"},"vcfRecord":{"genomeAssembly":"GRCh38","chrom":"16","pos":"2100000","ref":"G","alt":"A"},"allelicState":{"id":"GENO:0000135"}}}}]}}],"metaData":{"submittedBy":"Njurmottagningen"}})";
}

struct ProbeOutcome {
  Confusion c;
  int returned = 0;  // probes whose answer held the target
};

ProbeOutcome Probe(Defences defences) {
  Federation fed(60);
  std::string path = fed.dir().Path("target.jsonl");
  testing::WriteFile(path, TargetCase() + "\n");
  auto r = testing::Pmdb({"ingest", "--db", fed.db("vast"), "--phenopackets", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto example = server::LoadNodeConfig(PMDB_SOURCE_DIR "/deploy/node.example.toml");
  EXPECT_TRUE(example.ok()) << example.status();
  for (const std::string& region : testing::SixRegions()) {
    core::ClinicianSharing& c = fed.node_config(region).settings.clinician;
    if (defences == Defences::kDefaults && example.ok()) {
      const core::ClinicianSharing& e = example->settings.clinician;
      c.min_phenotypes = e.min_phenotypes;
      c.min_score = e.min_score;
      c.per_person_matches = e.per_person_matches;
      c.per_person_days = e.per_person_days;
    } else {
      c.min_phenotypes = 0;
      c.min_score = 0;
      c.per_person_matches = 0;
    }
  }
  fed.StartNodes();
  fed.StartHub(5000);
  ProbeOutcome out;
  auto hub = fed.Hub("cia");
  for (size_t i = 0; i < kHidden.size() + kAbsent.size(); ++i) {
    bool truth = i % 2 == 0;
    const std::string& candidate = truth ? kHidden[i / 2] : kAbsent[i / 2];
    v1::SimilarCasesRequest req;
    for (const std::string& t : kKnown) req.mutable_patient()->add_phenotypes(t);
    req.mutable_patient()->add_phenotypes(candidate);
    v1::CaseVariant* v = req.mutable_patient()->add_variants();
    v->set_assembly("GRCh38");
    v->set_chrom("16");
    v->set_pos(2100000);
    v->set_ref("G");
    v->set_alt("A");
    v->set_zygosity(v1::HETEROZYGOUS);
    req.set_top(5);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::FederatedSimilarCases answer;
    grpc::Status s = hub->SimilarCases(&ctx, req, &answer);
    EXPECT_TRUE(s.ok()) << s.error_message();
    bool held = false;
    for (const v1::CaseMatch& m : answer.matches()) {
      // The target: vast's case with the same allele.
      if (m.region() != "vast" || m.variants_size() == 0 || m.variants(0).level() != "variant") {
        continue;
      }
      ++out.returned;
      for (const v1::PhenotypeMatch& p : m.phenotypes()) {
        held |= p.query_term() == candidate && p.exact();
      }
    }
    out.c.Add(truth, held);
  }
  Outcome{.attack = "similar/hidden-findings",
          .defences = defences,
          .targets = 16,
          .questions = 16,
          .success = out.c.BalancedAccuracy(),
          .measure = "balanced-accuracy"}
      .Print();
  return out;
}

TEST(SimilarCaseProbingAttack, ReadsEveryHiddenFindingWithoutDefences) {
  ProbeOutcome o = Probe(Defences::kOff);
  EXPECT_EQ(o.returned, 16);
  EXPECT_EQ(o.c.BalancedAccuracy(), 1.0);
}

TEST(SimilarCaseProbingAttack, IsStoppedAfterFiveReturnsAgainstTheDefaults) {
  ProbeOutcome o = Probe(Defences::kDefaults);
  std::printf("[privacy]   the target was returned %d times of 16\n", o.returned);
  EXPECT_EQ(o.returned, 5) << "one person, one clinician, 30 days";
  // Five probes answered (three hidden findings, two absent ones), the rest read as "absent".
  EXPECT_LE(o.c.tp, 3);
  EXPECT_LE(o.c.BalancedAccuracy(), 0.7);
}

}  // namespace
}  // namespace pmdb::privacy
