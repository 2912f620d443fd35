// The web page's journeys in real headless Chromium (tests/browser/journeys.py, with Debian's
// chromium, chromedriver and python3-selenium) against a six-region federation over mutual
// TLS, with the regions' default disclosure control: a researcher signs in with a certificate,
// builds a question with autocomplete and sees per-region answers and charts; a clinician finds
// a similar case and asks for contact; the owning region's operator answers it on the node's
// page; a browser without a certificate is refused. Screenshots go to
// build/tests/browser-screenshots/.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

// A rare-disease case with care consent at vast: renal and liver cysts, hypertension.
constexpr char kCase[] =
    R"({"id":"p-web-1","subject":{"id":"VAST-WEB-1","sex":"FEMALE",)"
    R"("timeAtLastEncounter":{"age":{"iso8601duration":"P41Y"}}},)"
    R"("phenotypicFeatures":[{"type":{"id":"HP:0000107"}},{"type":{"id":"HP:0001407"}},)"
    R"({"type":{"id":"HP:0000822"}}],)"
    R"("diseases":[{"term":{"id":"ICD10:Q61.2"}}],"metaData":{"submittedBy":"Njurmottagningen"}})";

TEST(WebPageTest, TheThreeJourneysInChromium) {
  Federation fed(150, 20);
  const std::string cases = fed.dir().Path("cases.jsonl");
  WriteFile(cases, std::string(kCase) + "\n");
  auto ingested = Pmdb({"ingest", "--db", fed.db("vast"), "--phenopackets", cases, "--hpo",
                        SharedData("ontology/hp.obo")});
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  // One of the cohort's sites, for the frequency journey.
  auto site = pmdb::testing::Run({"bcftools", "query", "-f", "%CHROM:%POS:%REF:%ALT\\n",
                                  fed.dir().Path("vast-cohort/cohort.vcf.gz")});
  ASSERT_EQ(site.exit_code, 0) << site.err;
  const std::string variant = "GRCh38:" + site.out.substr(0, site.out.find('\n'));

  for (const std::string& r : SixRegions()) {
    fed.node_config(r).settings.disclosure = security::DisclosureRules{};  // the defaults
  }
  fed.node_config("vast").https.listen = "127.0.0.1:0";
  fed.StartNodes();
  fed.StartHub(5000, {}, [](server::HubConfig& c) {
    c.https.listen = "127.0.0.1:0";
    c.beacon.hpo = SharedData("ontology/hp.obo");
  });

  const std::string out = std::filesystem::absolute("browser-screenshots").string();
  CommandResult r = pmdb::testing::Run(
      {"/usr/bin/python3", std::string(PMDB_SOURCE_DIR) + "/tests/browser/journeys.py", "--hub",
       "https://127.0.0.1:" + std::to_string(fed.hub_https_port()) + "/", "--node",
       "https://127.0.0.1:" + std::to_string(fed.node_page_port("vast")) + "/", "--certs",
       fed.dir().path(), "--variant", variant, "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* shot : {"researcher", "clinician", "operator", "no-certificate"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + shot + ".png")) << shot;
  }
}

}  // namespace
}  // namespace pmdb::testing
