#include "tests/integration/federation_fixture.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "node/base/strings.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "query/engine.h"
#include "query/parser.h"
#include "security/ca.h"

namespace pmdb::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& args, uint64_t open_files,
                           const std::string& stderr_path) {
  int out[2];
  if (pipe(out) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    if (!stderr_path.empty()) {
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (err >= 0) dup2(err, STDERR_FILENO);
    }
    if (open_files > 0) {
      rlimit lim{open_files, open_files};
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    std::vector<std::string> argv = {PmdbBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(out[1]);
  // The first line: "pmdb node: ... listening on port N".
  std::string line;
  pollfd pfd{out[0], POLLIN, 0};
  char c;
  while (line.find('\n') == std::string::npos && poll(&pfd, 1, 10000) > 0 &&
         read(out[0], &c, 1) == 1) {
    line.push_back(c);
  }
  out_ = out[0];
  size_t at = line.rfind("port ");
  if (at != std::string::npos) port_ = std::atoi(line.c_str() + at + 5);
}

ChildProcess::~ChildProcess() {
  Kill();
  if (out_ >= 0) close(out_);
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

HttpsReply CurlHttps(const std::string& method, const std::string& url, const std::string& ca,
                     const std::string& cert_prefix, const std::string& body,
                     const std::vector<std::string>& headers) {
  TempDir out;
  std::vector<std::string> args = {"curl", "-sS", "--max-time", "20", "--cacert", ca, "--globoff"};
  if (method == "HEAD") {
    args.push_back("--head");
  } else {
    args.insert(args.end(), {"-X", method});
  }
  args.insert(args.end(),
              {"-D", out.Path("headers"), "-o", out.Path("body"), "-w", "%{http_code}"});
  if (!cert_prefix.empty()) {
    args.insert(args.end(), {"--cert", cert_prefix + ".crt", "--key", cert_prefix + ".key"});
  }
  if (!body.empty()) {
    const bool typed = std::any_of(headers.begin(), headers.end(), [](const std::string& h) {
      return h.rfind("Content-Type:", 0) == 0;
    });
    if (!typed) args.insert(args.end(), {"-H", "Content-Type: application/json"});
    args.insert(args.end(), {"--data-binary", body});
  }
  for (const std::string& h : headers) args.insert(args.end(), {"-H", h});
  args.push_back(url);
  CommandResult r = Run(args);
  HttpsReply reply;
  reply.curl_exit = r.exit_code;
  reply.status = std::atoi(r.out.c_str());
  if (std::filesystem::exists(out.Path("body"))) reply.body = ReadFile(out.Path("body"));
  if (std::filesystem::exists(out.Path("headers"))) reply.headers = ReadFile(out.Path("headers"));
  return reply;
}

Federation::Federation(int individuals, int variants) {
  auto ca = security::CertificateAuthority::Init(ca_dir(), kFederation, 30);
  EXPECT_TRUE(ca.ok()) << ca.status();
  Issue("hub", "hub", true);
  Issue("researcher/anna", "anna");
  Issue("region/vast/operator/olle", "olle");
  Issue("region/norr/operator/nils", "nils");
  Issue("region/vast/clinician/cia", "cia");
  Issue("region/syd/clinician/sven", "sven");
  int seed = 1;
  for (const std::string& region : SixRegions()) {
    Issue("region/" + region + "/node", region + "-node", true);
    std::string out = dir_.Path(region + "-cohort");
    std::string prefix = region;
    for (char& ch : prefix) ch = static_cast<char>(std::toupper(ch == '-' ? '_' : ch));
    auto g = Pmdb({"generate", "--individuals", std::to_string(individuals), "--variants",
                   std::to_string(variants), "--seed", std::to_string(seed++), "--sites-seed", "77",
                   "--id-prefix", prefix, "--out", out});
    EXPECT_EQ(g.exit_code, 0) << g.err;
    auto v = Pmdb({"ingest", "--db", db(region), "--vcf", out + "/cohort.vcf.gz", "--dataset",
                   "syn", "--assembly", "GRCh38"});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    auto p = Pmdb({"ingest", "--db", db(region), "--phenopackets", out + "/phenopackets.jsonl",
                   "--hpo", SharedData("ontology/hp.obo")});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    server::NodeConfig& c = node_configs_[region];
    c.listen = "127.0.0.1:0";
    c.db = db(region);
    c.tls = Files(region + "-node");
    c.log_format = "off";  // in-process: the test's own output stays readable
    c.settings.region = region;
    c.settings.sharing["researcher"] = {
        {"count", "breakdown", "frequency"},
        std::set<std::string>(query::LeafKinds().begin(), query::LeafKinds().end())};
    c.settings.sharing["clinician"] = {{"similar"}, {}};
    c.settings.clinician.contact = "klinisk genetik, region " + region;
    c.settings.privacy.projects.push_back({.id = "test-project", .members = {"anna"}});
    // These functional tests check that merging adds released numbers exactly, so the regions
    // run the thresholds-only mode here; the default, differential privacy, is exercised by
    // FederationDefaultsTest and the node core's tests.
    c.settings.disclosure.differential_privacy = false;
  }
}

Federation::~Federation() {
  hub_.reset();
  nodes_.clear();
}

std::string Federation::Issue(const std::string& path, const std::string& prefix, bool server) {
  auto ca = security::CertificateAuthority::Open(ca_dir());
  EXPECT_TRUE(ca.ok()) << ca.status();
  security::IssueRequest req;
  req.identity = std::string("spiffe://") + kFederation + "/" + path;
  if (server) req.ips = {"127.0.0.1"};
  auto issued = ca->Issue(req, dir_.Path(prefix));
  EXPECT_TRUE(issued.ok()) << issued.status();
  return issued.ok() ? issued->serial_hex : "";
}

security::TlsFiles Federation::Files(const std::string& prefix) const {
  security::TlsFiles f;
  f.cert = dir_.Path(prefix + ".crt");
  f.key = dir_.Path(prefix + ".key");
  f.ca = dir_.Path("ca/ca.crt");
  f.crl = dir_.Path("ca/ca.crl");
  f.refresh_seconds = 1;
  return f;
}

std::string Federation::ChildNodeConfig(const std::string& region, const std::string& extra,
                                        int port) {
  const server::NodeConfig& c = node_configs_[region];
  std::string path = dir_.Path(region + ".toml");
  WriteFile(path, StrCat("[node]\nregion = \"", region, "\"\ndb = \"", c.db,
                         "\"\nlisten = \"127.0.0.1:", port, "\"\n[tls]\ncert = \"", c.tls.cert,
                         "\"\nkey = \"", c.tls.key, "\"\nca = \"", c.tls.ca, "\"\ncrl = \"",
                         c.tls.crl, "\"\n", extra));
  return path;
}

void Federation::StartNodes() {
  for (const std::string& region : SixRegions()) StartNode(region);
}

void Federation::StartNode(const std::string& region) {
  auto node = server::StartNode(node_configs_[region]);
  ASSERT_TRUE(node.ok()) << region << ": " << node.status();
  nodes_[region] = std::move(*node);
}

void Federation::StartHub(int deadline_ms, const std::map<std::string, std::string>& extra,
                          const std::function<void(server::HubConfig&)>& tweak) {
  server::HubConfig c;
  c.db = dir_.Path("hub.db");
  c.tls = Files("hub");
  c.log_format = "off";
  c.deadline_ms = deadline_ms;
  // The regions run thresholds-only here (see the constructor), which gives no shares of
  // national totals: these tests merge each region's own part. National totals, the hub's
  // default, are tested by NationalTest with the regions' defaults.
  c.national = false;
  for (const auto& [region, node] : nodes_) {
    c.regions.push_back({region, "127.0.0.1:" + std::to_string(node->port())});
  }
  for (const auto& [region, address] : extra) c.regions.push_back({region, address});
  if (tweak) tweak(c);
  auto hub = server::StartHub(c);
  ASSERT_TRUE(hub.ok()) << hub.status();
  hub_ = std::move(*hub);
}

void Federation::StopNode(const std::string& region) { nodes_.erase(region); }

std::shared_ptr<grpc::Channel> Federation::Channel(const std::string& prefix, int port,
                                                   const std::string& server_path) const {
  auto creds = transport::MakeChannelCredentials(
      Files(prefix), std::string("spiffe://") + kFederation + "/" + server_path);
  EXPECT_TRUE(creds.ok()) << creds.status();
  grpc::ChannelArguments args;
  args.SetInt("pmdb.unique", rand());  // a fresh connection, not a shared subchannel
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), *creds, args);
}

std::unique_ptr<v1::FederationService::Stub> Federation::Hub(const std::string& prefix) const {
  return v1::FederationService::NewStub(Channel(prefix, hub_port(), "hub"));
}

std::unique_ptr<v1::AdminService::Stub> Federation::Admin(const std::string& prefix,
                                                          const std::string& region) const {
  return v1::AdminService::NewStub(
      Channel(prefix, node_port(region), "region/" + region + "/node"));
}

std::unique_ptr<v1::RegionService::Stub> Federation::Region(const std::string& prefix,
                                                            const std::string& region) const {
  return v1::RegionService::NewStub(
      Channel(prefix, node_port(region), "region/" + region + "/node"));
}

uint64_t Federation::ExactCount(const std::string& region, const std::string& expr) const {
  auto store = storage::Store::Open(db(region), {.read_only = true});
  EXPECT_TRUE(store.ok()) << store.status();
  auto view = (*store)->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  EXPECT_TRUE(catalog.ok());
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << criterion.status();
  auto r = query::Engine(*catalog).Count(*view, *criterion, v1::RESEARCH);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->value : 0;
}

}  // namespace pmdb::testing
