// A connection flood against a node: thousands of idle TCP connections that never start TLS,
// from one address and then from many, past the node's own open-files limit. Before the
// connection gate (node/transport/connection_gate.h) about 20,000 such connections stopped a
// node from ever accepting again; now a legitimate client is still served.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "node/base/strings.h"
#include "security/policy.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

// Idle TCP connections to 127.0.0.1:port from `source` (another loopback address), held open
// until destroyed; as many as the kernel completes.
class Flood {
 public:
  Flood(const std::string& source, int port, int count) {
    for (int i = 0; i < count; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source.c_str(), &from.sin_addr);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
      if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
          connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
        close(fd);
        continue;
      }
      fds_.push_back(fd);
    }
  }
  ~Flood() {
    for (int fd : fds_) close(fd);
  }
  size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

class FloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;  // the attacker's own sockets
    setrlimit(RLIMIT_NOFILE, &lim);
    server::NodeConfig& syd = fed_.node_config("syd");
    WriteFile(fed_.dir().Path("syd.toml"),
              StrCat("[node]\nregion = \"syd\"\ndb = \"", syd.db,
                     "\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"", syd.tls.cert, "\"\nkey = \"",
                     syd.tls.key, "\"\nca = \"", syd.tls.ca, "\"\ncrl = \"", syd.tls.crl,
                     "\"\n[limits]\nmax_connections_per_address = 32\n",
                     "handshake_timeout_ms = 1000\n[sharing.researcher]\n"));
    // The node may hold 256 descriptors in all: the flood goes well past that.
    node_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"node", "--config", fed_.dir().Path("syd.toml")}, 256);
    ASSERT_GT(node_->port(), 0);
  }

  // The hub's question for the node's description on a researcher's behalf, retried until
  // `patience` has passed.
  bool Served(std::chrono::seconds patience) {
    auto until = std::chrono::steady_clock::now() + patience;
    do {
      auto stub = v1::RegionService::NewStub(fed_.Channel("hub", node_->port(), "region/syd/node"));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      ctx.AddMetadata(security::kOnBehalfOfKey, "spiffe://test-fed/researcher/anna");
      v1::RegionInfo info;
      grpc::Status s = stub->Info(&ctx, v1::InfoRequest(), &info);
      if (s.ok() && info.region() == "syd") return true;
      last_error_ = s.ok() ? info.ShortDebugString() : s.error_message();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < until);
    return false;
  }

  Federation fed_{20};
  std::unique_ptr<ChildProcess> node_;
  std::string last_error_;
};

TEST_F(FloodTest, OneAddressCannotCrowdOutTheOthers) {
  ASSERT_TRUE(Served(std::chrono::seconds(10))) << last_error_;
  Flood flood("127.0.0.2", node_->port(), 1000);
  ASSERT_GT(flood.size(), 300u) << "the kernel's backlog took what the node refused";
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(Served(std::chrono::seconds(15))) << "with 1000 idle connections from 127.0.0.2";
  std::printf("[flood] %zu idle connections from one address: served after %.2f s\n", flood.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

TEST_F(FloodTest, ManyAddressesPastTheOpenFilesLimitLeaveTheNodeAccepting) {
  std::vector<std::unique_ptr<Flood>> floods;
  size_t total = 0;
  for (int a = 2; a < 26; ++a) {
    floods.push_back(std::make_unique<Flood>(StrCat("127.0.0.", a), node_->port(), 40));
    total += floods.back()->size();
  }
  ASSERT_GT(total, 256u) << "past the node's open-files limit";
  auto started = std::chrono::steady_clock::now();
  // The flood's connections are closed at the handshake timeout (1 s here); the node must
  // accept again after that, while every flood socket is still held open by the attacker.
  EXPECT_TRUE(Served(std::chrono::seconds(20))) << "with " << total << " idle connections";
  std::printf("[flood] %zu idle connections from 24 addresses: served after %.2f s\n", total,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  // And again, with a second wave on top.
  Flood again("127.0.0.30", node_->port(), 400);
  EXPECT_TRUE(Served(std::chrono::seconds(20)));
}

}  // namespace
}  // namespace pmdb::testing
