// The federation end to end: six nodes and the hub on 127.0.0.1 over mutual TLS with real
// certificates.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "node/base/strings.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "query/engine.h"
#include "query/parser.h"
#include "security/audit.h"
#include "security/ca.h"
#include "security/released.h"
#include "security/x509.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

v1::Criterion Parse(const std::string& expr) {
  auto c = query::ParseCriterion(expr);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

grpc::Status Count(const Federation& fed, const std::string& expr, v1::FederatedCount* out,
                   const std::string& who = "anna") {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CountRequest req;
  *req.mutable_criterion() = Parse(expr);
  return fed.Hub(who)->Count(&ctx, req, out);
}

const v1::RegionPart& PartOf(const v1::FederatedCount& a, const std::string& region) {
  for (const auto& p : a.regions()) {
    if (p.region() == region) return p;
  }
  ADD_FAILURE() << "no part for " << region;
  static v1::RegionPart none;
  return none;
}

TEST(FederationTest, HappyPathOverAllSixRegions) {
  Federation fed;
  std::map<std::string, uint64_t> exact;
  uint64_t sum = 0;
  for (const std::string& r : SixRegions()) {
    exact[r] = fed.ExactCount(r, "sex(F)");
    ASSERT_GE(exact[r], 5u) << "the cohort should have enough women in " << r;
    sum += exact[r];
  }
  fed.StartNodes();
  fed.StartHub();

  v1::FederatedCount count;
  grpc::Status s = Count(fed, "sex(F)", &count);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(count.partial());
  EXPECT_EQ(count.total().low(), sum);
  EXPECT_EQ(count.total().high(), sum);
  ASSERT_EQ(count.regions_size(), 6);
  for (const std::string& r : SixRegions()) {
    const v1::RegionPart& p = PartOf(count, r);
    EXPECT_EQ(p.status(), v1::REGION_OK) << r << ": " << p.detail();
    EXPECT_EQ(p.count().count().low(), exact[r]) << r;
  }

  // A breakdown adds the region as a label and sums the cells.
  grpc::ClientContext ctx;
  v1::BreakdownRequest breq;
  *breq.mutable_criterion() = Parse("dataset(syn)");
  breq.add_dimensions(v1::SEX);
  v1::FederatedBreakdown breakdown;
  s = fed.Hub()->Breakdown(&ctx, breq, &breakdown);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(breakdown.totals_size(), 4);  // F, M, O, U
  EXPECT_EQ(breakdown.totals(0).labels(0), "F");
  // Every released range holds the true value. Where O and U are both zero, a region hides F
  // or M as well (two hidden zeros would otherwise follow from the total).
  EXPECT_LE(breakdown.totals(0).count().low(), sum);
  EXPECT_GE(breakdown.totals(0).count().high(), sum);
  EXPECT_EQ(breakdown.cells_size(), 4 * 6);
  for (const auto& cell : breakdown.cells()) {
    ASSERT_EQ(cell.labels_size(), 2);
    if (cell.labels(0) != "F") continue;
    uint64_t truth = exact[cell.labels(1)];
    EXPECT_LE(cell.count().low(), truth);
    EXPECT_GE(cell.count().high(), truth);
    if (!cell.complementary()) {
      EXPECT_EQ(cell.count().low(), truth) << cell.labels(1);
    }
  }

  // The CLI prints the same through the hub, with the per-region part.
  std::vector<std::string> env = {"PMDB_CERT=" + fed.dir().Path("anna.crt"),
                                  "PMDB_KEY=" + fed.dir().Path("anna.key"),
                                  "PMDB_CA=" + fed.dir().Path("ca/ca.crt"),
                                  "PMDB_HUB=127.0.0.1:" + std::to_string(fed.hub_port())};
  auto cli = Pmdb({"query", "sex(F)"}, env);
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("individuals match sex(F)"), std::string::npos) << cli.out;
  for (const std::string& r : SixRegions())
    EXPECT_NE(cli.out.find(r), std::string::npos) << cli.out;
  auto json = Pmdb({"query", "--json", "sex(F)"}, env);
  EXPECT_EQ(json.exit_code, 0) << json.err;
  auto j = ParseJson(json.out);
  EXPECT_EQ(JsonNumber(j, "count.low"), sum) << json.out;
  EXPECT_FALSE(JsonBool(j, "partial"));
  EXPECT_EQ(JsonNumber(j, "disclosure.min_count"), 5);
  ASSERT_EQ(JsonAt(j, "regions").list_value().values_size(), 6) << json.out;
  std::set<std::string> listed;
  for (int i = 0; i < 6; ++i) {
    std::string at = "regions." + std::to_string(i);
    listed.insert(JsonString(j, at + ".region"));
    EXPECT_EQ(JsonString(j, at + ".status"), "ok");
    EXPECT_EQ(JsonString(j, at + ".detail"), "") << "present even when empty";
    EXPECT_TRUE(JsonAt(j, at + ".count").has_struct_value());
  }

  EXPECT_EQ(listed, std::set<std::string>(SixRegions().begin(), SixRegions().end()));
  // One JSON dialect: the keys a store's and a node's answer have too (cli_test, below).
  EXPECT_EQ(JsonKeys(j), CountAnswerKeys());
}

TEST(FederationTest, FrequencySumsAlleleCounts) {
  Federation fed;
  fed.StartNodes();
  fed.StartHub();
  // The most common variant of one cohort (all cohorts draw from the same sites' spectrum).
  grpc::ClientContext ctx;
  v1::FrequencyRequest req;
  // Any variant will do: take the first site of norr's VCF via the local operator query.
  std::string vcf_path = fed.dir().Path("norr-cohort/cohort.vcf.gz");
  auto first = testing::Run({"/bin/sh", "-c", "zcat " + vcf_path + " | grep -v '^#' | head -1"});
  std::istringstream fields(first.out);
  std::string chrom, pos, id, ref, alt;
  fields >> chrom >> pos >> id >> ref >> alt;
  ASSERT_FALSE(alt.empty());
  std::string expr = "variant(GRCh38:" + chrom + ":" + pos + ":" + ref + ":" + alt + ")";
  *req.mutable_criterion() = Parse(expr);
  v1::FederatedFrequency f;
  grpc::Status s = fed.Hub()->Frequency(&ctx, req, &f);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The hub's sums are the sums of what the regions released (the cohorts share their sites);
  // norr's part is its exact AC/AN.
  security::ReleasedSum ac_sum, an_sum;
  for (const auto& p : f.regions()) {
    ASSERT_EQ(p.status(), v1::REGION_OK) << p.detail();
    ac_sum.Add(p.frequency().ac());
    an_sum.Add(p.frequency().an());
    if (p.region() == "norr") {
      auto store = storage::Store::Open(fed.db("norr"), {.read_only = true});
      ASSERT_TRUE(store.ok());
      auto view = (*store)->Snapshot();
      auto catalog = vocab::Catalog::Load(*view);
      ASSERT_TRUE(catalog.ok());
      auto exact = query::Engine(*catalog).Frequency(*view, req.criterion(), v1::RESEARCH);
      ASSERT_TRUE(exact.ok()) << exact.status();
      EXPECT_GT(exact->value.an, 0u);
      EXPECT_EQ(p.frequency().an().low(), exact->value.an);
      if (exact->value.ac >= 5) {
        EXPECT_EQ(p.frequency().ac().low(), exact->value.ac);
      }
    }
  }
  v1::ReleasedCount ac = ac_sum.Total(5), an = an_sum.Total(5);
  EXPECT_EQ(f.an().low(), an.low());
  EXPECT_EQ(f.an().high(), an.high());
  EXPECT_EQ(f.ac().low(), ac.low());
  EXPECT_GT(f.an().low(), 2u * 200 * 6 * 9 / 10) << "nearly everyone is called at every site";
  EXPECT_LE(f.ac().low(), f.ac().high());
}

// Credentials that must not get through the TLS handshake.
TEST(FederationTest, RefusesBadCertificates) {
  Federation fed(50);
  fed.StartNodes();
  fed.StartHub();
  auto info = [&](const std::shared_ptr<grpc::Channel>& ch) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::FederationInfo out;
    return v1::FederationService::NewStub(ch)->Info(&ctx, v1::InfoRequest(), &out);
  };
  // The control: a valid researcher gets through.
  ASSERT_TRUE(info(fed.Channel("anna", fed.hub_port(), "hub")).ok());

  // No client certificate at all.
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = ReadFile(fed.dir().Path("ca/ca.crt"));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("127.0.0.1");
  auto no_cert = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(fed.hub_port()),
                                           grpc::SslCredentials(anonymous), args);
  EXPECT_EQ(info(no_cert).error_code(), grpc::StatusCode::UNAVAILABLE);

  // A certificate from another CA with a well-formed identity of this federation.
  auto other = security::CertificateAuthority::Init(fed.dir().Path("other-ca"), kFederation, 30);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      other->Issue({.identity = "spiffe://test-fed/researcher/eve"}, fed.dir().Path("eve")).ok());
  // Eve trusts our CA for the server, but her own certificate is from hers.
  EXPECT_EQ(info(fed.Channel("eve", fed.hub_port(), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // Certificates signed by our CA but expired, not yet valid, or with two URI SANs.
  auto ca_key = security::ReadPrivateKey(fed.dir().Path("ca/ca.key"));
  auto ca_cert = security::ReadCertificate(fed.dir().Path("ca/ca.crt"));
  ASSERT_TRUE(ca_key.ok() && ca_cert.ok());
  auto make = [&](const std::string& prefix, security::CertificateSpec spec) {
    auto key = security::GenerateP256Key();
    ASSERT_TRUE(key.ok());
    spec.client_auth = true;
    auto cert = security::MakeCertificate(spec, key->get(), ca_cert->get(), ca_key->get());
    ASSERT_TRUE(cert.ok()) << cert.status();
    ASSERT_TRUE(security::WriteCertificate(fed.dir().Path(prefix + ".crt"), cert->get()).ok());
    ASSERT_TRUE(security::WritePrivateKey(fed.dir().Path(prefix + ".key"), key->get()).ok());
  };
  make("expired", {.common_name = "expired",
                   .uris = {"spiffe://test-fed/researcher/old"},
                   .not_before_seconds = -10 * 86400,
                   .not_after_seconds = -86400});
  make("future", {.common_name = "future",
                  .uris = {"spiffe://test-fed/researcher/new"},
                  .not_before_seconds = 86400,
                  .not_after_seconds = 10 * 86400});
  make("two", {.common_name = "two",
               .uris = {"spiffe://test-fed/researcher/anna", "spiffe://test-fed/hub"}});
  EXPECT_EQ(info(fed.Channel("expired", fed.hub_port(), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(info(fed.Channel("future", fed.hub_port(), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(info(fed.Channel("two", fed.hub_port(), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // Revocation takes effect without a restart: the CRL is re-read when it changes.
  std::string serial = fed.Issue("researcher/bo", "bo");
  ASSERT_TRUE(info(fed.Channel("bo", fed.hub_port(), "hub")).ok());
  auto ca = security::CertificateAuthority::Open(fed.ca_dir());
  ASSERT_TRUE(ca.ok());
  ASSERT_TRUE(ca->Revoke(serial).ok());
  EXPECT_EQ(info(fed.Channel("bo", fed.hub_port(), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(info(fed.Channel("anna", fed.hub_port(), "hub")).ok());

  // The client side checks the server too: a node is not the hub.
  EXPECT_EQ(info(fed.Channel("anna", fed.node_port("vast"), "hub")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(FederationTest, AuthorizationTableIsEnforced) {
  Federation fed(50);
  fed.StartNodes();
  fed.StartHub();
  auto status = [&](const std::string& who, const std::string& region) {
    grpc::ClientContext ctx;
    v1::StatusReply out;
    return fed.Admin(who, region)->Status(&ctx, v1::StatusRequest(), &out);
  };
  EXPECT_TRUE(status("olle", "vast").ok()) << "an operator administers their own node";
  {
    grpc::ClientContext ctx;
    v1::StatusReply reply;
    ASSERT_TRUE(fed.Admin("olle", "vast")->Status(&ctx, v1::StatusRequest(), &reply).ok());
    EXPECT_EQ(reply.region(), "vast");
    EXPECT_EQ(reply.individuals(), 50u);
    EXPECT_GE(reply.audit_entries(), 1u) << "the first Status call is in the log";
    EXPECT_EQ(reply.audit_head().size(), 32u);
  }
  grpc::Status s = status("anna", "vast");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = status("nils", "vast");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("region norr may not administer region vast"), std::string::npos)
      << s.error_message();

  // A researcher calling a region directly, bypassing the hub.
  grpc::ClientContext ctx;
  v1::CountRequest req;
  *req.mutable_criterion() = Parse("sex(F)");
  v1::CountAnswer answer;
  s = fed.Region("anna", "vast")->Count(&ctx, req, &answer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // ... even claiming to be forwarded by the hub.
  grpc::ClientContext forged;
  forged.AddMetadata("pmdb-on-behalf-of", "spiffe://test-fed/researcher/anna");
  s = fed.Region("anna", "vast")->Count(&forged, req, &answer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // A clinician may not ask aggregates (next: similar cases).
  v1::FederatedCount count;
  s = Count(fed, "sex(F)", &count, "cia");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // A region that does not take part is reported as refused, never as zero.
  fed.StopNode("syd");
  fed.node_config("syd").settings.participate = false;
  auto syd = server::StartNode(fed.node_config("syd"));
  ASSERT_TRUE(syd.ok());
  server::HubConfig hc;
  hc.db = fed.dir().Path("hub2.db");
  hc.tls = fed.Files("hub");
  hc.national = false;  // each region's own part (the fixture's regions run thresholds-only)
  hc.regions = {{"syd", "127.0.0.1:" + std::to_string((*syd)->port())},
                {"vast", "127.0.0.1:" + std::to_string(fed.node_port("vast"))}};
  auto hub2 = server::StartHub(hc);
  ASSERT_TRUE(hub2.ok());
  grpc::ClientContext c2;
  v1::FederatedCount partial;
  ASSERT_TRUE(v1::FederationService::NewStub(fed.Channel("anna", (*hub2)->port(), "hub"))
                  ->Count(&c2, req, &partial)
                  .ok());
  EXPECT_TRUE(partial.partial());
  EXPECT_EQ(PartOf(partial, "syd").status(), v1::REGION_REFUSED);
  EXPECT_NE(PartOf(partial, "syd").detail().find("does not take part"), std::string::npos);
  EXPECT_EQ(partial.total().low(), PartOf(partial, "vast").count().count().low());
}

// A node that dies while the hub waits for it, and one that hangs.
TEST(FederationTest, DeadAndSlowNodesLeaveAPartialAnswerWithinTheDeadline) {
  Federation fed(100);
  uint64_t vast = fed.ExactCount("vast", "sex(F)");
  // syd runs as its own process, so that it can be killed and stopped.
  server::NodeConfig& syd = fed.node_config("syd");
  WriteFile(fed.dir().Path("syd.toml"),
            "[node]\nregion = \"syd\"\ndb = \"" + syd.db +
                "\"\nlisten = \"127.0.0.1:0\"\n"
                "[tls]\ncert = \"" +
                syd.tls.cert + "\"\nkey = \"" + syd.tls.key + "\"\nca = \"" + syd.tls.ca +
                "\"\ncrl = \"" + syd.tls.crl +
                "\"\n[sharing.researcher]\n"
                "[[projects]]\nid = \"test-project\"\nmembers = [\"anna\"]\n");
  auto child = std::make_unique<ChildProcess>(
      std::vector<std::string>{"node", "--config", fed.dir().Path("syd.toml")});
  ASSERT_GT(child->port(), 0);
  server::HubConfig hc;
  hc.db = fed.dir().Path("hub.db");
  hc.tls = fed.Files("hub");
  hc.deadline_ms = 1500;
  hc.national = false;      // each region's own part (vast runs thresholds-only, as the fixture's)
  fed.node_config("vast");  // vast in-process
  auto vast_node = server::StartNode(fed.node_config("vast"));
  ASSERT_TRUE(vast_node.ok());
  hc.regions = {{"vast", "127.0.0.1:" + std::to_string((*vast_node)->port())},
                {"syd", "127.0.0.1:" + std::to_string(child->port())}};
  auto hub = server::StartHub(hc);
  ASSERT_TRUE(hub.ok());
  auto stub = v1::FederationService::NewStub(fed.Channel("anna", (*hub)->port(), "hub"));
  auto ask = [&](v1::FederatedCount* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CountRequest req;
    *req.mutable_criterion() = Parse("sex(F)");
    return stub->Count(&ctx, req, out);
  };
  v1::FederatedCount all;
  ASSERT_TRUE(ask(&all).ok());
  ASSERT_FALSE(all.partial()) << PartOf(all, "syd").detail();

  // Slowed: the node is stopped (SIGSTOP) and answers nothing until the deadline passes.
  child->Signal(SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  v1::FederatedCount slow;
  ASSERT_TRUE(ask(&slow).ok());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(slow.partial());
  EXPECT_EQ(PartOf(slow, "syd").status(), v1::REGION_DEADLINE_EXCEEDED);
  EXPECT_EQ(PartOf(slow, "vast").status(), v1::REGION_OK);
  EXPECT_EQ(slow.total().low(), vast) << "a missing region is not counted, and not as zero";
  EXPECT_LT(seconds, 5.0) << "the hub answers at its deadline";

  // Killed mid-query: the hub is waiting for the stopped node when it dies.
  std::future<std::pair<grpc::Status, v1::FederatedCount>> pending =
      std::async(std::launch::async, [&] {
        v1::FederatedCount out;
        grpc::Status s = ask(&out);
        return std::make_pair(s, out);
      });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  child->Kill();
  auto [status, dead] = pending.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(dead.partial());
  EXPECT_NE(PartOf(dead, "syd").status(), v1::REGION_OK);
  EXPECT_EQ(dead.total().low(), vast);

  // Gone: the next question is answered at once, marked partial.
  v1::FederatedCount gone;
  ASSERT_TRUE(ask(&gone).ok());
  EXPECT_TRUE(gone.partial());
  EXPECT_EQ(PartOf(gone, "syd").status(), v1::REGION_UNAVAILABLE);
}

// The hub witnesses every region's audit chain: a node put back to an older copy of its store,
// anchor file and all (which the node alone cannot tell from the real thing), is caught at the
// hub's next look and not asked any more, until the hub's operator accepts its log.
TEST(FederationTest, TheHubCatchesARegionWhoseAuditLogWasPutBack) {
  Federation fed(60, 10);
  fed.StartNodes();
  fed.node_config("vast").listen = StrCat("127.0.0.1:", fed.node_port("vast"));
  auto witnessing = [](server::HubConfig& c) { c.witness_interval_s = 1; };
  fed.StartHub(2000, {}, witnessing);
  v1::FederatedCount count;
  ASSERT_TRUE(Count(fed, "sex(F)", &count).ok());
  ASSERT_EQ(PartOf(count, "vast").status(), v1::REGION_OK);

  // The copy a dishonest insider keeps, taken while the node is stopped.
  fed.StopHub();
  fed.StopNode("vast");
  const std::string db = fed.db("vast");
  std::filesystem::copy(db, db + ".old", std::filesystem::copy_options::recursive);
  std::filesystem::copy_file(storage::AuditAnchorPath(db), db + ".old-anchor");
  fed.StartNode("vast");
  fed.StartHub(2000, {}, witnessing);
  for (const char* expr : {"sex(M)", "sex(O)", "age(40-)"}) {
    ASSERT_TRUE(Count(fed, expr, &count).ok());
    ASSERT_EQ(PartOf(count, "vast").status(), v1::REGION_OK);
  }
  // The hub looks at start: it has seen the longer chain now.
  fed.StopHub();
  fed.StartHub(2000, {}, witnessing);
  // What it saw is signed by each region's node: anyone with the CA certificate can check it,
  // next to the running hub.
  CommandResult heads = Pmdb(
      {"audit", "heads", "--db", fed.dir().Path("hub.db"), "--ca", fed.dir().Path("ca/ca.crt")});
  ASSERT_EQ(heads.exit_code, 0) << heads.out << heads.err;
  for (const std::string& region : SixRegions()) {
    EXPECT_NE(heads.out.find(region + ": "), std::string::npos) << heads.out;
  }
  size_t verified = 0;
  for (size_t at = heads.out.find("signature verified"); at != std::string::npos;
       at = heads.out.find("signature verified", at + 1)) {
    ++verified;
  }
  EXPECT_EQ(verified, SixRegions().size()) << heads.out;

  // Budget given back: the old copy put in place, its anchor too, and the node restarted.
  fed.StopNode("vast");
  std::filesystem::remove_all(db);
  std::filesystem::rename(db + ".old", db);
  std::filesystem::rename(db + ".old-anchor", storage::AuditAnchorPath(db));
  fed.StartNode("vast");
  std::string detail;
  for (int i = 0; i < 100 && detail.empty(); ++i) {  // the running hub's next look (1 s)
    ASSERT_TRUE(Count(fed, "sex(F)", &count).ok());
    if (PartOf(count, "vast").status() != v1::REGION_OK) detail = PartOf(count, "vast").detail();
    if (detail.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(PartOf(count, "vast").status(), v1::REGION_UNAVAILABLE);
  // Cut short, or (when questions reached the old copy before the hub's look) grown past the
  // length the hub saw but with other entries.
  EXPECT_NE(detail.find("an older copy was put back"), std::string::npos) << detail;
  EXPECT_NE(detail.find("--accept-region-audit vast"), std::string::npos) << detail;
  EXPECT_TRUE(count.partial());
  EXPECT_EQ(PartOf(count, "norr").status(), v1::REGION_OK);
  CommandResult refused = Pmdb({"audit", "heads", "--db", fed.dir().Path("hub.db")});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("REFUSED: region vast's audit"), std::string::npos) << refused.out;

  // Still refused after the hub restarts; asked again once its operator accepts the log.
  fed.StopHub();
  fed.StartHub(2000, {}, witnessing);
  ASSERT_TRUE(Count(fed, "sex(F)", &count).ok());
  EXPECT_EQ(PartOf(count, "vast").status(), v1::REGION_UNAVAILABLE);
  fed.StopHub();
  fed.StartHub(2000, {}, [](server::HubConfig& c) { c.accept_region_audit = {"vast"}; });
  ASSERT_TRUE(Count(fed, "sex(F)", &count).ok());
  EXPECT_EQ(PartOf(count, "vast").status(), v1::REGION_OK) << PartOf(count, "vast").detail();
}

// A request nested deeper than protobuf reads (100 levels) is refused as a bad request, the
// same way at the hub and at a node, not as "unimplemented" or an internal error.
TEST(FederationTest, ARequestNestedTooDeepIsABadRequest) {
  Federation fed(30, 5);
  fed.StartNodes();
  fed.StartHub();
  v1::CountRequest deep;
  v1::Criterion* c = deep.mutable_criterion();
  for (int i = 0; i < 150; ++i) c = c->mutable_negation();
  c->set_sex(v1::FEMALE);
  grpc::ClientContext ctx;
  v1::FederatedCount out;
  grpc::Status s = fed.Hub()->Count(&ctx, deep, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "[" << s.error_message() << "]";
  EXPECT_NE(s.error_message().find("could not be read"), std::string::npos) << s.error_message();
  grpc::ClientContext ctx2;
  v1::CountAnswer answer;
  grpc::Status n = fed.Region("hub", "vast")->Count(&ctx2, deep, &answer);
  EXPECT_EQ(n.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << n.error_message();
  EXPECT_EQ(n.error_message(), s.error_message());
}

TEST(FederationTest, ConsentWithdrawalIsVisibleInTheNextFederatedQuery) {
  Federation fed(100);
  uint64_t before = fed.ExactCount("vast", "dataset(syn)");
  fed.StartNodes();
  fed.StartHub();
  v1::FederatedCount first;
  ASSERT_TRUE(Count(fed, "dataset(syn)", &first).ok());
  EXPECT_EQ(PartOf(first, "vast").count().count().low(), before);

  grpc::ClientContext ctx;
  v1::ConsentRequest req;
  for (int i = 1; i <= 7; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "VAST-%07d", i);
    req.add_subjects(id);
  }
  v1::ConsentReply reply;
  grpc::Status s = fed.Admin("olle", "vast")->Consent(&ctx, req, &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.removed(), 7u);

  v1::FederatedCount second;
  ASSERT_TRUE(Count(fed, "dataset(syn)", &second).ok());
  EXPECT_EQ(PartOf(second, "vast").count().count().low(), before - 7);
  EXPECT_EQ(second.total().low(), first.total().low() - 7);
}

TEST(FederationTest, EveryRequestIsAuditedWithoutPatientData) {
  Federation fed(50);
  fed.StartNodes();
  fed.StartHub();
  v1::FederatedCount count;
  ASSERT_TRUE(Count(fed, "dx(C50) AND sex(F)", &count).ok());
  grpc::ClientContext ctx;
  v1::StatusReply status;
  grpc::Status refused = fed.Admin("anna", "vast")->Status(&ctx, v1::StatusRequest(), &status);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::ClientContext lctx;
  v1::AuditListRequest lreq;
  v1::AuditListReply list;
  ASSERT_TRUE(fed.Admin("olle", "vast")->AuditList(&lctx, lreq, &list).ok());
  bool saw_count = false, saw_refusal = false;
  for (const auto& e : list.entries()) {
    if (e.method() == "RegionService/Count") {
      saw_count = true;
      EXPECT_EQ(e.caller(), "spiffe://test-fed/researcher/anna");
      EXPECT_EQ(e.via(), "spiffe://test-fed/hub");
      EXPECT_EQ(e.query(), "dx(C50) AND sex(F)");
      EXPECT_EQ(e.outcome(), "ok");
      EXPECT_EQ(e.released().rfind("count=", 0), 0u) << e.released();
    }
    if (e.method() == "AdminService/Status" && e.outcome() == "PERMISSION_DENIED") {
      saw_refusal = true;
      EXPECT_EQ(e.caller(), "spiffe://test-fed/researcher/anna");
    }
    EXPECT_EQ(e.ShortDebugString().find("VAST-"), std::string::npos) << "no subject ids";
  }
  EXPECT_TRUE(saw_count);
  EXPECT_TRUE(saw_refusal);

  // The chain verifies while the node runs, and so does the hub's.
  for (const std::string& dir : {fed.db("vast"), fed.dir().Path("hub.db")}) {
    auto v = Pmdb({"audit", "verify", "--db", dir});
    EXPECT_EQ(v.exit_code, 0) << dir << ": " << v.out << v.err;
  }
  auto hub_list = Pmdb({"audit", "list", "--db", fed.dir().Path("hub.db"), "--caller",
                        "spiffe://test-fed/researcher/anna"});
  EXPECT_NE(hub_list.out.find("FederationService/Count"), std::string::npos) << hub_list.out;
}

// Attacks on what is released: differencing with breakdown margins, repeated questions to
// average noise, and many near-identical questions.
TEST(FederationTest, SuppressedNumbersCannotBeRecoveredByCombiningAnswers) {
  Federation fed(200);
  fed.node_config("syd").settings.disclosure.noise = 2;
  fed.node_config("norr").settings.disclosure.near_repeat_limit = 3;
  fed.StartNodes();
  fed.StartHub();

  // Breakdown by sex: the small O and U cells are hidden, and so is a complement, so the total
  // (asked separately) minus the shown cells leaves at least two unknowns in every region.
  v1::FederatedCount total;
  ASSERT_TRUE(Count(fed, "dataset(syn)", &total).ok());
  grpc::ClientContext ctx;
  v1::BreakdownRequest breq;
  *breq.mutable_criterion() = Parse("dataset(syn)");
  breq.add_dimensions(v1::SEX);
  v1::FederatedBreakdown b;
  ASSERT_TRUE(fed.Hub()->Breakdown(&ctx, breq, &b).ok());
  for (const std::string& region : SixRegions()) {
    int hidden = 0;
    for (const auto& cell : b.cells()) {
      if (cell.labels(1) == region) hidden += cell.count().low() != cell.count().high();
    }
    EXPECT_TRUE(hidden == 0 || hidden >= 2) << region << ": a lone hidden cell is recoverable";
  }
  // For a region without noise, try the attack: total - shown cells must not pin a hidden one.
  uint64_t vast_total = PartOf(total, "vast").count().count().low();
  uint64_t shown_sum = 0;
  std::vector<v1::ReleasedCount> hidden_cells;
  for (const auto& cell : b.cells()) {
    if (cell.labels(1) != "vast") continue;
    if (cell.count().low() == cell.count().high()) {
      shown_sum += cell.count().low();
    } else {
      hidden_cells.push_back(cell.count());
    }
  }
  if (!hidden_cells.empty()) {
    uint64_t rest = vast_total - shown_sum;  // what the hidden cells add up to
    for (size_t i = 0; i < hidden_cells.size(); ++i) {
      // Values the attacker cannot rule out for cell i given the others' known bounds.
      uint64_t others_max = 0;
      for (size_t j = 0; j < hidden_cells.size(); ++j) {
        if (j != i) others_max += std::min<uint64_t>(hidden_cells[j].high(), rest);
      }
      uint64_t lo = rest > others_max ? rest - others_max : 0;
      uint64_t hi = std::min<uint64_t>(hidden_cells[i].high(), rest);
      EXPECT_LT(lo, hi) << "hidden cell " << i << " of vast is pinned to " << lo;
    }
  }

  // Noise is consistent: asking again returns the same number, so averaging gains nothing;
  // and differencing two noised counts does not give the exact difference every time.
  v1::FederatedCount again;
  ASSERT_TRUE(Count(fed, "dataset(syn)", &again).ok());
  EXPECT_EQ(PartOf(again, "syd").count().count().low(), PartOf(total, "syd").count().count().low());
  int exact_differences = 0, attacks = 0;
  for (const char* k : {"sex(F)", "sex(M)", "age(40-49)", "age(50-59)", "age(60-69)", "age(70-79)",
                        "dx(C50)", "dx(C61)", "dx(C18)", "age(30-39)"}) {
    v1::FederatedCount without;
    ASSERT_TRUE(Count(fed, std::string("dataset(syn) AND NOT ") + k, &without).ok());
    const auto& w = PartOf(total, "syd").count().count();
    const auto& wo = PartOf(without, "syd").count().count();
    if (wo.low() != wo.high()) continue;
    ++attacks;
    uint64_t truth = fed.ExactCount("syd", std::string("dataset(syn) AND ") + k);
    exact_differences += w.low() - wo.low() == truth;
  }
  EXPECT_GE(attacks, 8);
  EXPECT_LT(exact_differences, attacks)
      << "with noise, total minus complement must not always give the exact count";

  // Near-identical questions: norr allows three a day for this researcher, then refuses.
  int refused = 0;
  for (const char* k : {"dx(C50)", "dx(C61)", "dx(C18)", "dx(C34)", "dx(C43)", "dx(C44)"}) {
    v1::FederatedCount c;
    ASSERT_TRUE(Count(fed, std::string("sex(F) AND ") + k, &c).ok());
    const auto& part = PartOf(c, "norr");
    if (part.status() == v1::REGION_REFUSED) {
      ++refused;
      EXPECT_NE(part.detail().find("near-identical"), std::string::npos) << part.detail();
      EXPECT_TRUE(c.partial());
    }
  }
  EXPECT_GE(refused, 2);
}

}  // namespace
}  // namespace pmdb::testing

namespace pmdb::testing {
namespace {

// Checks the TLS versions and cipher suites the hub accepts with a real peer, the openssl CLI.
TEST(FederationTlsTest, OnlyModernTlsWithAeadCiphers) {
  Federation fed(20);
  fed.StartNodes();
  fed.StartHub();
  auto connect = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"/bin/sh", "-c", ""};
    std::string cmd =
        "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(fed.hub_port()) + " -cert " +
        fed.dir().Path("anna.crt") + " -key " + fed.dir().Path("anna.key") + " -CAfile " +
        fed.dir().Path("ca/ca.crt") + " -alpn h2";
    for (const std::string& e : extra) cmd += " " + e;
    argv[2] = cmd + " 2>&1";
    return testing::Run(argv);
  };
  CommandResult tls13 = connect({"-tls1_3"});
  EXPECT_NE(tls13.out.find("New, TLSv1.3, Cipher is TLS_"), std::string::npos) << tls13.out;
  CommandResult tls12 = connect({"-tls1_2"});
  size_t at = tls12.out.find("New, TLSv1.2, Cipher is ");
  ASSERT_NE(at, std::string::npos) << tls12.out;
  std::string cipher = tls12.out.substr(at, tls12.out.find('\n', at) - at);
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << "an AEAD suite: " << cipher;
  // Old protocol versions and a CBC (non-AEAD) suite are refused.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"-tls1_1"},
        {"-tls1"},
        {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"}}) {
    CommandResult r = connect(bad);
    EXPECT_NE(r.out.find("Cipher is (NONE)"), std::string::npos)
        << bad[0] << " must be refused: " << r.out;
  }
}

}  // namespace
}  // namespace pmdb::testing

namespace pmdb::testing {
namespace {

// Certificates are re-read from disk: a rotated hub certificate is served without a restart.
TEST(FederationTlsTest, RotatedCertificateIsServedWithoutRestart) {
  Federation fed(20);
  fed.StartNodes();
  fed.StartHub();
  auto served_serial = [&] {
    std::string cmd =
        "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(fed.hub_port()) + " -cert " +
        fed.dir().Path("anna.crt") + " -key " + fed.dir().Path("anna.key") + " -CAfile " +
        fed.dir().Path("ca/ca.crt") + " 2>/dev/null | openssl x509 -noout -serial";
    std::string out = testing::Run({"/bin/sh", "-c", cmd}).out;
    return out.substr(out.find('=') + 1, out.find_last_not_of("\n") - out.find('='));
  };
  std::string before = served_serial();
  ASSERT_FALSE(before.empty());
  std::string issued = fed.Issue("hub", "hub", true);  // overwrites hub.crt and hub.key
  ASSERT_NE(issued, before);
  std::string after;
  for (int i = 0; i < 50 && after != issued; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after = served_serial();
  }
  EXPECT_EQ(after, issued) << "the hub still serves " << after;
  v1::FederatedCount count;
  EXPECT_TRUE(Count(fed, "sex(F)", &count).ok()) << "and it still answers";
}

// The standard gRPC health check (grpc.health.v1.Health/Check), spoken with a generic stub:
// an empty request asks about the whole server; SERVING is field 1 = 1, the bytes 08 01.
TEST(FederationHealthTest, NodesAndHubAnswerTheStandardHealthCheck) {
  Federation fed(20);
  fed.StartNodes();
  fed.StartHub();
  auto check = [&](const std::string& prefix, int port, const std::string& server) {
    grpc::GenericStub stub(fed.Channel(prefix, port, server));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice empty(std::string(""));
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) { done.set_value(s); });
    grpc::Status s = done.get_future().get();
    EXPECT_TRUE(s.ok()) << server << ": " << s.error_message();
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& slice : slices)
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << server << " is not SERVING";
  };
  check("anna", fed.hub_port(), "hub");
  check("olle", fed.node_port("vast"), "region/vast/node");
}

// Server reflection (grpc.reflection.v1alpha) lists the services, so that standard tools such as
// grpcurl can explore a node. The request is list_services = "" (field 7: bytes 3a 00).
TEST(FederationHealthTest, ServerReflectionListsTheServices) {
  Federation fed(20);
  fed.StartNodes();
  fed.StartHub();
  auto list = [&](const std::string& prefix, int port, const std::string& server) {
    grpc::GenericStub stub(fed.Channel(prefix, port, server));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    void* tag = nullptr;
    bool ok = false;
    auto step = [&](int expect) {
      EXPECT_TRUE(cq.Next(&tag, &ok));
      EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(expect)));
      return ok;
    };
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(step(1));
    grpc::Slice request_slice(std::string("\x3a\x00", 2));
    grpc::ByteBuffer request(&request_slice, 1), response;
    call->Write(request, reinterpret_cast<void*>(2));
    EXPECT_TRUE(step(2));
    call->Read(&response, reinterpret_cast<void*>(3));
    EXPECT_TRUE(step(3));
    call->WritesDone(reinterpret_cast<void*>(4));
    step(4);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    step(5);
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& slice : slices)
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    return bytes;
  };
  std::string hub = list("anna", fed.hub_port(), "hub");
  EXPECT_NE(hub.find("pmdb.v1.FederationService"), std::string::npos) << hub;
  EXPECT_NE(hub.find("grpc.health.v1.Health"), std::string::npos) << hub;
  std::string node = list("olle", fed.node_port("vast"), "region/vast/node");
  EXPECT_NE(node.find("pmdb.v1.RegionService"), std::string::npos) << node;
  EXPECT_NE(node.find("pmdb.v1.AdminService"), std::string::npos) << node;
}

}  // namespace
}  // namespace pmdb::testing

namespace pmdb::testing {
namespace {

// An operator uploads a VCF and phenopackets to their own node over AdminService (streamed), and
// asks it exact questions with the CLI; the next federated question includes the new people.
TEST(FederationAdminTest, OperatorIngestsOverTheNetworkAndAsksExactly) {
  Federation fed(30);
  fed.StartNodes();
  fed.StartHub();
  v1::FederatedCount before;
  ASSERT_TRUE(Count(fed, "dataset(upload)", &before).ok());
  EXPECT_EQ(before.total().low(), 0u);
  EXPECT_EQ(before.total().high(), 6u * 4) << "no one yet: six regions' <5 add up to 0-24";

  std::string out = fed.dir().Path("upload");
  auto g = Pmdb({"generate", "--individuals", "40", "--variants", "10", "--seed", "99",
                 "--id-prefix", "UPL", "--out", out});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto upload = [&](v1::IngestHeader header, const std::string& path) {
    grpc::ClientContext ctx;
    v1::IngestReply reply;
    auto stub = fed.Admin("olle", "vast");
    auto writer = stub->Ingest(&ctx, &reply);
    v1::IngestChunk chunk;
    *chunk.mutable_header() = header;
    EXPECT_TRUE(writer->Write(chunk));
    std::string bytes = ReadFile(path);
    for (size_t at = 0; at < bytes.size(); at += 4096) {  // several chunks
      v1::IngestChunk data;
      data.set_data(bytes.substr(at, 4096));
      EXPECT_TRUE(writer->Write(data));
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reply;
  };
  v1::IngestHeader vcf;
  vcf.set_format(v1::IngestHeader::VCF);
  vcf.set_dataset("upload");
  vcf.set_assembly("GRCh38");
  vcf.set_file_name("cohort.vcf.gz");
  v1::IngestReply r = upload(vcf, out + "/cohort.vcf.gz");
  EXPECT_EQ(r.individuals_new(), 40u);
  EXPECT_EQ(r.records_read(), 10u);
  v1::IngestHeader packets;
  packets.set_format(v1::IngestHeader::PHENOPACKETS);
  packets.set_file_name("phenopackets.jsonl");
  r = upload(packets, out + "/phenopackets.jsonl");
  EXPECT_EQ(r.individuals_updated(), 40u);

  v1::FederatedCount after;
  ASSERT_TRUE(Count(fed, "dataset(upload)", &after).ok());
  EXPECT_EQ(after.total().low(), 40u);
  EXPECT_EQ(PartOf(after, "vast").count().count().low(), 40u);

  // A malformed upload is refused with a message naming the operator's file, and stores nothing.
  grpc::ClientContext bad_ctx;
  v1::IngestReply bad_reply;
  auto stub = fed.Admin("olle", "vast");
  auto writer = stub->Ingest(&bad_ctx, &bad_reply);
  v1::IngestChunk chunk;
  vcf.set_file_name("broken.vcf");
  *chunk.mutable_header() = vcf;
  writer->Write(chunk);
  v1::IngestChunk data;
  data.set_data("##fileformat=VCFv4.2\nthis is not a VCF\n");
  writer->Write(data);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("broken.vcf"), std::string::npos) << s.error_message();

  // The CLI as the operator: exact, their own node only.
  std::vector<std::string> env = {"PMDB_CERT=" + fed.dir().Path("olle.crt"),
                                  "PMDB_KEY=" + fed.dir().Path("olle.key"),
                                  "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  std::string node = "127.0.0.1:" + std::to_string(fed.node_port("vast"));
  auto exact = Pmdb({"query", "--node", node, "--json", "dataset(upload) AND sex(F)"}, env);
  EXPECT_EQ(exact.exit_code, 0) << exact.err;
  auto ej = ParseJson(exact.out);
  EXPECT_EQ(JsonKeys(ej), CountAnswerKeys()) << exact.out;
  EXPECT_EQ(JsonString(ej, "regions.0.region"), "vast") << exact.out;
  EXPECT_EQ(JsonString(ej, "regions.0.status"), "ok");
  EXPECT_TRUE(JsonBool(ej, "count.exact"));
  EXPECT_TRUE(JsonBool(ej, "disclosure.exact"));
  EXPECT_EQ(JsonNumber(ej, "count.low"), JsonNumber(ej, "regions.0.count.low"));
  std::vector<std::string> anna = {"PMDB_CERT=" + fed.dir().Path("anna.crt"),
                                   "PMDB_KEY=" + fed.dir().Path("anna.key"),
                                   "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  auto refused = Pmdb({"query", "--node", node, "sex(F)"}, anna);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("belongs to no region"), std::string::npos) << refused.err;
  // With --json a failure is JSON too, on stdout.
  auto refused_json = Pmdb({"query", "--node", node, "--json", "sex(F)"}, anna);
  EXPECT_EQ(refused_json.exit_code, 1);
  EXPECT_EQ(JsonString(ParseJson(refused_json.out), "error.code"), "permission_denied")
      << refused_json.out;
  EXPECT_NE(JsonString(ParseJson(refused_json.out), "error.message").find("belongs to no region"),
            std::string::npos);
  auto no_creds = Pmdb({"query", "--hub", "127.0.0.1:1", "sex(F)"});
  EXPECT_EQ(no_creds.exit_code, 1);
  EXPECT_NE(no_creds.err.find("PMDB_CERT"), std::string::npos) << no_creds.err;
}

}  // namespace
}  // namespace pmdb::testing

namespace pmdb::testing {
namespace {

// The regions' default configuration: differential privacy, labelled at the region and at
// the hub, the same question answered the same way and charged once.
TEST(FederationDefaultsTest, NoisedNumbersAreLabelledAndRepeatsAreFree) {
  Federation fed;
  std::map<std::string, uint64_t> exact;
  for (const std::string& r : SixRegions()) {
    fed.node_config(r).settings.disclosure = security::DisclosureRules{};
    exact[r] = fed.ExactCount(r, "sex(F)");
  }
  fed.StartNodes();
  fed.StartHub();
  v1::FederatedCount first, again;
  ASSERT_TRUE(Count(fed, "sex(F) AND dataset(syn)", &first).ok());
  ASSERT_TRUE(Count(fed, "dataset(syn) AND NOT NOT sex(F)", &again).ok());
  EXPECT_EQ(first.disclosure().mechanism(), "discrete-gaussian");
  EXPECT_NE(first.disclosure().description().find("differential privacy"), std::string::npos)
      << first.disclosure().description();
  EXPECT_NEAR(first.total().noise_sd(), 5.0 * std::sqrt(6.0), 1e-9);
  EXPECT_NEAR(first.disclosure().rho(), 6 * 0.02, 1e-9);
  EXPECT_DOUBLE_EQ(again.disclosure().rho(), 0.0) << "a rewrite of an answered question is free";
  EXPECT_EQ(again.total().low(), first.total().low());
  for (const std::string& r : SixRegions()) {
    const v1::RegionPart& p = PartOf(first, r);
    ASSERT_EQ(p.status(), v1::REGION_OK) << r << ": " << p.detail();
    EXPECT_DOUBLE_EQ(p.count().count().noise_sd(), 5.0);
    EXPECT_EQ(p.count().disclosure().project(), "test-project");
    // sigma 5: a noised count beyond 40 of the truth has probability below 1e-14.
    EXPECT_NEAR(static_cast<double>(p.count().count().low()), static_cast<double>(exact[r]), 40)
        << r;
  }
  // The audit logs say what each entry charged: the region's, and the hub's per region.
  fed.StopHub();
  auto hub_log = Pmdb({"audit", "list", "--db", fed.dir().Path("hub.db")});
  EXPECT_NE(hub_log.out.find("charged mellan 0.020, norr 0.020"), std::string::npos) << hub_log.out;
  fed.StopNode("vast");
  auto vast_log = Pmdb({"audit", "list", "--db", fed.db("vast")});
  EXPECT_NE(vast_log.out.find("charged test-project rho 0.020"), std::string::npos) << vast_log.out;
  EXPECT_NE(vast_log.out.find("charged nothing to test-project (a repeat)"), std::string::npos);
  auto json = Pmdb({"audit", "list", "--db", fed.db("vast"), "--json", "--caller",
                    "spiffe://test-fed/researcher/anna", "--limit", "1"});
  EXPECT_NE(json.out.find("\"rho_charged\":0.02"), std::string::npos) << json.out;
}

// What a researcher reads: every number with its 95 % interval, the hub's total made of the
// regions' noised values, vocabulary warnings in text as in JSON, and no number at all when no
// region answered.
TEST(FederationDefaultsTest, NumbersCarryIntervalsAndNoAnswerIsNoNumber) {
  Federation fed;
  for (const std::string& r : SixRegions()) {
    fed.node_config(r).settings.disclosure = security::DisclosureRules{};
  }
  fed.StartNodes();
  fed.StartHub();
  const std::string hub = "127.0.0.1:" + std::to_string(fed.hub_port());
  std::vector<std::string> anna = {"PMDB_CERT=" + fed.dir().Path("anna.crt"),
                                   "PMDB_KEY=" + fed.dir().Path("anna.key"),
                                   "PMDB_CA=" + fed.dir().Path("ca/ca.crt")};
  auto json = Pmdb({"query", "--hub", hub, "--json", "sex(F)"}, anna);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = ParseJson(json.out);
  int64_t sum = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string part = "regions." + std::to_string(i) + ".count.";
    int64_t noised = static_cast<int64_t>(JsonNumber(j, part + "noised"));
    sum += noised;
    EXPECT_EQ(JsonNumber(j, part + "ci95.0"), std::max<int64_t>(0, noised - 10)) << json.out;
    EXPECT_EQ(JsonNumber(j, part + "ci95.1"), noised + 10);
  }
  EXPECT_EQ(JsonNumber(j, "count.noised"), sum) << "the total adds the noised values";
  EXPECT_EQ(JsonNumber(j, "count.ci95.1"), sum + 25) << "1.96 * 5 * sqrt(6) = 24.005";
  auto text = Pmdb({"query", "--hub", hub, "sex(F)"}, anna);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(" (95 %: "), std::string::npos) << text.out;

  // What a new question would cost, charging nothing; an answered one is free to ask again.
  auto cost = Pmdb({"query", "--hub", hub, "--cost", "sex(M) AND age(40-)"}, anna);
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  EXPECT_NE(cost.out.find("nothing was charged"), std::string::npos) << cost.out;
  EXPECT_NE(cost.out.find("rho 0.02; left"), std::string::npos) << cost.out;
  EXPECT_NE(cost.out.find("more new counts"), std::string::npos) << cost.out;
  auto cost_json = Pmdb({"query", "--hub", hub, "--cost", "--json", "sex(F)"}, anna);
  ASSERT_EQ(cost_json.exit_code, 0) << cost_json.err;
  auto c = ParseJson(cost_json.out);
  EXPECT_EQ(JsonString(c, "kind"), "cost");
  EXPECT_TRUE(JsonBool(c, "regions.0.free")) << "sex(F) was answered above" << cost_json.out;
  EXPECT_EQ(Pmdb({"query", "--db", fed.dir().Path("x"), "--cost", "sex(F)"}).exit_code, 2);

  // A question every region refuses as invalid: no number, the reasons, exit 1.
  auto none = Pmdb({"query", "--hub", hub, "gene(NOSUCHGENE)"}, anna);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.out.find("no region answered"), std::string::npos) << none.out;
  EXPECT_EQ(none.out.find("individuals match"), std::string::npos) << none.out;
  auto none_json = Pmdb({"query", "--hub", hub, "--json", "gene(NOSUCHGENE)"}, anna);
  EXPECT_EQ(none_json.exit_code, 1);
  EXPECT_TRUE(JsonAt(ParseJson(none_json.out), "count").has_null_value()) << none_json.out;

  // A warning from the vocabulary shows in text, once for all regions.
  auto warned = Pmdb({"query", "--hub", hub, "hpo(HP:9999999) OR sex(M)"}, anna);
  ASSERT_EQ(warned.exit_code, 0) << warned.err;
  EXPECT_NE(warned.err.find("warning: HP:9999999 is not in the ontology"), std::string::npos)
      << warned.err;
  EXPECT_NE(warned.err.find("(mellan, norr, stockholm-gotland, syd, sydost, vast)"),
            std::string::npos)
      << warned.err;
}

}  // namespace
}  // namespace pmdb::testing
