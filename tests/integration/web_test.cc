// The web page's server side, asked with curl holding real certificates over mutual TLS:
// pmdb's JSON calls give the gRPC path's numbers, take a question as text, refuse what a page
// of another site could make a browser send, and a node's page is for its own operators only.
// The page itself is driven in Chromium by web_page_test.cc (label browser).
#include <google/protobuf/util/json_util.h>

#include <string>

#include "gtest/gtest.h"
#include "node/base/strings.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/parser.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

class WebTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fed_ = new Federation(120, 20);
    fed_->node_config("vast").https.listen = "127.0.0.1:0";
    fed_->StartNodes();
    fed_->StartHub(2000, {}, [](server::HubConfig& c) { c.https.listen = "127.0.0.1:0"; });
  }
  static void TearDownTestSuite() {
    delete fed_;
    fed_ = nullptr;
  }

  static HttpsReply Hub(const std::string& method, const std::string& path,
                        const std::string& body = "", const std::string& who = "anna",
                        const std::vector<std::string>& headers = {}) {
    return CurlHttps(method, StrCat("https://127.0.0.1:", fed_->hub_https_port(), path),
                     fed_->dir().Path("ca/ca.crt"), who.empty() ? "" : fed_->dir().Path(who), body,
                     headers);
  }
  static HttpsReply Node(const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& who = "olle") {
    return CurlHttps(method, StrCat("https://127.0.0.1:", fed_->node_page_port("vast"), path),
                     fed_->dir().Path("ca/ca.crt"), fed_->dir().Path(who), body);
  }
  template <typename T>
  static T Parse(const std::string& json) {
    T message;
    auto s = google::protobuf::util::JsonStringToMessage(json, &message);
    EXPECT_TRUE(s.ok()) << s << "\n" << json;
    return message;
  }

  static Federation* fed_;
};

Federation* WebTest::fed_ = nullptr;

TEST_F(WebTest, TheCertificateSaysWhoYouAre) {
  HttpsReply me = Hub("GET", "/pmdb/v1/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_NE(me.body.find(R"j("role":"researcher")j"), std::string::npos) << me.body;
  EXPECT_NE(me.body.find(R"j("name":"anna")j"), std::string::npos) << me.body;
  EXPECT_NE(me.body.find(R"j("server":"hub")j"), std::string::npos) << me.body;
  // Without a certificate the TLS handshake itself fails: no HTTP answer at all.
  HttpsReply nobody = Hub("GET", "/pmdb/v1/me", "", "");
  EXPECT_EQ(nobody.status, 0) << nobody.body;
}

TEST_F(WebTest, ACountAsTextGivesTheGrpcPathsNumbers) {
  const std::string question = "sex(F) AND age(40-)";
  HttpsReply web = Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(F) AND age(40-)"})j");
  ASSERT_EQ(web.status, 200) << web.body;
  auto answer = Parse<v1::FederatedCount>(web.body);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CountRequest req;
  *req.mutable_criterion() = *query::ParseCriterion(question);
  v1::FederatedCount grpc;
  ASSERT_TRUE(fed_->Hub("anna")->Count(&ctx, req, &grpc).ok());

  ASSERT_EQ(answer.regions_size(), 6);
  EXPECT_EQ(answer.total().low(), grpc.total().low());
  EXPECT_EQ(answer.total().high(), grpc.total().high());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(answer.regions(i).status(), v1::REGION_OK) << answer.regions(i).detail();
    EXPECT_EQ(answer.regions(i).count().count().low(), grpc.regions(i).count().count().low());
  }
  // The same question as a criterion tree, in protobuf's JSON mapping.
  std::string tree;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(req, &tree).ok());
  HttpsReply as_tree = Hub("POST", "/pmdb/v1/count", tree);
  ASSERT_EQ(as_tree.status, 200) << as_tree.body;
  EXPECT_EQ(Parse<v1::FederatedCount>(as_tree.body).total().low(), grpc.total().low());
}

TEST_F(WebTest, ABreakdownAndAFrequencyAsTheGrpcPathGivesThem) {
  HttpsReply b = Hub("POST", "/pmdb/v1/breakdown",
                     R"j({"query": "age(30-)", "dimensions": ["SEX", "AGE_BAND"]})j");
  ASSERT_EQ(b.status, 200) << b.body;
  auto breakdown = Parse<v1::FederatedBreakdown>(b.body);
  EXPECT_EQ(breakdown.dimensions_size(), 2);
  EXPECT_GT(breakdown.totals_size(), 0);
  HttpsReply f = Hub("POST", "/pmdb/v1/frequency", R"j({"query": "variant(GRCh38:1:1:A:T)"})j");
  ASSERT_EQ(f.status, 200) << f.body;
  EXPECT_EQ(Parse<v1::FederatedFrequency>(f.body).regions_size(), 6);
}

TEST_F(WebTest, BadRequestsAreRefusedWithTheReason) {
  HttpsReply typo = Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(F) AND"})j");
  EXPECT_EQ(typo.status, 400);
  EXPECT_NE(typo.body.find("query: column"), std::string::npos) << typo.body;
  HttpsReply both =
      Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(F)", "criterion": {"sex": "FEMALE"}})j");
  EXPECT_EQ(both.status, 400);
  EXPECT_NE(both.body.find("not both"), std::string::npos) << both.body;
  HttpsReply unknown = Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(F)", "costonly": 1})j");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("CountRequest"), std::string::npos) << unknown.body;
  HttpsReply nothing = Hub("POST", "/pmdb/v1/nothing", "{}");
  EXPECT_EQ(nothing.status, 404);
  HttpsReply get = Hub("GET", "/pmdb/v1/count");
  EXPECT_EQ(get.status, 404);
  // Hostile bodies: 5,000 levels of nesting, invalid UTF-8 in the question (the size limit is
  // the front end's, tested in BeaconTest).
  HttpsReply deep =
      Hub("POST", "/pmdb/v1/count",
          R"j({"query": "sex(F)", "x": )j" + std::string(5000, '[') + std::string(5000, ']') + "}");
  EXPECT_EQ(deep.status, 400) << deep.body.substr(0, 300);
  HttpsReply bytes = Hub("POST", "/pmdb/v1/count", "{\"query\": \"dx(C5\xff)\"}");
  EXPECT_EQ(bytes.status, 400) << bytes.body;
  // A clinician's count is the hub's to refuse, as over gRPC.
  HttpsReply clinician = Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(F)"})j", "cia");
  EXPECT_EQ(clinician.status, 403) << clinician.body;
}

TEST_F(WebTest, WhatAPageOfAnotherSiteCouldMakeABrowserSendIsRefused) {
  const std::string question = R"j({"query": "sex(F)"})j";
  // A form of another site posts text/plain without asking first: not taken.
  HttpsReply form = Hub("POST", "/pmdb/v1/count", question, "anna", {"Content-Type: text/plain"});
  EXPECT_EQ(form.status, 400);
  EXPECT_NE(form.body.find("application/json"), std::string::npos) << form.body;
  // Another origin, and another site's image or script (Fetch Metadata, no Origin).
  HttpsReply other =
      Hub("POST", "/pmdb/v1/count", question, "anna", {"Origin: https://evil.example"});
  EXPECT_EQ(other.status, 403);
  HttpsReply image =
      Hub("GET", "/api/individuals?filters=sex", "", "anna",
          {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: image"});
  EXPECT_EQ(image.status, 403) << image.body;
  // Following a link from elsewhere to the page is fine; the page's own calls are too.
  HttpsReply link =
      Hub("GET", "/", "", "anna",
          {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document"});
  EXPECT_EQ(link.status, 200);
  // ... but not a link (or a redirect, a GET form) from elsewhere to a question.
  HttpsReply question_link =
      Hub("GET", "/api/individuals?filters=NCIT:C16576", "", "anna",
          {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document"});
  EXPECT_EQ(question_link.status, 403) << question_link.body;
  const std::string self = StrCat("Origin: https://127.0.0.1:", fed_->hub_https_port());
  HttpsReply own =
      Hub("POST", "/pmdb/v1/count", question, "anna", {self, "Sec-Fetch-Site: same-origin"});
  EXPECT_EQ(own.status, 200) << own.body;
}

TEST_F(WebTest, ThePageLoadsNothingFromElsewhere) {
  HttpsReply page = Hub("GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.headers.find("text/html"), std::string::npos);
  EXPECT_NE(page.headers.find("Content-Security-Policy: default-src 'self'"), std::string::npos)
      << page.headers;
  EXPECT_NE(page.headers.find("X-Frame-Options: DENY"), std::string::npos);
  EXPECT_NE(page.body.find("/app/app.js"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos) << "no resource from elsewhere";
  HttpsReply script = Hub("GET", "/app/app.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_NE(script.headers.find("text/javascript"), std::string::npos);
  EXPECT_EQ(Hub("GET", "/app/missing.js").status, 404);
}

TEST_F(WebTest, ANodesPageIsForItsOwnOperators) {
  EXPECT_EQ(Node("GET", "/").status, 200);
  HttpsReply me = Node("GET", "/pmdb/v1/me");
  EXPECT_NE(me.body.find(R"j("server":"node")j"), std::string::npos) << me.body;
  for (const char* who : {"anna", "cia", "nils"}) {  // researcher, clinician, norr's operator
    HttpsReply r = Node("GET", "/", "", who);
    EXPECT_EQ(r.status, 403) << who;
    EXPECT_NE(r.body.find("operators of region vast"), std::string::npos) << r.body;
    EXPECT_EQ(Node("GET", "/pmdb/v1/status", "", who).status, 403) << who;
  }
  HttpsReply status = Node("GET", "/pmdb/v1/status");
  ASSERT_EQ(status.status, 200) << status.body;
  auto reply = Parse<v1::StatusReply>(status.body);
  EXPECT_EQ(reply.region(), "vast");
  EXPECT_EQ(reply.individuals(), 120u);
  HttpsReply contacts = Node("POST", "/pmdb/v1/contacts", "{}");
  EXPECT_EQ(contacts.status, 200) << contacts.body;
}

TEST_F(WebTest, TheAuditLogIsSearchedByCallerAndBySubject) {
  ASSERT_EQ(Hub("POST", "/pmdb/v1/count", R"j({"query": "sex(M)"})j").status, 200);
  HttpsReply by_caller = Node("POST", "/pmdb/v1/audit",
                              R"j({"caller": "spiffe://test-fed/researcher/anna", "limit": 50})j");
  ASSERT_EQ(by_caller.status, 200) << by_caller.body;
  auto list = Parse<v1::AuditListReply>(by_caller.body);
  ASSERT_GT(list.entries_size(), 0);
  for (const v1::AuditEntry& e : list.entries()) {
    EXPECT_EQ(e.caller(), "spiffe://test-fed/researcher/anna");
  }
  // A subject nobody looked at has no entries; one that is not there is said to be missing.
  HttpsReply subject = Node("POST", "/pmdb/v1/audit", R"j({"subject": "VAST-0000001"})j");
  ASSERT_EQ(subject.status, 200) << subject.body;
  EXPECT_EQ(Parse<v1::AuditListReply>(subject.body).entries_size(), 0) << subject.body;
  HttpsReply missing = Node("POST", "/pmdb/v1/audit", R"j({"subject": "NOBODY-1"})j");
  EXPECT_EQ(missing.status, 404) << missing.body;
  // The look-up itself is listed for that patient next time.
  HttpsReply again = Node("POST", "/pmdb/v1/audit", R"j({"subject": "VAST-0000001"})j");
  auto seen = Parse<v1::AuditListReply>(again.body);
  ASSERT_EQ(seen.entries_size(), 1) << again.body;
  EXPECT_EQ(seen.entries(0).method(), "AdminService/AuditList");
}

}  // namespace
}  // namespace pmdb::testing
