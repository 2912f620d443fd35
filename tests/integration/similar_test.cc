// Similar cases for clinicians across the federation, over real mutual TLS: ranking, refusals,
// expiring references, the contact workflow and the audit trail.
#include <gtest/gtest.h>

#include <cmath>

#include "node/base/strings.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

// A rare-disease phenopacket: renal cysts and liver cysts with a PKD1 variant.
std::string CaseJson(const std::string& subject, const std::vector<std::string>& terms,
                     const std::string& variant_pos, const std::string& zygosity,
                     const std::string& excluded = "") {
  std::string features;
  for (const std::string& t : terms) {
    features += (features.empty() ? "" : ",") + std::string(R"({"type":{"id":")") + t + "\"}}";
  }
  if (!excluded.empty()) {
    features += R"(,{"type":{"id":")" + excluded + R"("},"excluded":true})";
  }
  std::string interp;
  if (!variant_pos.empty()) {
    interp =
        R"(,"interpretations":[{"id":"i","diagnosis":{"disease":{"id":"OMIM:173900"},"genomicInterpretations":[{"subjectOrBiosampleId":"s","interpretationStatus":"CAUSATIVE","variantInterpretation":{"variationDescriptor":{"id":"v","geneContext":{"valueId":"HGNC:9008","symbol":"PKD1"},"vcfRecord":{"genomeAssembly":"GRCh38","chrom":"16","pos":")" +
        variant_pos + R"(","ref":"G","alt":"A"},"allelicState":{"id":")" + zygosity +
        R"("}}}}]}}])";
  }
  return R"({"id":"p-)" + subject + R"(","subject":{"id":")" + subject +
         R"(","sex":"FEMALE","timeAtLastEncounter":{"age":{"iso8601duration":"P34Y"}}},"phenotypicFeatures":[)" +
         features + "]" + interp +
         R"(,"diseases":[{"term":{"id":"ICD10:Q61.2"}}],"metaData":{"submittedBy":"Njurmottagningen"}})";
}

constexpr const char* kHet = "GENO:0000135";
const std::vector<std::string> kPatientTerms = {"HP:0000113", "HP:0001407", "HP:0000822"};

class SimilarTest : public ::testing::Test {
 protected:
  // Cases: vast holds the patient's twin, syd a related case with the variant homozygous,
  // norr one with the phenotype but another variant. Ingested before the nodes start.
  void Ingest(const std::string& region, const std::string& json) {
    std::string path = fed_.dir().Path(region + "-cases.jsonl");
    WriteFile(path, json + "\n");
    auto r = Pmdb({"ingest", "--db", fed_.db(region), "--phenopackets", path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void Start(int64_t vast_reference_ttl_seconds = 3600) {
    Ingest("vast", CaseJson("VAST-C1", kPatientTerms, "2100000", kHet));
    Ingest("syd", CaseJson("SYD-C2", {"HP:0000113", "HP:0001407"}, "2100000", "GENO:0000136"));
    Ingest("norr", CaseJson("NORR-C3", {"HP:0000107", "HP:0000822"}, "2100500", kHet));
    fed_.node_config("vast").settings.clinician.reference_ttl_seconds = vast_reference_ttl_seconds;
    fed_.StartNodes();
    fed_.StartHub(5000);
    WriteFile(patient_, CaseJson("PATIENT-1", kPatientTerms, "2100000", kHet));
  }

  grpc::Status Similar(const std::string& who, v1::FederatedSimilarCases* out, uint32_t top = 5) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SimilarCasesRequest req;
    v1::CaseQuery* q = req.mutable_patient();
    for (const auto& t : kPatientTerms) q->add_phenotypes(t);
    v1::CaseVariant* v = q->add_variants();
    v->set_assembly("GRCh38");
    v->set_chrom("chr16");
    v->set_pos(2100000);
    v->set_ref("G");
    v->set_alt("A");
    v->set_gene("PKD1");
    v->set_zygosity(v1::HETEROZYGOUS);
    q->add_diagnoses("Q61.2");
    req.set_top(top);
    return fed_.Hub(who)->SimilarCases(&ctx, req, out);
  }

  grpc::Status RequestContact(const std::string& who, const std::string& reference,
                              v1::ContactTicket* out) {
    grpc::ClientContext ctx;
    v1::ContactRequest req;
    req.set_case_reference(reference);
    req.set_reason("same PKD1 allele and a similar renal and hepatic phenotype");
    return fed_.Hub(who)->RequestContact(&ctx, req, out);
  }

  grpc::Status Status(const std::string& who, const std::string& id, v1::ContactTicket* out) {
    grpc::ClientContext ctx;
    v1::ContactStatusRequest req;
    req.set_request_id(id);
    return fed_.Hub(who)->ContactStatus(&ctx, req, out);
  }

  std::vector<v1::AuditEntry> Audit(const std::string& region) {
    grpc::ClientContext ctx;
    v1::AuditListRequest req;
    v1::AuditListReply reply;
    std::string op = region == "vast" ? "olle" : "nils";
    EXPECT_TRUE(fed_.Admin(op, region)->AuditList(&ctx, req, &reply).ok());
    return {reply.entries().begin(), reply.entries().end()};
  }

  Federation fed_{60};
  std::string patient_ = fed_.dir().Path("patient.json");
};

TEST_F(SimilarTest, ClinicianGetsAGlobalTopKWithReferencesAndNothingElse) {
  Start();
  v1::FederatedSimilarCases a;
  grpc::Status s = Similar("cia", &a);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(a.partial());
  ASSERT_EQ(a.regions_size(), 6);
  for (const auto& p : a.regions()) {
    EXPECT_EQ(p.status(), v1::REGION_OK) << p.region() << ": " << p.detail();
    EXPECT_EQ(p.similar().matches_size(), 0) << "matches are merged, not repeated per region";
    EXPECT_EQ(p.similar().cases_considered(), 0u) << "a count of cases is not reported";
  }
  // The three related cases, then cohort members above the score threshold (0.2).
  ASSERT_GE(a.matches_size(), 3);
  for (const v1::CaseMatch& m : a.matches()) {
    EXPECT_GE(m.score(), 0.2) << m.region();
    EXPECT_NEAR(m.score() * 100, std::round(m.score() * 100), 1e-6) << "two decimals";
    for (const v1::PhenotypeMatch& p : m.phenotypes()) {
      EXPECT_EQ(p.information_content(), 0) << "it would tell the region's term frequencies";
    }
  }
  // The twin first, with score 1; the homozygous relative next; ordered by score throughout.
  const v1::CaseMatch& best = a.matches(0);
  EXPECT_EQ(best.region(), "vast");
  EXPECT_NEAR(best.score(), 1.0, 1e-9);
  ASSERT_EQ(best.variants_size(), 1);
  EXPECT_EQ(best.variants(0).level(), "variant");
  EXPECT_EQ(best.variants(0).zygosity(), v1::HETEROZYGOUS);
  EXPECT_EQ(best.phenotypes_size(), 3);
  EXPECT_EQ(best.sex(), v1::FEMALE);
  EXPECT_EQ(best.age_band(), "30-39");
  EXPECT_EQ(best.icd10_chapter().substr(0, 6), "XVII C");
  EXPECT_EQ(best.care_unit(), "Njurmottagningen");
  EXPECT_EQ(best.contact(), "klinisk genetik, region vast");
  EXPECT_TRUE(best.case_reference().starts_with("pmdbref1.vast.")) << best.case_reference();
  EXPECT_GT(best.reference_expires_unix(), 0);
  EXPECT_EQ(a.matches(1).region(), "syd");
  EXPECT_EQ(a.matches(1).variants(0).zygosity(), v1::HOMOZYGOUS);
  EXPECT_EQ(a.matches(2).region(), "norr") << "same gene, related phenotype";
  EXPECT_EQ(a.matches(2).variants(0).level(), "gene");
  for (int i = 1; i < a.matches_size(); ++i) {
    EXPECT_GE(a.matches(i - 1).score(), a.matches(i).score());
  }
  // Nothing identifying leaves: no subject ids, no full phenotype lists.
  std::string wire = a.SerializeAsString();
  for (const char* id : {"VAST-C1", "SYD-C2", "NORR-C3", "VAST-0", "SYD-0"}) {
    EXPECT_EQ(wire.find(id), std::string::npos) << id;
  }
  for (const auto& m : a.matches()) EXPECT_TRUE(m.subject_id().empty());

  // Same question, same ranking (references are fresh each time, scores are not).
  v1::FederatedSimilarCases again;
  ASSERT_TRUE(Similar("cia", &again).ok());
  for (int i = 0; i < a.matches_size(); ++i) {
    EXPECT_EQ(again.matches(i).region(), a.matches(i).region());
    EXPECT_EQ(again.matches(i).score(), a.matches(i).score());
    EXPECT_NE(again.matches(i).case_reference(), a.matches(i).case_reference());
  }

  // The region's audit names the clinician, the hub it came through, and each individual whose
  // data was matched; the hub's names the clinician too.
  bool found = false;
  for (const v1::AuditEntry& e : Audit("vast")) {
    if (e.method() != "RegionService/SimilarCases") continue;
    found = true;
    EXPECT_EQ(e.caller(), "spiffe://test-fed/region/vast/clinician/cia");
    EXPECT_EQ(e.via(), "spiffe://test-fed/hub");
    EXPECT_EQ(e.outcome(), "ok");
    EXPECT_EQ(e.released(), pmdb::StrCat("matches=", e.individuals_size()));
    EXPECT_GE(e.individuals_size(), 1);
    EXPECT_NE(e.query().find("HP:0000113"), std::string::npos);
  }
  EXPECT_TRUE(found);
}

TEST_F(SimilarTest, OnlyCliniciansMaySearch) {
  Start();
  v1::FederatedSimilarCases a;
  for (const char* who : {"anna", "olle"}) {
    grpc::Status s = Similar(who, &a);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << who;
  }
  // Straight to a node, even claiming to act for a clinician: refused (nodes answer the hub).
  grpc::ClientContext ctx;
  ctx.AddMetadata("pmdb-on-behalf-of", "spiffe://test-fed/region/vast/clinician/cia");
  v1::SimilarCasesRequest req;
  for (const std::string& t : kPatientTerms) req.mutable_patient()->add_phenotypes(t);
  v1::SimilarCasesAnswer answer;
  EXPECT_EQ(fed_.Region("cia", "vast")->SimilarCases(&ctx, req, &answer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A researcher may not ask for contact either.
  v1::ContactTicket t;
  EXPECT_EQ(RequestContact("anna", "pmdbref1.vast.x", &t).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SimilarTest, ARegionWithoutClinicianSharingIsReportedAsRefused) {
  fed_.node_config("mellan").settings.sharing.erase("clinician");
  Start();
  v1::FederatedSimilarCases a;
  ASSERT_TRUE(Similar("cia", &a).ok());
  for (const auto& p : a.regions()) {
    EXPECT_EQ(p.status(), p.region() == "mellan" ? v1::REGION_REFUSED : v1::REGION_OK)
        << p.region();
  }
  EXPECT_TRUE(a.partial());
  EXPECT_EQ(a.matches(0).region(), "vast");
}

// Each clinician has a number of searches per day in each region; a region whose limit is used
// up is reported as refused while the others answer, and a restart does not reset the count.
TEST_F(SimilarTest, SearchesPerClinicianAndDayAreLimited) {
  fed_.node_config("vast").settings.clinician.daily_searches = 2;
  Start();
  v1::FederatedSimilarCases a;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(Similar("cia", &a).ok());
    EXPECT_FALSE(a.partial()) << i;
  }
  ASSERT_TRUE(Similar("cia", &a).ok());
  EXPECT_TRUE(a.partial());
  for (const auto& p : a.regions()) {
    EXPECT_EQ(p.status(), p.region() == "vast" ? v1::REGION_REFUSED : v1::REGION_OK) << p.region();
    if (p.region() == "vast") {
      EXPECT_NE(p.detail().find("daily limit of 2"), std::string::npos) << p.detail();
    }
  }
  for (const auto& m : a.matches()) EXPECT_NE(m.region(), "vast");
  ASSERT_TRUE(Similar("sven", &a).ok());
  EXPECT_FALSE(a.partial()) << "the limit is per clinician";

  // Restarted, the node charges today's searches again from its audit log.
  fed_.StopNode("vast");
  fed_.StartNode("vast");
  grpc::ClientContext ctx;
  ctx.AddMetadata("pmdb-on-behalf-of", "spiffe://test-fed/region/vast/clinician/cia");
  v1::SimilarCasesRequest req;
  for (const std::string& t : kPatientTerms) req.mutable_patient()->add_phenotypes(t);
  v1::SimilarCasesAnswer answer;
  EXPECT_EQ(fed_.Region("hub", "vast")->SimilarCases(&ctx, req, &answer).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::ClientContext ctx2;
  ctx2.AddMetadata("pmdb-on-behalf-of", "spiffe://test-fed/region/syd/clinician/sven");
  EXPECT_TRUE(fed_.Region("hub", "vast")->SimilarCases(&ctx2, req, &answer).ok());
}

TEST_F(SimilarTest, ContactWorkflowEndToEnd) {
  Start();
  v1::FederatedSimilarCases a;
  ASSERT_TRUE(Similar("cia", &a).ok());
  const std::string reference = a.matches(0).case_reference();

  v1::ContactTicket ticket;
  grpc::Status s = RequestContact("cia", reference, &ticket);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ticket.state(), v1::CONTACT_PENDING);
  EXPECT_TRUE(ticket.request_id().starts_with("vast/")) << ticket.request_id();

  // The operator of vast sees it, with the local subject; norr's operator may not look.
  {
    grpc::ClientContext ctx;
    v1::ContactListRequest req;
    req.set_state(v1::CONTACT_PENDING);
    v1::ContactListReply list;
    ASSERT_TRUE(fed_.Admin("olle", "vast")->ContactList(&ctx, req, &list).ok());
    ASSERT_EQ(list.requests_size(), 1);
    EXPECT_EQ(list.requests(0).subject_id(), "VAST-C1");
    EXPECT_EQ(list.requests(0).requester(), "spiffe://test-fed/region/vast/clinician/cia");
    EXPECT_NE(list.requests(0).reason().find("PKD1"), std::string::npos);
    EXPECT_EQ(list.requests(0).care_unit(), "Njurmottagningen");
  }
  // The CLI answers it, as the operator would.
  std::vector<std::string> olle = {
      "PMDB_CERT=" + fed_.dir().Path("olle.crt"), "PMDB_KEY=" + fed_.dir().Path("olle.key"),
      "PMDB_CA=" + fed_.dir().Path("ca/ca.crt"), "PMDB_CRL=" + fed_.dir().Path("ca/ca.crl")};
  std::string node = "127.0.0.1:" + std::to_string(fed_.node_port("vast"));
  auto listed = Pmdb({"contact", "list", "--node", node}, olle);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("VAST-C1"), std::string::npos) << listed.out;
  auto answered = Pmdb({"contact", "answer", "--node", node, ticket.request_id(), "--accept",
                        "--message", "Dr Lind will call you"},
                       olle);
  ASSERT_EQ(answered.exit_code, 0) << answered.err;
  auto twice = Pmdb(
      {"contact", "answer", "--node", node, ticket.request_id(), "--decline", "--message", "no"},
      olle);
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("already answered"), std::string::npos) << twice.err;

  // The clinician sees the answer; another clinician cannot see the request at all.
  v1::ContactTicket status;
  ASSERT_TRUE(Status("cia", ticket.request_id(), &status).ok());
  EXPECT_EQ(status.state(), v1::CONTACT_ACCEPTED);
  EXPECT_EQ(status.answer(), "Dr Lind will call you");
  EXPECT_EQ(Status("sven", ticket.request_id(), &status).error_code(), grpc::StatusCode::NOT_FOUND);
  std::vector<std::string> cia = {
      "PMDB_CERT=" + fed_.dir().Path("cia.crt"), "PMDB_KEY=" + fed_.dir().Path("cia.key"),
      "PMDB_CA=" + fed_.dir().Path("ca/ca.crt"), "PMDB_CRL=" + fed_.dir().Path("ca/ca.crl"),
      "PMDB_HUB=127.0.0.1:" + std::to_string(fed_.hub_port())};
  auto st = Pmdb({"contact", "status", ticket.request_id()}, cia);
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("accepted"), std::string::npos) << st.out;

  // Audit at vast: the request and the answer, each naming the individual.
  int contact_entries = 0;
  for (const v1::AuditEntry& e : Audit("vast")) {
    if (e.method() == "RegionService/RequestContact" ||
        e.method() == "AdminService/ContactAnswer") {
      if (e.outcome() != "ok") continue;
      ++contact_entries;
      EXPECT_EQ(e.individuals_size(), 1) << e.method();
      EXPECT_EQ(e.ShortDebugString().find("VAST-C1"), std::string::npos);
      EXPECT_EQ(e.ShortDebugString().find("PKD1 allele"), std::string::npos)
          << "the reason stays in the request, not the log";
    }
  }
  EXPECT_EQ(contact_entries, 2);

  // The patient's right to know, served from vast's log by subject id: the search that
  // returned the case, the request and the answer, and nothing about other patients.
  ASSERT_TRUE(Similar("sven", &a).ok());
  auto known = Pmdb({"audit", "list", "--db", fed_.db("vast"), "--subject", "VAST-C1", "--json"});
  ASSERT_EQ(known.exit_code, 0) << known.err;
  std::vector<std::string> lines;
  for (std::string_view line : Split(known.out, '\n')) {
    if (!line.empty()) lines.emplace_back(line);
  }
  ASSERT_EQ(lines.size(), 4u) << known.out;  // cia's search, her request, the answer, sven's search
  EXPECT_NE(lines[0].find("RegionService/SimilarCases"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("clinician/cia"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("RegionService/RequestContact"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("AdminService/ContactAnswer"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("clinician/sven"), std::string::npos) << lines[3];
  auto unknown = Pmdb({"audit", "list", "--db", fed_.db("vast"), "--subject", "VAST-C9"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("subject VAST-C9 is not in"), std::string::npos) << unknown.err;

  // Consent for care withdrawn: the case is neither found nor contactable any more.
  {
    grpc::ClientContext ctx;
    v1::ConsentRequest req;
    req.add_subjects("VAST-C1");
    req.set_purpose("care");
    v1::ConsentReply reply;
    ASSERT_TRUE(fed_.Admin("olle", "vast")->Consent(&ctx, req, &reply).ok());
  }
  v1::FederatedSimilarCases after;
  ASSERT_TRUE(Similar("cia", &after).ok());
  EXPECT_NE(after.matches(0).region(), "vast");
  EXPECT_EQ(RequestContact("cia", reference, &ticket).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// Expiry itself is tested on a fake clock in tests/unit/node/core/node_core_test.cc.
TEST_F(SimilarTest, ForgedReferencesAreRefused) {
  Start();
  v1::FederatedSimilarCases a;
  ASSERT_TRUE(Similar("cia", &a).ok());
  ASSERT_EQ(a.matches(0).region(), "vast");
  std::string reference = a.matches(0).case_reference();
  // A reference moved to another region, or damaged, does not verify.
  v1::ContactTicket t;
  std::string moved = "pmdbref1.syd." + reference.substr(std::string("pmdbref1.vast.").size());
  EXPECT_EQ(RequestContact("cia", moved, &t).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(RequestContact("cia", "pmdbref1.nowhere.abc", &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(RequestContact("cia", reference, &t).ok()) << "the real one still works";
}

TEST_F(SimilarTest, CommandLineForCliniciansAndOperators) {
  Start();
  std::vector<std::string> cia = {
      "PMDB_CERT=" + fed_.dir().Path("cia.crt"), "PMDB_KEY=" + fed_.dir().Path("cia.key"),
      "PMDB_CA=" + fed_.dir().Path("ca/ca.crt"), "PMDB_CRL=" + fed_.dir().Path("ca/ca.crl")};
  std::string hub = "127.0.0.1:" + std::to_string(fed_.hub_port());
  auto text = Pmdb({"similar", "--hub", hub, "--case", patient_, "--top", "3"}, cia);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("1. vast  score 1.000"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("reference: pmdbref1.vast."), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("PATIENT-1"), std::string::npos);
  auto json = Pmdb({"similar", "--hub", hub, "--case", patient_, "--json"}, cia);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = ParseJson(json.out);
  EXPECT_EQ(JsonString(j, "matches.0.case_reference").rfind("pmdbref1.vast.", 0), 0u) << json.out;
  EXPECT_EQ(JsonNumber(j, "matches.0.rank"), 1);
  EXPECT_EQ(JsonString(j, "matches.0.sex"), "F");
  EXPECT_EQ(JsonString(j, "matches.0.subject_id"), "");
  // Times are RFC 3339, enumerations the words of the text output.
  EXPECT_EQ(JsonString(j, "matches.0.reference_expires").size(), 20u) << json.out;
  EXPECT_EQ(JsonString(j, "matches.0.reference_expires").back(), 'Z');
  EXPECT_EQ(JsonString(j, "matches.0.variants.0.zygosity"), "het");
  EXPECT_EQ(JsonString(j, "regions.0.status"), "ok");
  EXPECT_FALSE(JsonBool(j, "partial"));

  // The operator's own store: not beside the running node (the search could not be audited in
  // the store the node holds; --node is the way then), and once the node is stopped, subject
  // ids and no references.
  auto beside = Pmdb({"similar", "--db", fed_.db("vast"), "--case", patient_, "--top", "2"});
  EXPECT_EQ(beside.exit_code, 1);
  EXPECT_NE(beside.err.find("another pmdb process"), std::string::npos) << beside.err;
  fed_.StopNode("vast");
  auto local = Pmdb({"similar", "--db", fed_.db("vast"), "--case", patient_, "--top", "2"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_NE(local.out.find("subject VAST-C1"), std::string::npos) << local.out;
  EXPECT_EQ(local.out.find("pmdbref1"), std::string::npos);

  auto bad = Pmdb({"similar", "--db", fed_.db("vast"), "--case", fed_.dir().Path("none.json")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("none.json: cannot open"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace pmdb::testing
