// GA4GH Beacon v2 at the hub over HTTPS with mutual TLS, asked with curl (the peer tool a
// user would use) holding real certificates: every response validates against the official
// schemas (../shared/specs/beacon-v2, with Debian's python3-jsonschema), the numbers are the
// gRPC path's for the same question, and what the federation does not allow is refused.
#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/parser.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

const std::string kSpecs = std::string(PMDB_SHARED_DATA) + "/../specs/beacon-v2";
const std::string kResponses = "framework/json/responses/";

using Reply = HttpsReply;

class BeaconTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fed_ = new Federation(120, 20);
    fed_->StartNodes();
    fed_->StartHub(2000, {}, HubWithHttps);
    // Another CA's certificate with a researcher's name: not of this federation.
    std::filesystem::create_directories(fed_->dir().Path("other"));
    auto init =
        Pmdb({"ca", "init", "--dir", fed_->dir().Path("other/ca"), "--federation", kFederation});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    auto issued = Pmdb({"ca", "issue", "--dir", fed_->dir().Path("other/ca"), "--identity",
                        std::string("spiffe://") + kFederation + "/researcher/mallory", "--out",
                        fed_->dir().Path("other/mallory")});
    ASSERT_EQ(issued.exit_code, 0) << issued.err;
  }
  static void HubWithHttps(server::HubConfig& c) {
    c.https.listen = "127.0.0.1:0";
    c.metrics_listen = "127.0.0.1:0";
    c.https.max_body_kb = 16;
    c.https.read_timeout_ms = 1000;
    c.https.cors_origins = {"https://beacon-ui.example"};
    c.beacon.hpo = SharedData("ontology/hp.obo");
    c.beacon.environment = "test";
    c.beacon.contact = "mailto:beacon@pmdb.example";
  }
  static void TearDownTestSuite() {
    delete fed_;
    fed_ = nullptr;
  }

  static std::string Url(const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(fed_->hub_https_port()) + path;
  }

  // curl as `who` (a prefix of the fixture's certificates, or a path; "" for none).
  static Reply Curl(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& who = "anna",
                    const std::vector<std::string>& headers = {}) {
    const std::string prefix =
        who.empty() || who.find('/') != std::string::npos ? who : fed_->dir().Path(who);
    return CurlHttps(method, Url(path), fed_->dir().Path("ca/ca.crt"), prefix, body, headers);
  }

  // Validates `json` against each schema (paths under the specification's root).
  static void ExpectValid(const std::string& json, const std::vector<std::string>& schemas) {
    static int n = 0;
    const std::string file = fed_->dir().Path("doc" + std::to_string(n++) + ".json");
    WriteFile(file, json);
    std::vector<std::string> args = {
        "/usr/bin/python3", std::string(PMDB_SOURCE_DIR) + "/tests/beacon/validate_beacon.py",
        kSpecs};
    for (const std::string& s : schemas) args.insert(args.end(), {s, file});
    CommandResult r = pmdb::testing::Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n" << json.substr(0, 2000);
  }

  static uint64_t GrpcTotal(const std::string& expr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::CountRequest req;
    *req.mutable_criterion() = *query::ParseCriterion(expr);
    v1::FederatedCount out;
    grpc::Status s = fed_->Hub("anna")->Count(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.total().low(), out.total().high()) << expr;
    return out.total().low();
  }

  static Federation* fed_;
};

Federation* BeaconTest::fed_ = nullptr;

TEST_F(BeaconTest, FrameworkEndpointsValidateAgainstTheOfficialSchemas) {
  struct Endpoint {
    std::string path;
    std::string schema;
  };
  for (const Endpoint& e : std::vector<Endpoint>{
           {"/api", "beaconInfoResponse.json"},
           {"/api/info", "beaconInfoResponse.json"},
           {"/api/service-info", "ga4gh-service-info-1-0-0-schema.json"},
           {"/api/configuration", "beaconConfigurationResponse.json"},
           {"/api/map", "beaconMapResponse.json"},
           {"/api/entry_types", "beaconEntryTypesResponse.json"},
           {"/api/filtering_terms?skip=10&limit=40", "beaconFilteringTermsResponse.json"},
           {"/api/individuals/filtering_terms?limit=5", "beaconFilteringTermsResponse.json"},
       }) {
    Reply r = Curl("GET", e.path);
    ASSERT_EQ(r.status, 200) << e.path << ": " << r.body;
    ExpectValid(r.body, {kResponses + e.schema});
    // Metadata that changes only with the configuration may be cached (Beacon networks poll it).
    EXPECT_NE(r.headers.find("max-age=300"), std::string::npos) << e.path << r.headers;
  }
  auto info = ParseJson(Curl("GET", "/api/info").body);
  EXPECT_EQ(JsonString(info, "meta.beaconId"), "se.pmdb.hub");
  EXPECT_EQ(JsonString(info, "response.environment"), "test");
  EXPECT_EQ(JsonString(info, "response.organization.contactUrl"), "mailto:beacon@pmdb.example");

  // The terms come from the vocabularies: sex, age, the extension, the ATC main groups and the
  // HPO (skip and limit page through them).
  auto all = ParseJson(Curl("GET", "/api/filtering_terms").body);
  const auto terms = JsonAt(all, "response.filteringTerms");
  EXPECT_GT(terms.list_value().values_size(), 10000) << "every current HPO term is listed";
  EXPECT_EQ(JsonString(all, "response.filteringTerms.0.id"), "sex");
  auto page = ParseJson(Curl("GET", "/api/filtering_terms?skip=3&limit=2").body);
  EXPECT_EQ(JsonAt(page, "response.filteringTerms").list_value().values_size(), 2);
  EXPECT_EQ(JsonString(page, "response.filteringTerms.0.id"),
            JsonString(all, "response.filteringTerms.3.id"));
}

// A verifier's walk: read /map, ask every endpoint set's root URL (with a query its entry type
// answers: pmdb counts individuals who match something, and a variant named by its alleles)
// and its filtering terms, validate each answer.
TEST_F(BeaconTest, AVerifierWalkFromTheMapPasses) {
  auto map = ParseJson(Curl("GET", "/api/map").body);
  const auto sets = JsonAt(map, "response.endpointSets");
  ASSERT_FALSE(sets.struct_value().fields().empty());
  for (const auto& [name, set] : sets.struct_value().fields()) {
    const std::string root = JsonString(set, "rootUrl");
    ASSERT_EQ(root.rfind(Url("/api/"), 0), 0u) << root << " is an absolute URL of this Beacon";
    if (name == "dataset") {  // a collection: listed, not queried
      Reply r = Curl("GET", root.substr(Url("").size()) + "?limit=100");
      ASSERT_EQ(r.status, 200) << name << ": " << r.body;
      ExpectValid(r.body, {kResponses + "beaconCollectionsResponse.json"});
      const auto collections = JsonAt(ParseJson(r.body), "response.collections");
      ASSERT_GT(collections.list_value().values_size(), 0) << r.body;
      for (const auto& d : collections.list_value().values()) {
        std::string one;
        ASSERT_TRUE(google::protobuf::util::MessageToJsonString(d, &one).ok());
        ExpectValid(one, {"models/json/beacon-v2-default-model/datasets/defaultSchema.json"});
      }
      continue;
    }
    const std::string query =
        name == "genomicVariant"
            ? "?assemblyId=GRCh38&referenceName=22&start=16050074&referenceBases=A&alternateBases=G"
            : "?filters=NCIT:C16576";
    Reply r = Curl("GET", root.substr(Url("").size()) + query);
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    ExpectValid(r.body, {kResponses + "beaconBooleanResponse.json"});
    const std::string terms = JsonString(set, "filteringTermsUrl");
    Reply t = Curl("GET", terms.substr(Url("").size()) + "?limit=3");
    ASSERT_EQ(t.status, 200) << terms;
    ExpectValid(t.body, {kResponses + "beaconFilteringTermsResponse.json"});
  }
}

// The datasets collection lists every region's datasets by name and assembly, and nothing the
// data would tell (how many people or variants, which files).
TEST_F(BeaconTest, DatasetsAreTheRegionsNamesAndAssembliesOnly) {
  Reply all = Curl("GET", "/api/datasets?limit=50");
  ASSERT_EQ(all.status, 200) << all.body;
  auto j = ParseJson(all.body);
  EXPECT_EQ(JsonNumber(j, "responseSummary.numTotalResults"), 6);
  std::set<std::string> ids;
  const auto collections = JsonAt(j, "response.collections");  // a copy, held while read
  for (const auto& d : collections.list_value().values()) ids.insert(JsonString(d, "id"));
  const auto described = JsonAt(j, "info.pmdb.datasets");
  ASSERT_EQ(described.list_value().values_size(), 6);
  for (const auto& d : described.list_value().values()) {
    EXPECT_EQ(JsonString(d, "assembly"), "GRCh38");
    EXPECT_EQ(JsonString(d, "id"), JsonString(d, "region") + ":" + JsonString(d, "dataset"));
  }
  std::set<std::string> expected;
  for (const std::string& r : SixRegions()) expected.insert(r + ":syn");
  EXPECT_EQ(ids, expected);
  for (const char* never : {"sample", "variant_count", "cohort.vcf", "sources"}) {
    EXPECT_EQ(all.body.find(never), std::string::npos) << never;
  }
  Reply page = Curl("GET", "/api/datasets?skip=4&limit=5");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(JsonAt(ParseJson(page.body), "response.collections").list_value().values_size(), 2);
  Reply one = Curl("GET", "/api/datasets/vast:syn");
  ASSERT_EQ(one.status, 200) << one.body;
  ExpectValid(one.body, {kResponses + "beaconCollectionsResponse.json"});
  EXPECT_EQ(JsonString(ParseJson(one.body), "response.collections.0.id"), "vast:syn");
  EXPECT_EQ(Curl("GET", "/api/datasets/vast:nosuch").status, 404);
  Reply people = Curl("GET", "/api/datasets/vast:syn/individuals");
  EXPECT_EQ(people.status, 403) << people.body;
  ExpectValid(people.body, {kResponses + "beaconErrorResponse.json"});
  EXPECT_EQ(Curl("GET", "/api/datasets?filters=NCIT:C16576").status, 400);
}

// The same question through Beacon (GET and POST) and through gRPC gives the same released
// number, with one result set per region and the protection described in info.
TEST_F(BeaconTest, CountsAreTheGrpcPathsNumbers) {
  const uint64_t women = GrpcTotal("sex(F)");
  Reply get = Curl("GET",
                   "/api/individuals?filters=NCIT:C16576&requestedGranularity=count"
                   "&includeResultsetResponses=ALL");
  ASSERT_EQ(get.status, 200) << get.body;
  ExpectValid(get.body, {kResponses + "beaconCountResponse.json",
                         kResponses + "beaconResultsetsResponse.json"});
  auto g = ParseJson(get.body);
  EXPECT_EQ(JsonString(g, "meta.returnedGranularity"), "count");
  EXPECT_EQ(JsonNumber(g, "responseSummary.numTotalResults"), static_cast<double>(women));
  EXPECT_TRUE(JsonBool(g, "responseSummary.exists"));
  EXPECT_EQ(JsonString(g, "info.pmdb.criterion"), "sex(F)");
  const auto sets = JsonAt(g, "response.resultSets");
  EXPECT_EQ(sets.list_value().values_size(), 6);
  double sum = 0;
  for (const auto& set : sets.list_value().values()) {
    EXPECT_EQ(JsonString(set, "setType"), "individual");
    sum += JsonNumber(set, "resultsCount");
    EXPECT_EQ(JsonNumber(set, "resultsCount"),
              static_cast<double>(fed_->ExactCount(JsonString(set, "id"), "sex(F)")))
        << JsonString(set, "id");
  }
  EXPECT_EQ(sum, static_cast<double>(women));
  EXPECT_FALSE(JsonString(g, "info.pmdb.disclosure.mechanism").empty());

  // POST: a phenotype with its descendants, an age and the extension's OR, as one question.
  const std::string expr = "age(40-) AND (dx(C50) OR dx(C34) OR NOT sex(M))";
  const uint64_t expected = GrpcTotal(expr);
  Reply post = Curl("POST", "/api/individuals", R"json({"meta": {"apiVersion": "v2.0.0"},
      "query": {"filters": [{"id": "age", "operator": ">=", "value": "P40Y"},
                            {"id": "pmdb:criterion", "operator": "=",
                             "value": "dx(C50) OR dx(C34) OR NOT sex(M)"}],
                "requestedGranularity": "count"}})json");
  ASSERT_EQ(post.status, 200) << post.body;
  ExpectValid(post.body, {kResponses + "beaconCountResponse.json"});
  auto p = ParseJson(post.body);
  EXPECT_EQ(JsonNumber(p, "responseSummary.numTotalResults"), static_cast<double>(expected));
  EXPECT_EQ(JsonString(p, "meta.receivedRequestSummary.filters.1"), "pmdb:criterion");

  // Boolean is the default granularity.
  Reply boolean = Curl("GET", "/api/individuals?filters=NCIT:C16576");
  ASSERT_EQ(boolean.status, 200);
  ExpectValid(boolean.body, {kResponses + "beaconBooleanResponse.json"});
  EXPECT_EQ(JsonString(ParseJson(boolean.body), "meta.returnedGranularity"), "boolean");
}

// A variant's allele frequency per region and nationally, as the gRPC path releases it, with
// the model's frequencyInPopulations.
TEST_F(BeaconTest, AVariantsFrequencyPerRegionAndNationally) {
  // norr's most common variant (the cohorts share their sites' spectrum).
  auto first = pmdb::testing::Run(
      {"/bin/sh", "-c",
       "zcat " + fed_->dir().Path("norr-cohort/cohort.vcf.gz") +
           " | awk '!/^#/ { n = 0; for (i = 10; i <= NF; i++) n += gsub(/1/, \"\", $i);"
           " if (n > m) { m = n; l = $1 \" \" $2 \" \" $3 \" \" $4 \" \" $5 } } END { print l }'"});
  std::istringstream fields(first.out);
  std::string chrom, pos, id, ref, alt;
  fields >> chrom >> pos >> id >> ref >> alt;
  ASSERT_FALSE(alt.empty());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::FrequencyRequest req;
  *req.mutable_criterion() =
      *query::ParseCriterion("variant(GRCh38:" + chrom + ":" + pos + ":" + ref + ":" + alt + ")");
  v1::FederatedFrequency grpc_answer;
  ASSERT_TRUE(fed_->Hub("anna")->Frequency(&ctx, req, &grpc_answer).ok());

  const std::string start = std::to_string(std::stoul(pos) - 1);  // Beacon's start is 0-based
  Reply r =
      Curl("GET", "/api/g_variants?assemblyId=GRCh38&referenceName=" + chrom + "&start=" + start +
                      "&referenceBases=" + ref + "&alternateBases=" + alt +
                      "&requestedGranularity=count&includeResultsetResponses=ALL");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectValid(r.body, {kResponses + "beaconCountResponse.json",
                       kResponses + "beaconResultsetsResponse.json"});
  auto j = ParseJson(r.body);
  EXPECT_EQ(JsonString(j, "meta.returnedSchemas.0.entityType"), "genomicVariant");
  EXPECT_TRUE(JsonBool(j, "responseSummary.exists"));
  EXPECT_EQ(JsonNumber(j, "responseSummary.numTotalResults"), 1);
  EXPECT_EQ(JsonNumber(j, "info.pmdb.frequency.ac.low"),
            static_cast<double>(grpc_answer.ac().low()));
  EXPECT_EQ(JsonNumber(j, "info.pmdb.frequency.an.low"),
            static_cast<double>(grpc_answer.an().low()));
  EXPECT_NEAR(JsonNumber(j, "info.pmdb.frequency.af"),
              static_cast<double>(grpc_answer.ac().low()) / grpc_answer.an().low(), 1e-12);
  int one_number = 0;  // regions whose AC is one number: each has a result set and a frequency
  for (const auto& part : grpc_answer.regions()) {
    one_number += part.frequency().ac().low() == part.frequency().ac().high();
  }
  EXPECT_GE(one_number, 3) << "the variant is common enough to be shown in most regions";
  EXPECT_EQ(JsonAt(j, "response.resultSets").list_value().values_size(), one_number);
  // frequencyInPopulations as the default model defines it: the regions and the nation.
  const auto populations = JsonAt(j, "info.pmdb.frequencyInPopulations");
  ASSERT_EQ(populations.list_value().values_size(), 1) << r.body;
  std::string text;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(populations.list_value().values(0), &text).ok());
  ExpectValid(text, {"models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json#/"
                     "$defs/FrequencyInPopulations"});
  const auto frequencies = JsonAt(populations, "0.frequencies");
  const bool national = grpc_answer.ac().low() == grpc_answer.ac().high();
  EXPECT_EQ(frequencies.list_value().values_size(), one_number + (national ? 1 : 0));
  if (national) {
    EXPECT_EQ(JsonString(frequencies, std::to_string(one_number) + ".population"), "national");
  }
}

// A count below the threshold is no number: the answer says not found, at boolean
// granularity, and info gives the range.
TEST_F(BeaconTest, ACountBelowTheThresholdIsNotShownAsANumber) {
  Reply r = Curl("GET",
                 "/api/individuals?requestedGranularity=count&filters=HP:0000118,"
                 "ICD10:Z99.9,NCIT:C20197");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectValid(r.body, {kResponses + "beaconBooleanResponse.json"});
  auto j = ParseJson(r.body);
  EXPECT_EQ(JsonString(j, "meta.returnedGranularity"), "boolean");
  EXPECT_FALSE(JsonBool(j, "responseSummary.exists"));
  EXPECT_TRUE(JsonAt(j, "responseSummary.numTotalResults").has_null_value())
      << "no numTotalResults";
  EXPECT_LT(JsonNumber(j, "info.pmdb.total.low"), JsonNumber(j, "info.pmdb.total.high"));
}

TEST_F(BeaconTest, WhatTheFederationDoesNotAllowIsRefusedWithABeaconError) {
  struct Case {
    std::string method, path, body, who;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", "/api/individuals?filters=NCIT:C16576&requestedGranularity=record", "", "anna",
            403, "records never leave a region"},
           {"GET", "/api/individuals/SWE000001", "", "anna", 403, "records never leave"},
           {"GET", "/api/individuals?filters=OMIM:601462", "", "anna", 400, "OMIM:601462"},
           {"GET", "/api/individuals", "", "anna", 400, "at least one filter"},
           {"GET", "/api/individuals?filters=NCIT:C16576", "", "cia", 403, ""},
           {"GET", "/api/g_variants?assemblyId=GRCh38", "", "anna", 400, "one variant at a time"},
           {"GET", "/api/g_variants?assemblyId=GRCh38&referenceName=22&start=1&end=900000", "",
            "anna", 400, "one variant at a time"},
           {"GET", "/api/g_variants/GRCh38:22:100:A:G", "", "anna", 403, "no single-variant"},
           {"GET", "/api/nothing", "", "anna", 404, "/map lists"},
           {"GET", "/elsewhere", "", "anna", 404, "/api"},
           {"DELETE", "/api/individuals", "", "anna", 405, "GET or POST"},
           {"GET", "/api/individuals?filters=HP:%FF", "", "anna", 400, "printable ASCII"},
           {"GET", "/api/individuals?filters=HP:12", "", "anna", 400, "not an HPO id"},
           {"GET", "/api/individuals?assemblyId=hg19&referenceName=1&start=1&end=9", "", "anna",
            400, "assemblyId"},
           {"GET", "/api/individuals?geneid=BRCA1)%20OR%20sex(F", "", "anna", 400, "HGNC symbol"},
           {"POST", "/api/individuals", "{\"query\": [", "anna", 400, "not a JSON object"},
           {"POST", "/api/individuals", std::string(5000, '[') + std::string(5000, ']'), "anna",
            400, "not a JSON object"},
           {"POST", "/api/individuals", "{\"pad\": \"" + std::string(20000, 'x') + "\"}", "anna",
            413, "larger than 16384 bytes"},
       }) {
    Reply r = Curl(c.method, c.path, c.body, c.who);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body;
    ExpectValid(r.body, {kResponses + "beaconErrorResponse.json"});
    EXPECT_EQ(JsonNumber(ParseJson(r.body), "error.errorCode"), c.status);
    EXPECT_NE(JsonString(ParseJson(r.body), "error.errorMessage").find(c.says), std::string::npos)
        << r.body;
  }
}

// Deny by default: no certificate, or one from another CA, gets no HTTP answer at all.
TEST_F(BeaconTest, OnlyTheFederationsCertificatesAreLetIn) {
  Reply none = Curl("GET", "/api/info", "", "");
  EXPECT_EQ(none.status, 0) << none.body;
  EXPECT_NE(none.curl_exit, 0);
  Reply other = Curl("GET", "/api/info", "", fed_->dir().Path("other/mallory"));
  EXPECT_EQ(other.status, 0) << other.body;
  EXPECT_NE(other.curl_exit, 0);
  EXPECT_EQ(Curl("GET", "/api/info", "", "olle").status, 200)
      << "any identity of the federation may read the metadata";
  // A revoked certificate completes the handshake (the CRL is the server's own check) and
  // gets 403 and nothing else.
  fed_->Issue("researcher/rita", "rita");
  EXPECT_EQ(Curl("GET", "/api/info", "", "rita").status, 200);
  auto revoked =
      Pmdb({"ca", "revoke", "--dir", fed_->ca_dir(), "--cert", fed_->dir().Path("rita.crt")});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  Reply r = Curl("GET", "/api/info", "", "rita");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("revoked"), std::string::npos) << r.body;
  ExpectValid(r.body, {kResponses + "beaconErrorResponse.json"});
}

// The Matchmaker Exchange search API: a clinician's request in the API's shape finds the same
// cases as the gRPC search, each as an MME result (score, a patient stub named by its opaque
// case reference, the region's contact).
TEST_F(BeaconTest, MatchmakerExchangeFindsTheSameCasesAsGrpc) {
  // Four phenotypes of a person in norr (who consented to care, as every generated person).
  auto terms = pmdb::testing::Run({"/bin/sh", "-c",
                                   "head -1 " + fed_->dir().Path("norr-cohort/phenopackets.jsonl") +
                                       " | grep -o 'HP:[0-9]*' | head -4"});
  std::vector<std::string> hpo;
  std::istringstream lines(terms.out);
  for (std::string t; std::getline(lines, t);) hpo.push_back(t);
  ASSERT_GE(hpo.size(), 3u) << terms.out;
  std::string features;
  for (const std::string& t : hpo) {
    features +=
        std::string(features.empty() ? "" : ",") + R"({"id": ")" + t + R"(", "observed": "yes"})";
  }
  const std::string body = R"json({
    "disclaimer": "test", "patient": {
      "id": "P0001", "label": "index case",
      "contact": {"name": "Dr Cecilia", "institution": "Klinisk genetik", "href": "mailto:cia@vast.example",
                  "roles": ["clinician"]},
      "species": "NCBITaxon:9606", "sex": "FEMALE",
      "features": [)json" + features +
                           R"json(, {"id": "HP:0001250", "observed": "no"}],
      "disorders": [{"id": "MIM:601462", "label": "Polycystic kidney disease"}],
      "test": true}})json";
  const std::string mme = "Content-Type: application/vnd.ga4gh.matchmaker.v1.1+json";
  Reply r = Curl("POST", "/mme/match", body, "cia", {mme});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.headers.find("application/vnd.ga4gh.matchmaker.v1.1+json"), std::string::npos);
  auto j = ParseJson(r.body);
  const auto results = JsonAt(j, "results");
  ASSERT_GT(results.list_value().values_size(), 0) << r.body;

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::SimilarCasesRequest req;
  for (const std::string& t : hpo) req.mutable_patient()->add_phenotypes(t);
  req.mutable_patient()->add_excluded_phenotypes("HP:0001250");
  req.mutable_patient()->add_diagnoses("OMIM:601462");
  req.set_top(10);
  v1::FederatedSimilarCases grpc_answer;
  ASSERT_TRUE(fed_->Hub("cia")->SimilarCases(&ctx, req, &grpc_answer).ok());
  ASSERT_EQ(results.list_value().values_size(), grpc_answer.matches_size());
  for (int i = 0; i < grpc_answer.matches_size(); ++i) {
    const auto& result = results.list_value().values(i);
    const v1::CaseMatch& m = grpc_answer.matches(i);
    EXPECT_DOUBLE_EQ(JsonNumber(result, "score.patient"), m.score()) << i;
    EXPECT_EQ(JsonString(result, "patient._pmdb_region"), m.region()) << i;
    EXPECT_EQ(JsonString(result, "patient.id").rfind("pmdbref1." + m.region() + ".", 0), 0u)
        << "the opaque case reference, nothing else";
    EXPECT_FALSE(JsonString(result, "patient.contact.name").empty());
    EXPECT_FALSE(JsonString(result, "patient.contact.href").empty());
    EXPECT_GT(JsonAt(result, "patient.features").list_value().values_size(), 0);
  }
  EXPECT_GT(JsonNumber(results.list_value().values(0), "score.patient"), 0.5)
      << "the person whose terms were asked is found";
}

TEST_F(BeaconTest, MatchmakerExchangeRefusesAsTheApiSays) {
  const std::string ok_body =
      R"({"patient": {"id": "P1", "contact": {"name": "N", "href": "mailto:n@x"},
      "features": [{"id": "HP:0001250"}, {"id": "HP:0000113"}, {"id": "HP:0001407"}]}})";
  const std::string v11 = "Content-Type: application/vnd.ga4gh.matchmaker.v1.1+json";
  struct Case {
    std::string method, body, who;
    std::vector<std::string> headers;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", ok_body, "cia", {"Content-Type: application/json"}, 415, "Content-Type"},
           {"POST",
            ok_body,
            "cia",
            {"Content-Type: application/vnd.ga4gh.matchmaker.v2.0+json"},
            406,
            "unsupported API version"},
           {"GET", "", "cia", {}, 405, "POST"},
           {"POST",
            R"({"patient": {"id": "P1", "features": [{"id": "HP:0001250"}]}})",
            "cia",
            {v11},
            422,
            "patient.contact is mandatory"},
           {"POST",
            R"({"patient": {"id": "P1", "contact": {"name": "N", "href": "mailto:n@x"}}})",
            "cia",
            {v11},
            422,
            "features or genomicFeatures"},
           {"POST", ok_body, "anna", {v11}, 403, ""},
       }) {
    Reply r = Curl(c.method, "/mme/match", c.body, c.who, c.headers);
    EXPECT_EQ(r.status, c.status) << c.method << " " << r.body;
    EXPECT_NE(JsonString(ParseJson(r.body), "message").find(c.says), std::string::npos) << r.body;
  }
  auto v2 = ParseJson(Curl("POST", "/mme/match", ok_body, "cia",
                           {"Content-Type: application/vnd.ga4gh.matchmaker.v2.0+json"})
                          .body);
  EXPECT_EQ(JsonString(v2, "supportedVersions.1"), "1.1");
}

// The operators' monitoring counts the HTTPS front end's answers by API and status.
TEST_F(BeaconTest, RequestsAreCountedInTheMetrics) {
  ASSERT_EQ(Curl("GET", "/api/info").status, 200);
  ASSERT_EQ(Curl("GET", "/api/nothing").status, 404);
  CommandResult m = pmdb::testing::Run(
      {"curl", "-sS", "http://127.0.0.1:" + std::to_string(fed_->hub_ops_port()) + "/metrics"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("# TYPE pmdb_https_requests_total counter"), std::string::npos);
  EXPECT_NE(m.out.find("pmdb_https_requests_total{api=\"beacon\",status=\"200\"}"),
            std::string::npos)
      << m.out.substr(0, 3000);
  EXPECT_NE(m.out.find("pmdb_https_requests_total{api=\"beacon\",status=\"404\"}"),
            std::string::npos);
}

// A client that connects and sends nothing (or stops halfway) is disconnected after
// read_timeout_ms, and holds up no one meanwhile.
TEST_F(BeaconTest, ASilentClientIsDisconnected) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(fed_->hub_https_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(send(fd, "\x16\x03\x01", 3, 0), 3) << "the start of a TLS record, then nothing";
  EXPECT_EQ(Curl("GET", "/api/info").status, 200) << "others are served meanwhile";
  timeval wait{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  const auto start = std::chrono::steady_clock::now();
  char buffer[256];
  ssize_t n = 0;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
  }
  EXPECT_LE(n, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8))
      << "closed by the server, not by our own receive timeout";
  close(fd);
}

// CORS for browser clients of the configured origins only.
TEST_F(BeaconTest, CorsForTheConfiguredOriginsOnly) {
  Reply preflight =
      Curl("OPTIONS", "/api/individuals", "", "anna",
           {"Origin: https://beacon-ui.example", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_NE(preflight.headers.find("Access-Control-Allow-Origin: https://beacon-ui.example"),
            std::string::npos)
      << preflight.headers;
  EXPECT_NE(preflight.headers.find("Access-Control-Allow-Methods: GET, POST, OPTIONS"),
            std::string::npos);
  Reply other = Curl("OPTIONS", "/api/individuals", "", "anna", {"Origin: https://evil.example"});
  EXPECT_EQ(other.status, 403);
  Reply get = Curl("GET", "/api/info", "", "anna", {"Origin: https://beacon-ui.example"});
  EXPECT_NE(get.headers.find("Access-Control-Allow-Origin: https://beacon-ui.example"),
            std::string::npos);
  // A question is not asked with HEAD (it would be charged with no answer to read).
  EXPECT_EQ(Curl("HEAD", "/api/individuals?filters=NCIT:C16576").status, 405);
  // A page of another origin cannot make a researcher's browser ask (and spend budget): refused.
  Reply plain = Curl("GET", "/api/individuals?filters=NCIT:C16576", "", "anna",
                     {"Origin: https://evil.example"});
  EXPECT_EQ(plain.status, 403);
  EXPECT_EQ(plain.headers.find("Access-Control-Allow-Origin"), std::string::npos);
  Reply form =
      Curl("POST", "/api/individuals", "{\"meta\": {}}", "anna", {"Content-Type: text/plain"});
  EXPECT_EQ(form.status, 415) << form.body;
}

}  // namespace
}  // namespace pmdb::testing
