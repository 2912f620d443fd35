// The operations endpoint of a node and of the hub: Prometheus metrics under the names
// dashboards expect, checked by Prometheus's own promtool, and liveness and readiness probes
// that need no client certificate.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "query/parser.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

struct HttpReply {
  int status = 0;
  std::string body;
};

// One plain HTTP/1.1 request to 127.0.0.1:port, read to the end.
HttpReply Http(int port, const std::string& method, const std::string& target,
               const std::string& extra_header = "") {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return reply;
  }
  std::string request =
      StrCat(method, " ", target, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
             extra_header, "\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return reply;
  }
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  if (all.size() > 12 && all.starts_with("HTTP/1.1 ")) reply.status = std::stoi(all.substr(9, 3));
  size_t body = all.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = all.substr(body + 4);
  return reply;
}

// The value of the sample line that starts with `series` ("name{labels}"), or -1.
double ValueOf(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// promtool check metrics on the text: its exit code and what it said.
std::pair<int, std::string> Promtool(const TempDir& dir, const std::string& text) {
  WriteFile(dir.Path("scrape.txt"), text);
  std::string out = dir.Path("promtool.out");
  int rc = std::system(
      StrCat("promtool check metrics < ", dir.Path("scrape.txt"), " > ", out, " 2>&1").c_str());
  return {WEXITSTATUS(rc), ReadFile(out)};
}

TEST(OpsEndpointTest, MetricsAndProbesOfANodeAndTheHub) {
  Federation fed(60, 10);
  fed.node_config("vast").metrics_listen = "127.0.0.1:0";
  fed.node_config("vast").settings.disclosure.differential_privacy = true;
  fed.StartNodes();
  fed.StartHub(2000, {}, [](server::HubConfig& c) { c.metrics_listen = "127.0.0.1:0"; });
  const int node = fed.node_ops_port("vast");
  const int hub = fed.hub_ops_port();
  ASSERT_GT(node, 0);
  ASSERT_GT(hub, 0);
  EXPECT_EQ(fed.node_ops_port("norr"), 0) << "no [metrics] listen: no endpoint";

  grpc::ClientContext ctx;
  v1::CountRequest req;
  *req.mutable_criterion() = *query::ParseCriterion("sex(F)");
  v1::FederatedCount count;
  ASSERT_TRUE(fed.Hub()->Count(&ctx, req, &count).ok());

  // Probes: plain HTTP, no certificate.
  EXPECT_EQ(Http(node, "GET", "/livez").status, 200);
  EXPECT_EQ(Http(node, "GET", "/healthz").status, 200);
  HttpReply ready = Http(node, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(Http(hub, "GET", "/readyz").status, 200);
  EXPECT_EQ(Http(node, "GET", "/nothing").status, 404);
  EXPECT_EQ(Http(node, "POST", "/metrics").status, 405);
  // Hostile requests: headers past 8 KiB are refused as a bad request; a client that connects
  // and says nothing holds up no one else.
  EXPECT_EQ(Http(node, "GET", "/metrics", "X-Filler: " + std::string(20000, 'a') + "\r\n").status,
            400);
  int idle = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(node));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  EXPECT_EQ(Http(node, "GET", "/livez").status, 200) << "while another client says nothing";
  close(idle);

  HttpReply scraped = Http(node, "GET", "/metrics");
  ASSERT_EQ(scraped.status, 200);
  const std::string& m = scraped.body;
  EXPECT_EQ(ValueOf(m,
                    "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"pmdb.v1."
                    "RegionService\",grpc_method=\"Count\",grpc_code=\"OK\"}"),
            1)
      << m;
  EXPECT_EQ(ValueOf(m,
                    "grpc_server_handling_seconds_count{grpc_type=\"unary\",grpc_service=\""
                    "pmdb.v1.RegionService\",grpc_method=\"Count\"}"),
            1);
  EXPECT_GT(
      ValueOf(
          m,
          "pmdb_budget_spent_rho{scope=\"project\",project=\"test-project\",window_days=\"30\"}"),
      0)
      << m << "the count was charged to the project";
  EXPECT_GT(ValueOf(m,
                    "pmdb_budget_left_rho{scope=\"project\",project=\"test-project\",window_"
                    "days=\"30\"}"),
            0);
  EXPECT_GT(ValueOf(m, "pmdb_budget_left_rho{scope=\"region\",project=\"\",window_days=\"365\"}"),
            0);
  EXPECT_GT(ValueOf(m, "pmdb_certificate_expiry_timestamp_seconds{certificate=\"server\"}"), 1.7e9);
  EXPECT_GE(ValueOf(m, "pmdb_connections_open"), 1) << "the hub's connection";
  EXPECT_GT(ValueOf(m, "pmdb_connections_max"), 0);
  EXPECT_GT(ValueOf(m, "pmdb_store_disk_bytes"), 0);
  EXPECT_GE(ValueOf(m, "pmdb_rocksdb_pending_compaction_bytes"), 0);
  EXPECT_EQ(ValueOf(m, "pmdb_rocksdb_write_stopped"), 0);
  EXPECT_EQ(ValueOf(m, "pmdb_ready"), 1);
  EXPECT_GE(ValueOf(m, "pmdb_audit_entries"), 1);
  EXPECT_NE(m.find("pmdb_build_info{version=\""), std::string::npos);
  // Nothing about people: no subject ids, no question text.
  EXPECT_EQ(m.find("sex(F)"), std::string::npos);
  EXPECT_EQ(m.find("VAST-"), std::string::npos);
  auto [rc, said] = Promtool(fed.dir(), m);
  EXPECT_EQ(rc, 0) << said;

  HttpReply hub_scraped = Http(hub, "GET", "/metrics");
  ASSERT_EQ(hub_scraped.status, 200);
  const std::string& h = hub_scraped.body;
  EXPECT_EQ(ValueOf(h,
                    "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"pmdb.v1."
                    "FederationService\",grpc_method=\"Count\",grpc_code=\"OK\"}"),
            1)
      << h;
  for (const std::string& r : SixRegions()) {
    EXPECT_EQ(ValueOf(h, StrCat("pmdb_hub_region_answers_total{region=\"", r, "\",status=\"ok\"}")),
              1)
        << r;
    EXPECT_EQ(ValueOf(h, StrCat("pmdb_hub_region_witness_refused{region=\"", r, "\"}")), 0);
  }
  auto [hub_rc, hub_said] = Promtool(fed.dir(), h);
  EXPECT_EQ(hub_rc, 0) << hub_said;

  // An audit log that cannot be written: not ready, and the metric says so, until a write works.
  ArmFailure("audit.write", 1);
  grpc::ClientContext ctx2;
  v1::CountRequest req2;
  *req2.mutable_criterion() = *query::ParseCriterion("sex(M)");
  v1::CountAnswer direct;
  // The hub's certificate without an end user: refused, and audited all the same.
  EXPECT_FALSE(fed.Region("hub", "vast")->Count(&ctx2, req2, &direct).ok());
  ready = Http(node, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("not ready: the audit log cannot be written"), std::string::npos)
      << ready.body;
  EXPECT_EQ(ValueOf(Http(node, "GET", "/metrics").body, "pmdb_audit_write_failing"), 1);
  grpc::ClientContext ctx3;
  EXPECT_FALSE(fed.Region("hub", "vast")->Count(&ctx3, req2, &direct).ok());
  EXPECT_EQ(Http(node, "GET", "/readyz").status, 200) << "the next write worked";
}

// A node as a process logs one JSON object per line on stderr for every call: who, what, the
// outcome, the latency, the charge, the question only as a hash; gRPC's own messages come
// through the same log.
TEST(StructuredLogTest, EveryCallIsOneJsonLineWithoutTheQuestion) {
  Federation fed(60, 10);
  fed.Issue("region/syd/operator/otto", "otto");
  const std::string toml = fed.ChildNodeConfig("syd", "[log]\nformat = \"json\"\n");
  const std::string err = fed.dir().Path("syd.err");
  ChildProcess child({"node", "--config", toml}, 0, err);
  ASSERT_GT(child.port(), 0);
  auto admin = v1::AdminService::NewStub(fed.Channel("otto", child.port(), "region/syd/node"));
  v1::AdminQueryRequest q;
  *q.mutable_criterion() = *query::ParseCriterion("sex(F) AND age(40-60)");
  v1::AdminQueryReply reply;
  grpc::ClientContext ctx;
  ASSERT_TRUE(admin->Query(&ctx, q, &reply).ok());
  // A stranger's call: refused, and logged as such.
  auto stranger = v1::AdminService::NewStub(fed.Channel("anna", child.port(), "region/syd/node"));
  grpc::ClientContext ctx2;
  EXPECT_FALSE(stranger->Query(&ctx2, q, &reply).ok());
  child.Signal(SIGTERM);
  child.Kill();

  std::string text = ReadFile(err);
  std::vector<google::protobuf::Value> calls;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.front() != '{') continue;  // the start-up notes are plain text
    google::protobuf::Value v = ParseJson(line);
    ASSERT_EQ(v.kind_case(), google::protobuf::Value::kStructValue) << line;
    EXPECT_FALSE(JsonString(v, "time").empty()) << line;
    if (JsonString(v, "event") == "call") calls.push_back(v);
  }
  ASSERT_EQ(calls.size(), 2u) << text;
  EXPECT_EQ(JsonString(calls[0], "method"), "AdminService/Query");
  EXPECT_EQ(JsonString(calls[0], "caller"), "spiffe://test-fed/region/syd/operator/otto");
  EXPECT_EQ(JsonString(calls[0], "status"), "ok");
  EXPECT_EQ(JsonString(calls[0], "region"), "syd");
  EXPECT_EQ(JsonString(calls[0], "query_sha256").size(), 16u);
  EXPECT_GE(JsonNumber(calls[0], "latency_ms"), 0);
  EXPECT_EQ(JsonString(calls[0], "request_id").size(), 16u);
  EXPECT_EQ(JsonString(calls[1], "status"), "PERMISSION_DENIED");
  EXPECT_EQ(JsonString(calls[1], "caller"), "spiffe://test-fed/researcher/anna");
  EXPECT_NE(JsonString(calls[0], "request_id"), JsonString(calls[1], "request_id"));
  // Never the question, never a subject.
  EXPECT_EQ(text.find("sex(F)"), std::string::npos) << text;
  EXPECT_EQ(text.find("age("), std::string::npos);
  EXPECT_EQ(text.find("SYD"), std::string::npos) << "subject ids are SYD...";
}

}  // namespace
}  // namespace pmdb::testing
