// A sharded region on one machine: a real one-member etcd (Debian's etcd-server) serving mutual
// TLS with the federation's certificates, three shard processes (pmdb shard serve) on 127.0.0.1,
// and the region's node asking them. Its answers equal those of a node with the same people in
// one store; a killed shard makes answers fail with its name, never a smaller count.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "node/base/strings.h"
#include "node/server/config.h"
#include "node/server/server.h"
#include "node/shard/etcd.h"
#include "node/shard/move.h"
#include "node/shard/shard_map.h"
#include "node/storage/keys.h"
#include "node/storage/store.h"
#include "node/transport/tls.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/region.grpc.pb.h"
#include "pmdb/v1/shard.grpc.pb.h"
#include "query/parser.h"
#include "security/ca.h"
#include "security/policy.h"
#include "tests/integration/federation_fixture.h"
#include "tests/test_util.h"

namespace pmdb::testing {
namespace {

constexpr char kRegion[] = "vast";

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// etcd as a child process: one member, its data in `dir`, clients over mutual TLS.
class EtcdProcess {
 public:
  EtcdProcess(const std::string& dir, const security::TlsFiles& tls) {
    const int client = FreePort(), peer = FreePort();
    endpoint_ = StrCat("https://127.0.0.1:", client);
    const std::string client_url = endpoint_;
    const std::string peer_url = StrCat("http://127.0.0.1:", peer);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--name",
                                     "pmdb-test",
                                     "--data-dir",
                                     dir,
                                     "--listen-client-urls",
                                     client_url,
                                     "--advertise-client-urls",
                                     client_url,
                                     "--listen-peer-urls",
                                     peer_url,
                                     "--initial-advertise-peer-urls",
                                     peer_url,
                                     "--initial-cluster",
                                     "pmdb-test=" + peer_url,
                                     "--cert-file",
                                     tls.cert,
                                     "--key-file",
                                     tls.key,
                                     "--trusted-ca-file",
                                     tls.ca,
                                     "--client-cert-auth",
                                     "--log-level",
                                     "error"};
    pid_ = fork();
    if (pid_ == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~EtcdProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& endpoint() const { return endpoint_; }
  // Stopped, etcd still accepts connections (the kernel does) but answers nothing: a black hole.
  void Pause() { kill(pid_, SIGSTOP); }
  void Resume() { kill(pid_, SIGCONT); }

 private:
  int pid_ = -1;
  std::string endpoint_;
};

// The exact answers of one node (its operator's AdminService Query) to `expr`, as text.
std::string Exact(v1::AdminService::Stub& admin, const std::string& expr,
                  const std::vector<v1::Dimension>& dims = {},
                  const std::vector<std::string>& diagnoses = {}, bool frequency = false) {
  v1::AdminQueryRequest request;
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << expr;
  *request.mutable_criterion() = *criterion;
  for (v1::Dimension d : dims) request.add_dimensions(d);
  for (const std::string& d : diagnoses) request.add_diagnoses(d);
  request.set_frequency(frequency);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::AdminQueryReply reply;
  grpc::Status status = admin.Query(&context, request, &reply);
  if (!status.ok()) {
    return StrCat("error ", static_cast<int>(status.error_code()), ": ", status.error_message());
  }
  // Disclosure text and warnings are the same whatever the data; compare the numbers.
  std::string out;
  if (reply.has_count()) StrAppend(&out, "count ", reply.count().count().low());
  if (reply.has_frequency()) {
    StrAppend(&out, "ac ", reply.frequency().ac().low(), " an ", reply.frequency().an().low());
  }
  for (const v1::ReleasedCell& cell : reply.breakdown().cells()) {
    for (const std::string& l : cell.labels()) StrAppend(&out, l, "/");
    StrAppend(&out, "=", cell.count().low(), " ");
  }
  return out;
}

// Streams `path` to `admin` as an operator's ingest.
absl::StatusOr<v1::IngestReply> IngestThrough(v1::AdminService::Stub& admin,
                                              const std::string& path,
                                              v1::IngestHeader::Format format) {
  grpc::ClientContext context;
  v1::IngestReply reply;
  auto writer = admin.Ingest(&context, &reply);
  v1::IngestChunk chunk;
  chunk.mutable_header()->set_format(format);
  chunk.mutable_header()->set_file_name(path.substr(path.rfind('/') + 1));
  if (format == v1::IngestHeader::VCF) {
    chunk.mutable_header()->set_dataset("syn");
    chunk.mutable_header()->set_assembly("GRCh38");
  }
  writer->Write(chunk);
  chunk.Clear();
  chunk.set_data(ReadFile(path));
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return reply;
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/etcd", X_OK) != 0) GTEST_SKIP() << "etcd-server is not installed";
    auto ca = security::CertificateAuthority::Init(dir_.Path("ca"), kFederation, 30);
    ASSERT_TRUE(ca.ok()) << ca.status();
    for (const auto& [path, prefix] :
         std::vector<std::pair<std::string, std::string>>{{"region/vast/node", "node"},
                                                          {"region/vast/shard", "shard"},
                                                          {"region/vast/operator/olle", "olle"},
                                                          {"region/norr/node", "norr"},
                                                          {"hub", "hub"},
                                                          {"researcher/anna", "anna"}}) {
      security::IssueRequest req;
      req.identity = StrCat("spiffe://", kFederation, "/", path);
      if (path.ends_with("/node") || path.ends_with("/shard") || path == "hub") {
        req.ips = {"127.0.0.1"};
      }
      ASSERT_TRUE(ca->Issue(req, dir_.Path(prefix)).ok());
    }
    etcd_ = std::make_unique<EtcdProcess>(dir_.Path("etcd"), Files("node"));
    auto client = shard::Etcd::Connect({.endpoint = etcd_->endpoint(), .tls = Files("node")});
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::make_unique<shard::Etcd>(*client);
    absl::Status up = absl::UnavailableError("not yet");
    for (int i = 0; i < 200 && !up.ok(); ++i) {
      up = client_->List("/pmdb/").status();
      if (!up.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(up.ok()) << up;

    // One cohort; the single store holds everyone, shard i the i-th third of the samples.
    const std::string cohort = dir_.Path("cohort");
    auto g = Pmdb({"generate", "--individuals", "360", "--variants", "40", "--seed", "11",
                   "--id-prefix", "VG", "--out", cohort});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const std::string vcf = cohort + "/cohort.vcf.gz";
    const std::string packets = cohort + "/phenopackets.jsonl";
    Ingest(dir_.Path("single.db"), vcf, packets);
    auto samples = pmdb::testing::Run({"bcftools", "query", "-l", vcf});
    ASSERT_EQ(samples.exit_code, 0) << samples.err;
    std::vector<std::string> ids;
    std::istringstream in(samples.out);
    for (std::string s; std::getline(in, s);) ids.push_back(s);
    ASSERT_EQ(ids.size(), 360u);
    std::vector<std::string> lines;
    {
      std::ifstream p(packets);
      for (std::string l; std::getline(p, l);) lines.push_back(l);
    }
    for (int s = 0; s < 3; ++s) {
      const std::string name = StrCat("s", s + 1);
      auto added = shard::AddShard(*client_, kRegion, name, "pending:0", sizes_[s]);
      ASSERT_TRUE(added.ok()) << added.status();
      std::set<std::string> mine(ids.begin() + 120 * s, ids.begin() + 120 * (s + 1));
      std::string list;
      for (const std::string& id : mine) list += id + "\n";
      WriteFile(dir_.Path(name + ".samples"), list);
      auto v = pmdb::testing::Run({"bcftools", "view", "-S", dir_.Path(name + ".samples"), "-Oz",
                                   "-o", dir_.Path(name + ".vcf.gz"), vcf});
      ASSERT_EQ(v.exit_code, 0) << v.err;
      std::string part;
      for (const std::string& l : lines) {
        const std::string id = JsonString(ParseJson(l), "subject.id");
        if (mine.contains(id)) part += l + "\n";
      }
      WriteFile(dir_.Path(name + ".jsonl"), part);
      {
        auto store = OpenOrDie(db(name));
        ASSERT_TRUE(storage::MakeShard(*store, added->first_ordinal(), added->end_ordinal()).ok());
        if (skip_[s] > 0) {
          // Its people start `skip_` ordinals into the range (as if others had come and gone),
          // so that they straddle a container boundary.
          std::string next;
          storage::keys::AppendBE32(&next, added->first_ordinal() + skip_[s]);
          storage::WriteBatch batch = store->NewBatch();
          batch.Put(storage::Family::kMeta, storage::keys::kMetaNextOrdinal, next);
          ASSERT_TRUE(store->Write(batch).ok());
        }
      }
      Ingest(db(name), dir_.Path(name + ".vcf.gz"), dir_.Path(name + ".jsonl"));
    }
  }

  void TearDown() override {
    nodes_.clear();
    shards_.clear();
  }

  void Ingest(const std::string& db, const std::string& vcf, const std::string& packets) {
    auto v = Pmdb({"ingest", "--db", db, "--vcf", vcf, "--dataset", "syn", "--assembly", "GRCh38"});
    ASSERT_EQ(v.exit_code, 0) << v.err;
    auto p = Pmdb(
        {"ingest", "--db", db, "--phenopackets", packets, "--hpo", SharedData("ontology/hp.obo")});
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }

  std::string db(const std::string& name) const { return dir_.Path(name + ".db"); }

  security::TlsFiles Files(const std::string& prefix) const {
    return {.cert = dir_.Path(prefix + ".crt"),
            .key = dir_.Path(prefix + ".key"),
            .ca = dir_.Path("ca/ca.crt")};
  }

  // pmdb shard serve's arguments for shard `name` on its store.
  std::vector<std::string> ServeArgs(const std::string& name) const {
    return {"shard",    "serve",
            "--etcd",   etcd_->endpoint(),
            "--region", kRegion,
            "--name",   name,
            "--db",     db(name),
            "--cert",   Files("shard").cert,
            "--key",    Files("shard").key,
            "--ca",     Files("shard").ca,
            "--crl",    dir_.Path("ca/ca.crl"),
            "--log",    "off"};
  }

  void StartShard(const std::string& name) {
    shards_[name] = std::make_unique<ChildProcess>(ServeArgs(name));
    ASSERT_GT(shards_[name]->port(), 0) << "shard " << name << " did not start";
  }

  server::NodeConfig NodeConfig(const std::string& db_dir, bool sharded) {
    server::NodeConfig c;
    c.listen = "127.0.0.1:0";
    c.db = db_dir;
    c.tls = Files("node");
    c.log_format = "off";
    c.settings.region = kRegion;
    c.settings.sharing["researcher"] = {
        {"count", "breakdown", "frequency"},
        std::set<std::string>(query::LeafKinds().begin(), query::LeafKinds().end())};
    c.settings.privacy.projects.push_back({.id = "test-project", .members = {"anna"}});
    if (sharded) {
      c.shards.etcd = etcd_->endpoint();
      c.shards.refresh_ms = 200;
    }
    return c;
  }

  std::unique_ptr<v1::AdminService::Stub> Admin(int port) const {
    auto creds = transport::MakeChannelCredentials(
        Files("olle"), StrCat("spiffe://", kFederation, "/region/vast/node"));
    EXPECT_TRUE(creds.ok());
    grpc::ChannelArguments args;
    args.SetInt("pmdb.unique", port);
    return v1::AdminService::NewStub(
        grpc::CreateCustomChannel(StrCat("127.0.0.1:", port), *creds, args));
  }

  // Each shard's range, and how far into it its first person is.
  std::vector<uint64_t> sizes_ = {65536, 65536, 65536};
  std::vector<uint32_t> skip_ = {0, 0, 0};
  TempDir dir_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<shard::Etcd> client_;
  std::map<std::string, std::unique_ptr<ChildProcess>> shards_;
  std::map<std::string, std::unique_ptr<server::Server>> nodes_;
};

TEST_F(ShardTest, ThreeShardsAnswerAsOneStoreAndAKilledShardIsNamed) {
  for (const char* name : {"s1", "s2", "s3"}) StartShard(name);
  auto map = shard::ReadShardMap(*client_, kRegion);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->size(), 3u);
  for (const shard::ShardInfo& s : *map) {
    EXPECT_TRUE(s.alive) << s.entry.name();
    EXPECT_TRUE(s.entry.address().starts_with("127.0.0.1:")) << s.entry.address();
  }
  auto single = server::StartNode(NodeConfig(db("single"), false));
  ASSERT_TRUE(single.ok()) << single.status();
  auto sharded = server::StartNode(NodeConfig(dir_.Path("node.db"), true));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto one = Admin((*single)->port());
  auto three = Admin((*sharded)->port());

  auto variant =
      pmdb::testing::Run({"bash", "-c",
                          "bcftools query -f '%CHROM:%POS:%REF:%ALT\\n' " + dir_.Path("cohort") +
                              "/cohort.vcf.gz | head -3 | tail -1"});
  ASSERT_EQ(variant.exit_code, 0);
  std::string site = variant.out.substr(0, variant.out.find('\n'));
  const std::string v = "variant(GRCh38:" + site + ")";
  for (const std::string& expr :
       {std::string("sex(F)"), std::string("sex(M) OR dx(C50)"), v, v + " AND sex(F)",
        std::string("age(30-59) AND NOT sex(M)"), std::string("hpo(HP:0000118)")}) {
    const std::string want = Exact(*one, expr);
    EXPECT_THAT(want, ::testing::StartsWith("count ")) << expr;
    EXPECT_EQ(Exact(*three, expr), want) << expr;
  }
  EXPECT_NE(Exact(*one, "sex(F)"), "count 0");
  // Breakdowns: fixed cells, named diagnoses, and the cells an exact answer lists from the data.
  for (const auto& [dims, diagnoses] :
       std::vector<std::pair<std::vector<v1::Dimension>, std::vector<std::string>>>{
           {{v1::SEX, v1::AGE_BAND}, {}},
           {{v1::DIAGNOSIS}, {"C50", "E11", "I10"}},
           {{v1::DIAGNOSIS}, {}},
           {{v1::ZYGOSITY}, {}}}) {
    const std::string expr = dims[0] == v1::ZYGOSITY ? v : "sex(F) OR sex(M)";
    const std::string want = Exact(*one, expr, dims, diagnoses);
    EXPECT_THAT(want, ::testing::Not(::testing::StartsWith("error"))) << want;
    EXPECT_EQ(Exact(*three, expr, dims, diagnoses), want);
  }
  const std::string af = Exact(*one, v, {}, {}, /*frequency=*/true);
  EXPECT_THAT(af, ::testing::StartsWith("ac "));
  EXPECT_EQ(Exact(*three, v, {}, {}, /*frequency=*/true), af);

  // The operator's status: the region's dataset over all shards, and every shard up.
  {
    grpc::ClientContext context;
    v1::StatusRequest request;
    v1::StatusReply status;
    ASSERT_TRUE(three->Status(&context, request, &status).ok());
    ASSERT_TRUE(status.datasets().contains("syn"));
    EXPECT_EQ(status.datasets().at("syn").sample_count(), 360u);
    EXPECT_EQ(status.individuals(), 360u);  // the shards' people, not the node's own store's
    EXPECT_FALSE(status.people_unknown());
    EXPECT_THAT(status.shards(), ::testing::HasSubstr("s1 127.0.0.1:"));
    EXPECT_THAT(status.shards(), ::testing::HasSubstr("ordinals 131072-196608 up"));
  }

  // The researchers' path (the hub asking for anna): the default disclosure (differential
  // privacy) applied once, on the region's total, with the region's own noise.
  {
    auto creds = transport::MakeChannelCredentials(
        Files("hub"), StrCat("spiffe://", kFederation, "/region/vast/node"));
    ASSERT_TRUE(creds.ok());
    auto region = v1::RegionService::NewStub(
        grpc::CreateChannel(StrCat("127.0.0.1:", (*sharded)->port()), *creds));
    grpc::ClientContext context;
    context.AddMetadata(security::kOnBehalfOfKey,
                        StrCat("spiffe://", kFederation, "/researcher/anna"));
    v1::CountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion("sex(F)");
    v1::CountAnswer answer;
    grpc::Status status = region->Count(&context, request, &answer);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(answer.disclosure().mechanism(), "discrete-gaussian");
    EXPECT_EQ(answer.count().noise_sd(), answer.disclosure().sigma());
    EXPECT_GT(answer.count().noise_sd(), 0);
  }

  // A shard killed outright: answers fail and name it; nothing is a smaller count.
  shards_["s2"]->Kill();
  const std::string failed = Exact(*three, "sex(F)");
  EXPECT_THAT(failed, ::testing::StartsWith("error 14"));  // UNAVAILABLE
  EXPECT_THAT(failed, ::testing::HasSubstr("shard s2"));
  {
    // The operator's status does not show a number it does not have.
    grpc::ClientContext context;
    v1::StatusReply status;
    ASSERT_TRUE(three->Status(&context, v1::StatusRequest(), &status).ok());
    EXPECT_TRUE(status.people_unknown());
  }
  // Its membership lapses in etcd (the lease is not renewed) and the node's status says so.
  bool down = false;
  for (int i = 0; i < 150 && !down; ++i) {
    auto m = shard::ReadShardMap(*client_, kRegion);
    ASSERT_TRUE(m.ok());
    for (const shard::ShardInfo& s : *m) down |= s.entry.name() == "s2" && !s.alive;
    if (!down) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(down) << "s2's membership did not lapse";
  // Back on a new port: the map follows it and answers are whole again.
  StartShard("s2");
  std::string again;
  for (int i = 0; i < 100; ++i) {
    again = Exact(*three, "sex(F)");
    if (again == Exact(*one, "sex(F)")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(again, Exact(*one, "sex(F)"));
  // A served shard's entry deleted from the map (an operator's slip, or a tampered etcd):
  // answers fail; they never leave its people out.
  ASSERT_TRUE(client_->Delete(shard::ShardsPrefix(kRegion) + "s3").ok());
  std::string missing;
  for (int i = 0; i < 100 && !missing.starts_with("error"); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    missing = Exact(*three, "sex(F)");
  }
  EXPECT_THAT(missing, ::testing::HasSubstr("shards served up to 196608 before"));
  (*sharded)->Shutdown(std::chrono::seconds(1));
  (*single)->Shutdown(std::chrono::seconds(1));
  sharded->reset();  // gives the region's lead up
  single->reset();
  // A node whose own store holds people does not become a sharded region's node.
  auto mixed = server::StartNode(NodeConfig(db("single"), true));
  EXPECT_THAT(mixed.status(), StatusIs(absl::StatusCode::kFailedPrecondition, "holds 360 people"));
}

TEST_F(ShardTest, SimilarCasesRankAsOneStoreAndContactsReachTheHoldingShard) {
  for (const char* name : {"s1", "s2", "s3"}) StartShard(name);
  auto config = [&](const std::string& db_dir, bool sharded) {
    server::NodeConfig c = NodeConfig(db_dir, sharded);
    c.settings.sharing["clinician"] = {{"similar"}, {}};
    c.settings.clinician.contact = "genetics@vast.example";
    c.settings.clinician.per_person_matches = 1;  // a case once per clinician
    return c;
  };
  auto single = server::StartNode(config(db("single"), false));
  ASSERT_TRUE(single.ok()) << single.status();
  auto sharded = server::StartNode(config(dir_.Path("node.db"), true));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto one = Admin((*single)->port());
  auto three = Admin((*sharded)->port());

  // The question: the cohort's most frequent phenotypes (many cases share them, so scores tie
  // and the order across shards is tested too) and a diagnosis.
  auto frequent = pmdb::testing::Run(
      {"bash", "-c",
       "grep -o 'HP:[0-9]*' " + dir_.Path("cohort") +
           "/phenopackets.jsonl | sort | uniq -c | sort -k1,1nr -k2 | head -5 | awk '{print $2}'"});
  ASSERT_EQ(frequent.exit_code, 0) << frequent.err;
  v1::CaseQuery question;
  std::istringstream terms(frequent.out);
  for (std::string t; std::getline(terms, t);) question.add_phenotypes(t);
  ASSERT_EQ(question.phenotypes_size(), 5);
  question.add_diagnoses("C50");

  // The operator's own search: the same people, scores and order as one store, with the
  // information content of the whole region (a shard's own would score differently).
  auto local = [&](v1::AdminService::Stub& admin) {
    v1::LocalSimilarRequest request;
    *request.mutable_patient() = question;
    request.set_top(15);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SimilarCasesAnswer answer;
    grpc::Status status = admin.SimilarCases(&context, request, &answer);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return answer;
  };
  const v1::SimilarCasesAnswer want = local(*one);
  const v1::SimilarCasesAnswer got = local(*three);
  ASSERT_EQ(want.matches_size(), 15);
  EXPECT_EQ(got.cases_considered(), want.cases_considered());
  ASSERT_EQ(got.matches_size(), want.matches_size());
  std::set<std::string> on_s1, on_s3;  // the matches on the first and last shard
  const std::string s1 = ReadFile(dir_.Path("s1.samples")), s3 = ReadFile(dir_.Path("s3.samples"));
  for (int i = 0; i < want.matches_size(); ++i) {
    const v1::CaseMatch& w = want.matches(i);
    const v1::CaseMatch& g = got.matches(i);
    EXPECT_EQ(g.subject_id(), w.subject_id()) << "match " << i;
    EXPECT_EQ(g.score(), w.score()) << "match " << i;
    EXPECT_EQ(g.phenotype_score(), w.phenotype_score()) << "match " << i;
    EXPECT_EQ(g.diagnosis_score(), w.diagnosis_score()) << "match " << i;
    ASSERT_EQ(g.phenotypes_size(), w.phenotypes_size()) << "match " << i;
    for (int p = 0; p < w.phenotypes_size(); ++p) {
      EXPECT_EQ(g.phenotypes(p).information_content(), w.phenotypes(p).information_content());
    }
    EXPECT_EQ(g.region(), kRegion);
    if (s1.find(w.subject_id() + "\n") != std::string::npos) on_s1.insert(w.subject_id());
    if (s3.find(w.subject_id() + "\n") != std::string::npos) on_s3.insert(w.subject_id());
  }
  EXPECT_FALSE(on_s1.empty());  // the merge took cases from more than one shard
  ASSERT_FALSE(on_s3.empty());

  // Clinicians through the hub: the same scores, references sealed by the node, nobody shown
  // twice (per_person_matches), and a contact request that reaches the shard holding the case.
  auto creds = transport::MakeChannelCredentials(
      Files("hub"), StrCat("spiffe://", kFederation, "/region/vast/node"));
  ASSERT_TRUE(creds.ok());
  auto region_of = [&](int port) {
    grpc::ChannelArguments args;
    args.SetInt("pmdb.unique", port);
    return v1::RegionService::NewStub(
        grpc::CreateCustomChannel(StrCat("127.0.0.1:", port), *creds, args));
  };
  auto single_region = region_of((*single)->port());
  auto sharded_region = region_of((*sharded)->port());
  const std::string cia = StrCat("spiffe://", kFederation, "/region/norr/clinician/cia");
  auto search = [&](v1::RegionService::Stub& region) {
    grpc::ClientContext context;
    context.AddMetadata(security::kOnBehalfOfKey, cia);
    v1::SimilarCasesRequest request;
    *request.mutable_patient() = question;
    request.set_top(15);
    v1::SimilarCasesAnswer answer;
    grpc::Status status = region.SimilarCases(&context, request, &answer);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return answer;
  };
  auto searches = [&](v1::AdminService::Stub& admin) {
    // The individuals each clinician search returned, from the node's audit log.
    grpc::ClientContext context;
    v1::AuditListReply log;
    EXPECT_TRUE(admin.AuditList(&context, v1::AuditListRequest(), &log).ok());
    std::vector<std::set<uint32_t>> out;
    for (const v1::AuditEntry& e : log.entries()) {
      if (e.method() == "RegionService/SimilarCases") {
        out.emplace_back(e.individuals().begin(), e.individuals().end());
      }
    }
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    const v1::SimilarCasesAnswer a = search(*single_region);
    const v1::SimilarCasesAnswer b = search(*sharded_region);
    ASSERT_EQ(b.matches_size(), a.matches_size()) << "round " << round;
    ASSERT_GT(a.matches_size(), 0);
    for (int i = 0; i < a.matches_size(); ++i) {
      EXPECT_EQ(b.matches(i).score(), a.matches(i).score()) << "round " << round << " match " << i;
      EXPECT_TRUE(b.matches(i).subject_id().empty());
      EXPECT_EQ(b.matches(i).contact(), "genetics@vast.example");
      ASSERT_FALSE(b.matches(i).case_reference().empty());
    }
    if (round > 0) continue;
    // A contact request for every case of the first round: each reaches the shard that holds
    // it, and the operators see the case's subject id, read from that shard. The first round
    // is the operator's best (min_score leaves a prefix of the same order).
    std::set<std::string> requested, want_subjects;
    for (int i = 0; i < b.matches_size(); ++i) {
      want_subjects.insert(want.matches(i).subject_id());
      grpc::ClientContext context;
      context.AddMetadata(security::kOnBehalfOfKey, cia);
      v1::ContactRequest request;
      request.set_case_reference(b.matches(i).case_reference());
      request.set_reason("a similar presentation with the same diagnosis");
      v1::ContactTicket ticket;
      grpc::Status status = sharded_region->RequestContact(&context, request, &ticket);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    grpc::ClientContext list_context;
    v1::ContactListReply list;
    ASSERT_TRUE(three->ContactList(&list_context, v1::ContactListRequest(), &list).ok());
    EXPECT_TRUE(list.problem().empty()) << list.problem();
    for (const v1::ContactView& v : list.requests()) requested.insert(v.subject_id());
    EXPECT_EQ(requested, want_subjects);
    std::set<std::string> last_shard;
    std::set_intersection(requested.begin(), requested.end(), on_s3.begin(), on_s3.end(),
                          std::inserter(last_shard, last_shard.begin()));
    EXPECT_FALSE(last_shard.empty()) << "no contact request reached shard s3";
  }
  // Nobody was shown twice (per_person_matches = 1), on the shards as on one store: the second
  // search returned none of the first's people.
  for (auto* admin : {one.get(), three.get()}) {
    auto returned = searches(*admin);
    ASSERT_EQ(returned.size(), 2u);
    EXPECT_FALSE(returned[0].empty());
    EXPECT_FALSE(returned[1].empty());
    for (uint32_t o : returned[1]) EXPECT_FALSE(returned[0].contains(o)) << o;
  }
  // A patient's right to know who looked: the audit by subject finds them on their shard.
  {
    grpc::ClientContext context;
    v1::AuditListRequest request;
    request.set_subject(*on_s3.begin());
    v1::AuditListReply log;
    grpc::Status status = three->AuditList(&context, request, &log);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(log.entries().empty());
  }
  // A shard down: the search fails naming it, never a ranking of the others' cases.
  shards_["s2"]->Kill();
  grpc::ClientContext context;
  v1::LocalSimilarRequest request;
  *request.mutable_patient() = question;
  v1::SimilarCasesAnswer answer;
  grpc::Status status = three->SimilarCases(&context, request, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("shard s2"));
}

TEST_F(ShardTest, OneNodeLeadsTheRegionAndShardsTakeWritesFromItOnly) {
  for (const char* name : {"s1", "s2", "s3"}) StartShard(name);
  auto leader = server::StartNode(NodeConfig(dir_.Path("node.db"), true));
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto admin = Admin((*leader)->port());
  const std::string want = Exact(*admin, "sex(F)");
  ASSERT_THAT(want, ::testing::StartsWith("count "));
  auto held = client_->List(shard::LeaderKey(kRegion));
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_THAT((*held)[0].value, ::testing::HasSubstr("/region/vast/node on "));
  EXPECT_NE((*held)[0].lease, 0);
  const std::vector<std::string> list = {"shard",    "list",
                                         "--etcd",   etcd_->endpoint(),
                                         "--region", kRegion,
                                         "--cert",   Files("node").cert,
                                         "--key",    Files("node").key,
                                         "--ca",     Files("node").ca,
                                         "--json"};
  auto listed = Pmdb(list);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(JsonString(ParseJson(listed.out), "leader"),
              ::testing::StartsWith("spiffe://test-fed/region/vast/node on "));

  // A second node of the region (its own store: its own budgets and audit log) does not start.
  server::NodeConfig second = NodeConfig(dir_.Path("node2.db"), true);
  second.shards.leader_wait_ms = 500;
  auto refused = server::StartNode(second);
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "region vast is led by spiffe://"));

  // A shard takes no write from a node that does not carry the leader's token.
  {
    auto creds = transport::MakeChannelCredentials(
        Files("node"), StrCat("spiffe://", kFederation, "/region/vast/shard"));
    ASSERT_TRUE(creds.ok());
    auto map = shard::ReadShardMap(*client_, kRegion);
    ASSERT_TRUE(map.ok());
    auto shard_admin =
        v1::ShardAdminService::NewStub(grpc::CreateChannel((*map)[0].entry.address(), *creds));
    v1::ConsentRequest request;
    request.add_subjects("VG000001");
    for (const char* token : {"", "0123abcd spiffe://test-fed/region/vast/node elsewhere"}) {
      grpc::ClientContext context;
      if (*token != '\0') context.AddMetadata(shard::kLeaderMetadata, token);
      v1::ConsentReply reply;
      grpc::Status status = shard_admin->OptOut(&context, request, &reply);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << token;
      EXPECT_THAT(status.error_message(), ::testing::HasSubstr("does not lead region vast"));
    }
  }

  // Another holder takes the key (here: written over it): the node stops answering within a
  // renewal, and leads again once the key is free.
  ASSERT_TRUE(client_->Put(shard::LeaderKey(kRegion), "ffff someone else").ok());
  std::string lost;
  for (int i = 0; i < 100 && !lost.starts_with("error"); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lost = Exact(*admin, "sex(F)");
  }
  EXPECT_THAT(lost, ::testing::HasSubstr("does not lead region vast now (another node took"));
  ASSERT_TRUE(client_->Delete(shard::LeaderKey(kRegion)).ok());
  std::string back;
  for (int i = 0; i < 100 && back != want; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = Exact(*admin, "sex(F)");
  }
  EXPECT_EQ(back, want);

  // etcd unreachable (stopped: connections hang): the node cannot know it still leads, so it
  // stops answering within the lease's TTL; once etcd is back it leads again.
  etcd_->Pause();
  std::string unsure;
  for (int i = 0; i < 150 && !unsure.starts_with("error"); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    unsure = Exact(*admin, "sex(F)");
  }
  etcd_->Resume();
  EXPECT_THAT(unsure, ::testing::HasSubstr("does not lead region vast now"));
  back.clear();
  for (int i = 0; i < 300 && back != want; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = Exact(*admin, "sex(F)");
  }
  EXPECT_EQ(back, want);

  // A node that stops gives the region up at once: the next one starts without waiting.
  (*leader)->Shutdown(std::chrono::seconds(1));
  leader->reset();
  listed = Pmdb(list);
  EXPECT_THAT(listed.out, ::testing::HasSubstr("\"leader\":null")) << listed.out;
  auto next = server::StartNode(second);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(Exact(*Admin((*next)->port()), "sex(F)"), want);
}

TEST_F(ShardTest, AShardAnswersItsRegionsNodeOnly) {
  // A certificate of the region's node that the CA revoked (a stolen one, replaced) is refused
  // by the shard, which checks the revocation list it was given.
  {
    auto ca = security::CertificateAuthority::Open(dir_.Path("ca"));
    ASSERT_TRUE(ca.ok()) << ca.status();
    auto old = ca->Issue(
        {.identity = StrCat("spiffe://", kFederation, "/region/vast/node"), .ips = {"127.0.0.1"}},
        dir_.Path("node-old"));
    ASSERT_TRUE(old.ok()) << old.status();
    ASSERT_TRUE(ca->Revoke(old->serial_hex).ok());
  }
  StartShard("s1");
  auto map = shard::ReadShardMap(*client_, kRegion);
  ASSERT_TRUE(map.ok());
  std::string address;
  for (const shard::ShardInfo& s : *map) {
    if (s.entry.name() == "s1") address = s.entry.address();
  }
  ASSERT_FALSE(address.empty());
  // Another region's node, the region's own operator, another shard of the region and the
  // node's revoked certificate: refused (the last during the handshake).
  for (const char* prefix : {"norr", "olle", "shard", "node-old"}) {
    auto creds = transport::MakeChannelCredentials(
        Files(prefix), StrCat("spiffe://", kFederation, "/region/vast/shard"));
    ASSERT_TRUE(creds.ok());
    grpc::ChannelArguments args;
    args.SetString("pmdb.unique", prefix);
    auto stub = v1::ShardService::NewStub(grpc::CreateCustomChannel(address, *creds, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ShardCountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion("sex(F)");
    v1::ShardCount reply;
    grpc::Status status = stub->Count(&context, request, &reply);
    EXPECT_EQ(status.error_code(), prefix == std::string("node-old")
                                       ? grpc::StatusCode::UNAVAILABLE
                                       : grpc::StatusCode::PERMISSION_DENIED)
        << prefix << ": " << status.error_message();
  }
  // Nor does it answer the standard health check or reflection, which would answer anyone of
  // the federation (its probes are /livez and /readyz on its metrics address).
  {
    auto creds = transport::MakeChannelCredentials(
        Files("norr"), StrCat("spiffe://", kFederation, "/region/vast/shard"));
    ASSERT_TRUE(creds.ok());
    grpc::GenericStub stub(grpc::CreateChannel(address, *creds));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice empty(std::string(""));
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) { done.set_value(s); });
    EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  // A question for another store than the one the map names (a map read before a move) is
  // refused by the shard.
  {
    auto creds = transport::MakeChannelCredentials(
        Files("node"), StrCat("spiffe://", kFederation, "/region/vast/shard"));
    ASSERT_TRUE(creds.ok());
    auto stub = v1::ShardService::NewStub(grpc::CreateChannel(address, *creds));
    grpc::ClientContext context;
    v1::ShardCountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion("sex(F)");
    request.mutable_expect()->set_store_id("another");
    request.mutable_expect()->set_end_ordinal(65536);
    v1::ShardCount reply;
    grpc::Status status = stub->Count(&context, request, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("as the node's shard map says"));
  }
  // A shard does not serve with its node's certificate (its machine would hold a key the hub
  // takes for the region); it says which certificate it needs.
  {
    std::vector<std::string> args = ServeArgs("s2");
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--cert") args[i + 1] = Files("node").cert;
      if (args[i] == "--key") args[i + 1] = Files("node").key;
    }
    auto refused = Pmdb(args);
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_THAT(refused.err, ::testing::HasSubstr("a shard serves with its own certificate"));
    EXPECT_THAT(refused.err, ::testing::HasSubstr("/region/vast/shard"));
  }
  // A shard added by mistake can be taken back until it serves; one that served cannot.
  ASSERT_TRUE(shard::AddShard(*client_, kRegion, "s9", shard::kPendingAddress, 65536).ok());
  EXPECT_TRUE(shard::RemovePendingShard(*client_, kRegion, "s9").ok());
  EXPECT_THAT(shard::RemovePendingShard(*client_, kRegion, "s1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "move its range"));
  // The shard map refuses a second shard with the same name, and the store another range.
  EXPECT_THAT(shard::AddShard(*client_, kRegion, "s1", "pending:0", 65536),
              StatusIs(absl::StatusCode::kAlreadyExists, "already has a shard named s1"));
  shards_.clear();
  {
    auto store = OpenOrDie(db("s1"));
    EXPECT_THAT(storage::MakeShard(*store, 65536, 131072),
                StatusIs(absl::StatusCode::kFailedPrecondition, "already the shard of"));
  }
  // A new, empty store in s1's place (a lost volume) is not taken for s1: its people would
  // silently be missing.
  std::filesystem::rename(db("s1"), db("s1-lost"));
  {
    auto fresh = OpenOrDie(db("s1"));
    ASSERT_TRUE(storage::MakeShard(*fresh, 0, 65536).ok());
  }
  ChildProcess replaced(ServeArgs("s1"), 0, dir_.Path("replaced.err"));
  EXPECT_EQ(replaced.port(), 0);
  EXPECT_THAT(ReadFile(dir_.Path("replaced.err")), ::testing::HasSubstr("restore its backup"));
}

TEST_F(ShardTest, IngestAndOptOutsGoThroughTheNodeToTheRightShard) {
  for (const char* name : {"s1", "s2", "s3"}) StartShard(name);
  auto single = server::StartNode(NodeConfig(db("single"), false));
  ASSERT_TRUE(single.ok()) << single.status();
  auto sharded = server::StartNode(NodeConfig(dir_.Path("node.db"), true));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto one = Admin((*single)->port());
  auto three = Admin((*sharded)->port());
  const std::string all = "sex(F) OR sex(M) OR sex(O) OR sex(U)";
  EXPECT_EQ(Exact(*three, all), "count 360");

  // 30 new people: to the newest shard, s3, as they would go into the one store.
  auto g = Pmdb({"generate", "--individuals", "30", "--variants", "40", "--seed", "12",
                 "--id-prefix", "NEW", "--out", dir_.Path("new")});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  for (auto* admin : {one.get(), three.get()}) {
    auto v = IngestThrough(*admin, dir_.Path("new/cohort.vcf.gz"), v1::IngestHeader::VCF);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->individuals_new(), 30u);
    auto p =
        IngestThrough(*admin, dir_.Path("new/phenopackets.jsonl"), v1::IngestHeader::PHENOPACKETS);
    ASSERT_TRUE(p.ok()) << p.status();
  }
  EXPECT_EQ(Exact(*three, all), "count 390");
  EXPECT_EQ(Exact(*three, "sex(F)"), Exact(*one, "sex(F)"));
  EXPECT_EQ(Exact(*three, "dx(C50) OR hpo(HP:0000118)"), Exact(*one, "dx(C50) OR hpo(HP:0000118)"));

  // s1's people again (an update): to s1, nobody new.
  auto again = IngestThrough(*three, dir_.Path("s1.jsonl"), v1::IngestHeader::PHENOPACKETS);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->individuals_new(), 0u);
  EXPECT_EQ(again->individuals_updated(), 120u);
  EXPECT_EQ(Exact(*three, all), "count 390");

  // People of two shards in one file, or known people of an older shard with new ones: refused.
  WriteFile(dir_.Path("mixed.jsonl"),
            ReadFile(dir_.Path("s1.jsonl")) + ReadFile(dir_.Path("s2.jsonl")));
  EXPECT_THAT(IngestThrough(*three, dir_.Path("mixed.jsonl"), v1::IngestHeader::PHENOPACKETS),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "names people held by several shards: s1 (120), s2 (120)"));
  auto g2 = Pmdb({"generate", "--individuals", "5", "--variants", "40", "--seed", "13",
                  "--id-prefix", "NEWER", "--out", dir_.Path("newer")});
  ASSERT_EQ(g2.exit_code, 0) << g2.err;
  WriteFile(dir_.Path("old-and-new.jsonl"),
            ReadFile(dir_.Path("s1.jsonl")) + ReadFile(dir_.Path("newer/phenopackets.jsonl")));
  EXPECT_THAT(IngestThrough(*three, dir_.Path("old-and-new.jsonl"), v1::IngestHeader::PHENOPACKETS),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "5 new people, who go to the newest shard s3"));
  EXPECT_EQ(Exact(*three, all), "count 390");

  // An opt-out reaches the shard that holds the person; the region's counts follow.
  std::string someone;
  {
    std::istringstream in(ReadFile(dir_.Path("s2.samples")));
    std::getline(in, someone);
  }
  v1::ConsentRequest opt_out;
  opt_out.add_subjects(someone);
  for (auto* admin : {one.get(), three.get()}) {
    grpc::ClientContext context;
    v1::ConsentReply reply;
    grpc::Status status = admin->Consent(&context, opt_out, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.not_in_store(), 0u);
    EXPECT_EQ(reply.removed(), 1u);
  }
  EXPECT_EQ(Exact(*three, all), "count 389");
  EXPECT_EQ(Exact(*three, "sex(F)"), Exact(*one, "sex(F)"));

  // A shard added after the opt-out does not have it: the person is not let back in there.
  std::string packet;
  {
    std::istringstream in(ReadFile(dir_.Path("s2.jsonl")));
    for (std::string line; std::getline(in, line);) {
      if (JsonString(ParseJson(line), "subject.id") == someone) packet = line + "\n";
    }
  }
  ASSERT_FALSE(packet.empty());
  WriteFile(dir_.Path("back.jsonl"), packet);
  ASSERT_TRUE(shard::AddShard(*client_, kRegion, "s4", shard::kPendingAddress, 65536).ok());
  StartShard("s4");
  for (int i = 0; i < 50; ++i) {  // the node sees s4 serving
    if (Exact(*three, all) == "count 389") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(IngestThrough(*three, dir_.Path("back.jsonl"), v1::IngestHeader::PHENOPACKETS),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "1 people who opted out on another shard but not on s4"));
  {
    grpc::ClientContext context;
    v1::ConsentReply reply;
    ASSERT_TRUE(three->Consent(&context, opt_out, &reply).ok());
  }
  auto back = IngestThrough(*three, dir_.Path("back.jsonl"), v1::IngestHeader::PHENOPACKETS);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->individuals_new(), 0u);  // withdrawn for every purpose: not stored
  EXPECT_EQ(Exact(*three, all), "count 389");
}

// Shard s3 holds ordinals 131072-262144, its 120 people 196548-196667: 60 on each side of the
// container boundary at 196608.
class ShardMoveTest : public ShardTest {
 protected:
  ShardMoveTest() {
    sizes_ = {65536, 65536, 131072};
    skip_ = {0, 0, 65536 - 60};
  }

  // Retries while the node catches up with the map (it re-reads it every 200 ms).
  void ExpectSame(v1::AdminService::Stub& one, v1::AdminService::Stub& sharded) {
    for (const char* expr : {"sex(F)", "sex(M) OR dx(C50)", "age(30-59) AND NOT sex(M)"}) {
      const std::string want = Exact(one, expr);
      std::string got;
      for (int i = 0; i < 100 && got != want; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        got = Exact(sharded, expr);
      }
      EXPECT_EQ(got, want) << expr;
    }
    const std::string want = Exact(one, "sex(F) OR sex(M)", {v1::SEX, v1::AGE_BAND});
    EXPECT_EQ(Exact(sharded, "sex(F) OR sex(M)", {v1::SEX, v1::AGE_BAND}), want);
  }

  absl::StatusOr<shard::MoveReport> Move(const std::string& from, const std::string& to,
                                         uint32_t at, const std::string& to_db = "") {
    return shard::MoveRange(*client_, {.region = kRegion,
                                       .from = from,
                                       .from_db = db(from),
                                       .to = to,
                                       .to_db = to_db.empty() ? db(to) : to_db,
                                       .at = at});
  }

  std::map<std::string, shard::ShardInfo> Map() {
    auto map = shard::ReadShardMap(*client_, kRegion);
    EXPECT_TRUE(map.ok()) << map.status();
    std::map<std::string, shard::ShardInfo> out;
    if (map.ok()) {
      for (shard::ShardInfo& s : *map) out[s.entry.name()] = s;
    }
    return out;
  }
};

TEST_F(ShardMoveTest, ASplitAndARelocationKeepEveryAnswer) {
  for (const char* name : {"s1", "s2", "s3"}) StartShard(name);
  auto single = server::StartNode(NodeConfig(db("single"), false));
  ASSERT_TRUE(single.ok()) << single.status();
  auto sharded = server::StartNode(NodeConfig(dir_.Path("node.db"), true));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto one = Admin((*single)->port());
  auto three = Admin((*sharded)->port());
  ExpectSame(*one, *three);

  // Split s3 at the boundary: the upper 60 people go to s4 with its own store.
  shards_.erase("s3");
  auto split = Move("s3", "s4", 196608);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->individuals, 60u);
  EXPECT_FALSE(split->resumed);
  auto map = Map();
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map["s3"].entry.end_ordinal(), 196608u);
  EXPECT_EQ(map["s4"].entry.first_ordinal(), 196608u);
  EXPECT_EQ(map["s4"].entry.end_ordinal(), 262144u);
  // Running it again finds it done.
  auto again = Move("s3", "s4", 196608);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->resumed);
  {
    auto s3 = OpenOrDie(db("s3"), false);
    auto all = s3->Snapshot()->GetBitmap(storage::keys::kAllIndividuals);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->Cardinality(), 60u);  // the other 60 left it
    auto range = storage::ShardRangeOf(*s3->Snapshot());
    ASSERT_TRUE(range.ok());
    EXPECT_EQ(range->end, 196608u);
  }
  StartShard("s3");
  StartShard("s4");
  ExpectSame(*one, *three);
  {
    // The region's dataset still counts each person once.
    v1::StatusReply status;
    bool whole = false;
    for (int i = 0; i < 50 && !whole; ++i) {
      grpc::ClientContext attempt;
      ASSERT_TRUE(three->Status(&attempt, v1::StatusRequest(), &status).ok());
      whole =
          status.datasets().contains("syn") && status.datasets().at("syn").sample_count() == 360;
      if (!whole) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(whole) << status.datasets().at("syn").sample_count();
  }

  // Relocate s1 whole to a new store: its entry leaves the map.
  shards_.erase("s1");
  auto moved = Move("s1", "s1b", 0);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->individuals, 120u);
  map = Map();
  EXPECT_FALSE(map.contains("s1"));
  EXPECT_EQ(map["s1b"].entry.first_ordinal(), 0u);
  StartShard("s1b");
  ExpectSame(*one, *three);
  // The old store's shard is out of the map: it does not serve.
  ChildProcess old(ServeArgs("s1"));
  EXPECT_EQ(old.port(), 0);
  // A move into an existing store, or of a range not the shard's, is refused.
  shards_.erase("s2");
  EXPECT_THAT(Move("s2", "s5", 65536, db("s1b")),
              StatusIs(absl::StatusCode::kAlreadyExists, "must be a new directory"));
  EXPECT_THAT(Move("s2", "s5", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not in s2's range"));
}

}  // namespace
}  // namespace pmdb::testing
