// A region's anonymous public tier, asked as a public Beacon network's client would: curl with
// no certificate against a real node over TLS. It answers only whether one variant is seen, as
// a boolean behind the region's noise and a budget of its own that counts in the region's;
// every answer validates against the official Beacon schemas.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "node/base/strings.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

const std::string kSpecs = std::string(PMDB_SHARED_DATA) + "/../specs/beacon-v2";
const std::string kResponses = "framework/json/responses/";

struct Reply {
  int status = 0;
  std::string body;
  std::string headers;
};

class PublicTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::NodeConfig& vast = fed_.node_config("vast");
    vast.settings.disclosure.differential_privacy = true;
    // Little noise and a low threshold, so that a common variant is seen and a made-up one is
    // not, whatever the draw; its price (rho 0.125 a variant) then spends the public budget of
    // 0.3 on the third new variant.
    vast.settings.public_tier = {.enabled = true,
                                 .scale = {200},
                                 .threshold = 10,
                                 .budget_micros = 300'000,
                                 .period_days = 30,
                                 .share_millionths = 100'000};
    vast.public_https.listen = "127.0.0.1:0";
    vast.public_https.requests_per_minute = 40;
    fed_.StartNodes();
  }

  Reply Get(const std::string& path) {
    const std::string body = fed_.dir().Path("public-body.json");
    const std::string headers = fed_.dir().Path("public-headers.txt");
    std::filesystem::remove(body);
    std::filesystem::remove(headers);
    CommandResult r = pmdb::testing::Run(
        {"curl", "-sS", "--max-time", "20", "--cacert", fed_.dir().Path("ca/ca.crt"), "-D", headers,
         "-o", body, "-w", "%{http_code}",
         "https://127.0.0.1:" + std::to_string(fed_.node_public_port("vast")) + path});
    Reply out;
    out.status = std::atoi(r.out.c_str());
    if (std::filesystem::exists(body)) out.body = ReadFile(body);
    if (std::filesystem::exists(headers)) out.headers = ReadFile(headers);
    return out;
  }

  void ExpectValid(const std::string& json, const std::string& schema) {
    const std::string file = fed_.dir().Path("public-doc.json");
    WriteFile(file, json);
    CommandResult r = pmdb::testing::Run(
        {"/usr/bin/python3", std::string(PMDB_SOURCE_DIR) + "/tests/beacon/validate_beacon.py",
         kSpecs, kResponses + schema, file});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n" << json.substr(0, 2000);
  }

  // The g_variants query for CHROM:POS:REF:ALT (1-based POS; Beacon's start is 0-based).
  static std::string Variant(const std::string& chrom, uint64_t pos, const std::string& ref,
                             const std::string& alt) {
    return StrCat("/api/g_variants?assemblyId=GRCh38&referenceName=", chrom, "&start=", pos - 1,
                  "&referenceBases=", ref, "&alternateBases=", alt);
  }

  double PublicSpent() {
    grpc::ClientContext ctx;
    v1::StatusReply status;
    EXPECT_TRUE(fed_.Admin("olle", "vast")->Status(&ctx, v1::StatusRequest(), &status).ok());
    for (const v1::BudgetState& b : status.budgets()) {
      if (b.name() == "project public" && b.period_days() == 30) return b.spent_rho();
    }
    ADD_FAILURE() << "no budget named project public";
    return -1;
  }

  Federation fed_{60, 30};
};

TEST_F(PublicTierTest, AnyoneGetsABooleanOnOneVariantThroughItsOwnBudget) {
  ASSERT_GT(fed_.node_public_port("vast"), 0);
  EXPECT_EQ(fed_.node_public_port("norr"), 0) << "off unless configured";

  // Without a certificate: the metadata say what the tier is.
  for (const auto& [path, schema] : std::vector<std::pair<std::string, std::string>>{
           {"/api/info", "beaconInfoResponse.json"},
           {"/api/configuration", "beaconConfigurationResponse.json"},
           {"/api/map", "beaconMapResponse.json"},
           {"/api/entry_types", "beaconEntryTypesResponse.json"},
           {"/api/g_variants/filtering_terms", "beaconFilteringTermsResponse.json"}}) {
    Reply r = Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    ExpectValid(r.body, schema);
  }
  Reply configuration = Get("/api/configuration");
  EXPECT_NE(configuration.body.find("\"PUBLIC\""), std::string::npos) << configuration.body;
  Reply map = Get("/api/map");
  EXPECT_EQ(map.body.find("/individuals"), std::string::npos) << "variants only: " << map.body;
  EXPECT_NE(Get("/api/info").body.find("se.pmdb.vast"), std::string::npos);

  // The site of vast's cohort with the most carriers, as bcftools reads the genotypes.
  CommandResult top = pmdb::testing::Run(
      {"bash", "-c",
       "bcftools query -f '%CHROM %POS %REF %ALT[ %GT]\\n' '" +
           fed_.dir().Path("vast-cohort/cohort.vcf.gz") +
           "' | awk '{c = 0; for (i = 5; i <= NF; i++) if ($i ~ /1/) c++; print $1, $2, $3, $4, c}'"
           " | sort -k5,5nr | awk 'NR == 1'"});
  std::istringstream fields(top.out);
  std::string chrom, ref, alt;
  uint64_t pos = 0, carriers = 0;
  fields >> chrom >> pos >> ref >> alt >> carriers;
  ASSERT_GE(carriers, 20u) << "five times the noise above the threshold: " << top.out << top.err;

  Reply seen = Get(Variant(chrom, pos, ref, alt) + "&requestedGranularity=count");
  ASSERT_EQ(seen.status, 200) << seen.body;
  ExpectValid(seen.body, "beaconBooleanResponse.json");
  EXPECT_NE(seen.body.find("\"exists\":true"), std::string::npos) << seen.body;
  EXPECT_NE(seen.body.find("\"returnedGranularity\":\"boolean\""), std::string::npos)
      << "a count is asked, a boolean is given: " << seen.body;
  EXPECT_EQ(seen.body.find("numTotalResults"), std::string::npos) << seen.body;
  EXPECT_EQ(seen.body.find("resultsCount"), std::string::npos) << seen.body;

  const std::string nowhere = Variant(chrom, 100, "A", "T");  // no such site in the panel
  Reply unseen = Get(nowhere);
  ASSERT_EQ(unseen.status, 200) << unseen.body;
  EXPECT_NE(unseen.body.find("\"exists\":false"), std::string::npos) << unseen.body;
  EXPECT_NEAR(PublicSpent(), 0.25, 1e-9) << "two new variants at rho 0.125 each";

  // Nothing but a variant's boolean: individuals, datasets, filters and ranges are refused.
  for (const auto& [path, status] : std::vector<std::pair<std::string, int>>{
           {"/api/individuals?filters=NCIT:C16576", 403},
           {"/api/datasets", 403},
           {"/api/g_variants/x/biosamples", 403},
           {Variant(chrom, pos, ref, alt) + "&filters=NCIT:C16576", 400},
           {"/api/g_variants?assemblyId=GRCh38&referenceName=22&start=1&end=50000000", 400},
           {"/nothing", 404}}) {
    Reply r = Get(path);
    EXPECT_EQ(r.status, status) << path << ": " << r.body;
    ExpectValid(r.body, "beaconErrorResponse.json");
  }

  // The third new variant is over the public budget (0.375 > 0.3); asked before is free.
  Reply spent = Get(Variant(chrom, 200, "C", "G"));
  EXPECT_EQ(spent.status, 429) << spent.body;
  EXPECT_NE(spent.body.find("public tier has spent its privacy budget"), std::string::npos)
      << spent.body;
  EXPECT_EQ(Get(Variant(chrom, pos, ref, alt)).status, 200);
  EXPECT_NEAR(PublicSpent(), 0.25, 1e-9);

  // The audit log names the tier, never the caller's address.
  grpc::ClientContext ctx;
  v1::AuditListRequest list;
  list.set_caller("public:anonymous");
  v1::AuditListReply entries;
  ASSERT_TRUE(fed_.Admin("olle", "vast")->AuditList(&ctx, list, &entries).ok());
  int public_entries = 0;
  for (const v1::AuditEntry& e : entries.entries()) {
    if (e.method() != "PublicBeacon/Exists") continue;
    ++public_entries;
    EXPECT_EQ(e.caller(), "public:anonymous");
    EXPECT_EQ(e.project(), "public");
    std::string text;
    ASSERT_TRUE(e.SerializeToString(&text));
    EXPECT_EQ(text.find("127.0.0.1"), std::string::npos);
  }
  EXPECT_EQ(public_entries, 4) << "seen, unseen, the refused one, the repeat";

  // A rate per address: 40 a minute, then 429 with Retry-After.
  int limited = 0;
  for (int i = 0; i < 45; ++i) {
    Reply r = Get("/api/info");
    if (r.status == 429) {
      ++limited;
      EXPECT_NE(r.headers.find("Retry-After: 60"), std::string::npos) << r.headers;
    }
  }
  EXPECT_GT(limited, 0);
}

}  // namespace
}  // namespace pmdb::testing
