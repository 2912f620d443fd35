// pmdb_fedbench: latency and throughput of a federated count through the hub, next to a direct
// call to one node and a raw loopback TCP round trip, all measured in one run.
//
//   pmdb_fedbench --hub ADDR --node ADDR --region ID --certs DIR --query EXPR
//                 [--runs N] [--seconds S] [--concurrency C] [--regions K]
//                 [--engine-ms MS] [--sync-dir DIR]
//   pmdb_fedbench --nodes LABEL=ADDR,LABEL=ADDR,... --region ID --certs DIR --query EXPR [...]
//
// The second form compares direct counts on several nodes of one region (a node on one store and
// the same people on 1, 2 or 3 shards: tools/bench/shards), one table row per node, measured
// one after another in one run.
//
// DIR holds ca.crt, ca.crl, researcher.{crt,key} and hub.{crt,key} (the direct node call is
// made as the hub, acting for the researcher, since nodes take questions only from the hub).
// --regions K only names how many nodes the hub has in the table (tools/bench/federation sets it).
// --engine-ms is the question's in-process engine time (pmdb_bench engine), --sync-dir a
// directory on the nodes' disk: with them the direct call is also put against its parts (give
// --engine-ms only when the nodes do not pace answers, or the ratios mean nothing).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "node/transport/tls.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "pmdb/v1/region.grpc.pb.h"
#include "query/parser.h"
#include "security/policy.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/timing.h"

namespace pmdb::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Raw loopback: one byte to an echo thread and back over TCP on 127.0.0.1.
Latency Loopback(int runs) {
  int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(server, 1);
  getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread echo([server] {
    int c = accept(server, nullptr, nullptr);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char b;
    while (read(c, &b, 1) == 1 && write(c, &b, 1) == 1) {
    }
    close(c);
  });
  int client = socket(AF_INET, SOCK_STREAM, 0);
  connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char b = 'x';
  Latency l = Measure(
      [&] {
        if (write(client, &b, 1) != 1 || read(client, &b, 1) != 1) std::abort();
      },
      runs, 100);
  close(client);
  echo.join();
  close(server);
  return l;
}

// A synced append of 512 bytes to a file in `dir` (an audit entry's write-ahead-log record is
// about that size, and is synced before its answer leaves): the disk's share of a call.
Latency SyncedAppend(const std::string& dir, int runs) {
  const std::string path = dir + "/synced-append.bench";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) {
    std::cerr << "pmdb_fedbench: cannot create " << path << "\n";
    std::exit(1);
  }
  const std::string record(512, 'a');
  Latency l = Measure(
      [&] {
        if (write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
            fdatasync(fd) != 0) {
          std::abort();
        }
      },
      runs, 10);
  close(fd);
  unlink(path.c_str());
  return l;
}

// Calls `start(done)` `concurrency` times at once and again whenever one finishes, for
// `seconds`; returns completed calls per second.
double Throughput(int concurrency, double seconds,
                  const std::function<void(std::function<void(bool)>)>& start) {
  std::atomic<uint64_t> completed{0}, failed{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  int running = concurrency;
  std::function<void()> launch;
  launch = [&] {
    start([&](bool ok) {
      (ok ? completed : failed)++;
      if (!stop.load()) {
        launch();
      } else {
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) cv.notify_all();
      }
    });
  };
  auto t0 = Clock::now();
  for (int i = 0; i < concurrency; ++i) launch();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  uint64_t done_at_stop = completed.load();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return running == 0; });
  if (failed.load() > 0) std::cerr << "pmdb_fedbench: " << failed.load() << " calls failed\n";
  return static_cast<double>(done_at_stop) / elapsed;
}

int Main(int argc, char** argv) {
  BenchFlags args("pmdb_fedbench", argc, argv);
  std::string dir = args.Get("certs");
  int runs = std::stoi(args.Get("runs", "2000"));
  double seconds = std::stod(args.Get("seconds", "10"));
  int concurrency = std::stoi(args.Get("concurrency", "64"));
  std::string region = args.Get("region");
  const std::string nodes = args.Get("regions", "6") + " nodes";
  auto criterion = query::ParseCriterion(args.Get("query"));
  if (!criterion.ok()) {
    std::cerr << criterion.status() << "\n";
    return 2;
  }
  auto files = [&](const std::string& who) { return CertFiles(dir, who); };
  auto researcher = security::CheckTlsFiles(files("researcher"));
  if (!researcher.ok()) {
    std::cerr << researcher.status() << "\n";
    return 1;
  }
  std::string fed = researcher->federation;
  auto hub_creds =
      transport::MakeChannelCredentials(files("researcher"), "spiffe://" + fed + "/hub");
  auto node_creds = transport::MakeChannelCredentials(
      files("hub"), "spiffe://" + fed + "/region/" + region + "/node");
  if (!hub_creds.ok() || !node_creds.ok()) {
    std::cerr << "pmdb_fedbench: credentials: " << hub_creds.status() << node_creds.status()
              << "\n";
    return 1;
  }
  v1::CountRequest request;
  *request.mutable_criterion() = *criterion;
  // A direct count on `stub` (as the hub, for the researcher): latency, then throughput.
  auto direct_on = [&](v1::RegionService::Stub& stub) {
    auto call = [&] {
      grpc::ClientContext ctx;
      ctx.AddMetadata(security::kOnBehalfOfKey, researcher->uri);
      v1::CountAnswer out;
      grpc::Status s = stub.Count(&ctx, request, &out);
      if (!s.ok()) {
        std::cerr << "pmdb_fedbench: direct count failed: " << s.error_message() << "\n";
        std::exit(1);
      }
    };
    Latency latency = Measure(call, runs, 50);
    double qps = Throughput(concurrency, seconds, [&](std::function<void(bool)> done) {
      auto* ctx = new grpc::ClientContext;
      // A lost call counts as failed instead of holding the run up.
      ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      ctx->AddMetadata(security::kOnBehalfOfKey, researcher->uri);
      auto* out = new v1::CountAnswer;
      stub.async()->Count(ctx, &request, out, [ctx, out, done](grpc::Status s) {
        delete ctx;
        delete out;
        done(s.ok());
      });
    });
    return std::make_pair(latency, qps);
  };
  if (args.Has("nodes")) {
    std::printf("| node | p50 (ms) | p99 (ms) | queries/s at concurrency %d |\n", concurrency);
    std::printf("|---|---:|---:|---:|\n");
    std::string list = args.Get("nodes");
    for (size_t at = 0; at < list.size();) {
      size_t end = list.find(',', at);
      if (end == std::string::npos) end = list.size();
      std::string item = list.substr(at, end - at);
      at = end + 1;
      size_t eq = item.find('=');
      if (eq == std::string::npos) {
        std::cerr << "pmdb_fedbench: --nodes takes LABEL=ADDR,...\n";
        return 2;
      }
      auto stub = v1::RegionService::NewStub(grpc::CreateChannel(item.substr(eq + 1), *node_creds));
      auto [latency, qps] = direct_on(*stub);
      std::printf("| %s | %.3f | %.3f | %.0f |\n", item.substr(0, eq).c_str(), latency.p50_ms,
                  latency.p99_ms, qps);
    }
    std::printf("\nruns at concurrency 1: %d per node; throughput window: %.0f s\n", runs, seconds);
    return 0;
  }
  auto hub = v1::FederationService::NewStub(grpc::CreateChannel(args.Get("hub"), *hub_creds));
  auto node = v1::RegionService::NewStub(grpc::CreateChannel(args.Get("node"), *node_creds));

  // The hub's two kinds of federated count, side by side: every region's own part summed
  // (per_region), and one national total by secure aggregation (the default).
  v1::CountRequest per_region = request;
  per_region.set_per_region(true);
  auto federated_with = [&](const v1::CountRequest& r, bool national) {
    return [&, national] {
      grpc::ClientContext ctx;
      v1::FederatedCount out;
      grpc::Status s = hub->Count(&ctx, r, &out);
      if (!s.ok() || out.partial() || out.has_national() != national) {
        std::cerr << "pmdb_fedbench: federated count failed: " << s.error_message()
                  << (out.has_national() != national ? " (not the kind of total asked)" : "")
                  << "\n";
        std::exit(1);
      }
    };
  };
  auto federated_call = federated_with(per_region, false);
  auto national_call = federated_with(request, true);
  auto direct_call = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata(security::kOnBehalfOfKey, researcher->uri);
    v1::CountAnswer out;
    grpc::Status s = node->Count(&ctx, request, &out);
    if (!s.ok()) {
      std::cerr << "pmdb_fedbench: direct count failed: " << s.error_message() << "\n";
      std::exit(1);
    }
  };

  Latency loopback = Loopback(runs * 5);
  std::optional<Latency> synced;
  if (args.Has("sync-dir")) synced = SyncedAppend(args.Get("sync-dir"), std::max(runs / 4, 50));
  Latency direct = Measure(direct_call, runs, 50);
  Latency federated = Measure(federated_call, runs, 50);
  Latency national = Measure(national_call, runs, 50);

  double direct_qps = Throughput(concurrency, seconds, [&](std::function<void(bool)> done) {
    auto* ctx = new grpc::ClientContext;
    ctx->AddMetadata(security::kOnBehalfOfKey, researcher->uri);
    auto* out = new v1::CountAnswer;
    node->async()->Count(ctx, &request, out, [ctx, out, done](grpc::Status s) {
      delete ctx;
      delete out;
      done(s.ok());
    });
  });
  auto hub_qps = [&](const v1::CountRequest& r) {
    return Throughput(concurrency, seconds, [&](std::function<void(bool)> done) {
      auto* ctx = new grpc::ClientContext;
      auto* out = new v1::FederatedCount;
      hub->async()->Count(ctx, &r, out, [ctx, out, done](grpc::Status s) {
        bool ok = s.ok() && !out->partial();
        delete ctx;
        delete out;
        done(ok);
      });
    });
  };
  double federated_qps = hub_qps(per_region);
  double national_qps = hub_qps(request);

  std::printf("| path | p50 (ms) | p99 (ms) | queries/s at concurrency %d |\n", concurrency);
  std::printf("|---|---:|---:|---:|\n");
  std::printf("| raw loopback TCP round trip (1 byte) | %.3f | %.3f | - |\n", loopback.p50_ms,
              loopback.p99_ms);
  if (synced.has_value()) {
    std::printf("| synced 512-byte append (fdatasync), the node's disk | %.3f | %.3f | - |\n",
                synced->p50_ms, synced->p99_ms);
  }
  const double engine_ms = args.Has("engine-ms") ? std::stod(args.Get("engine-ms")) : -1;
  if (engine_ms >= 0) {
    std::printf("| the question in the engine, in process (one region's store) | %.3f | - | - |\n",
                engine_ms);
  }
  std::printf("| direct count on one node (gRPC, mTLS, audited) | %.3f | %.3f | %.0f |\n",
              direct.p50_ms, direct.p99_ms, direct_qps);
  std::printf(
      "| federated count, per region: hub + %s (gRPC, mTLS, audited) | %.3f | %.3f | %.0f |\n",
      nodes.c_str(), federated.p50_ms, federated.p99_ms, federated_qps);
  std::printf("| national count, secure aggregation: hub + %s, one noise | %.3f | %.3f | %.0f |\n",
              nodes.c_str(), national.p50_ms, national.p99_ms, national_qps);
  std::printf("\nnational / per-region p50: %.2fx\n", national.p50_ms / federated.p50_ms);
  std::printf("federated (per region) / direct p50: %.2fx\n", federated.p50_ms / direct.p50_ms);
  if (engine_ms >= 0) {
    std::printf("direct / (loopback + engine) p50: %.2fx\n",
                direct.p50_ms / (loopback.p50_ms + engine_ms));
    if (synced.has_value()) {
      std::printf("direct / (loopback + engine + synced append) p50: %.2fx\n",
                  direct.p50_ms / (loopback.p50_ms + engine_ms + synced->p50_ms));
    }
  }
  std::printf("\nruns at concurrency 1: %d per path; throughput window: %.0f s\n", runs, seconds);
  return 0;
}

}  // namespace
}  // namespace pmdb::bench

int main(int argc, char** argv) { return pmdb::bench::Main(argc, argv); }
