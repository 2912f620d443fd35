// pmdb_simfedbench: latency of a clinician's federated similar-case search (top-k through the
// hub to every region over mutual TLS), next to the same search on one node called directly,
// measured in one run.
//
//   pmdb_simfedbench --hub ADDR --node ADDR --region ID --certs DIR --queries FILE
//                    [--runs N] [--top K]
//
// With --hub - only the node is measured (for profiling one node).
//
// DIR holds ca.crt, ca.crl, clinician.{crt,key} and hub.{crt,key} (the direct node call is made
// as the hub acting for the clinician, since nodes take questions only from the hub). FILE holds
// one Phenopacket v2 per line (pmdb generate --case-families writes queries.jsonl); the runs
// cycle through them.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "node/transport/tls.h"
#include "node/vocab/case_query.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "pmdb/v1/region.grpc.pb.h"
#include "security/policy.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/timing.h"

namespace pmdb::bench {
namespace {

int Fail(const std::string& what) {
  std::cerr << "pmdb_simfedbench: " << what << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  BenchFlags flags("pmdb_simfedbench", argc, argv);
  const std::string hub_address = flags.Get("hub"), node_address = flags.Get("node");
  const std::string region = flags.Get("region"), dir = flags.Get("certs");
  const std::string queries = flags.Get("queries");
  int runs = std::stoi(flags.Get("runs", "300"));
  uint32_t top = static_cast<uint32_t>(std::stoul(flags.Get("top", "10")));

  std::vector<v1::CaseQuery> questions;
  std::ifstream in(queries);
  std::string line;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    v1::Phenopacket packet;
    if (!google::protobuf::util::JsonStringToMessage(line, &packet, options).ok()) {
      return Fail(queries + ": a line is not a phenopacket");
    }
    auto q = vocab::CaseQueryFromPhenopacket(packet);
    if (!q.ok()) return Fail(std::string(q.status().message()));
    questions.push_back(std::move(*q));
  }
  if (questions.empty()) return Fail(queries + ": no cases");

  auto files = [&](const std::string& who) { return CertFiles(dir, who); };
  auto clinician = security::CheckTlsFiles(files("clinician"));
  if (!clinician.ok()) return Fail(std::string(clinician.status().message()));
  std::string fed = clinician->federation;
  auto hub_creds =
      transport::MakeChannelCredentials(files("clinician"), "spiffe://" + fed + "/hub");
  auto node_creds = transport::MakeChannelCredentials(
      files("hub"), "spiffe://" + fed + "/region/" + region + "/node");
  if (!hub_creds.ok() || !node_creds.ok()) return Fail("credentials cannot be read");
  auto hub = v1::FederationService::NewStub(grpc::CreateChannel(hub_address, *hub_creds));
  auto node = v1::RegionService::NewStub(grpc::CreateChannel(node_address, *node_creds));

  size_t next = 0;
  size_t regions = 0;
  auto federated_call = [&] {
    v1::SimilarCasesRequest request;
    *request.mutable_patient() = questions[next++ % questions.size()];
    request.set_top(top);
    grpc::ClientContext ctx;
    v1::FederatedSimilarCases out;
    grpc::Status s = hub->SimilarCases(&ctx, request, &out);
    if (!s.ok() || out.partial() || out.matches_size() == 0) {
      std::cerr << "pmdb_simfedbench: federated search failed: " << s.error_message()
                << (out.partial() ? " (partial)" : "") << "\n";
      std::exit(1);
    }
    regions = static_cast<size_t>(out.regions_size());
  };
  auto direct_call = [&] {
    v1::SimilarCasesRequest request;
    *request.mutable_patient() = questions[next++ % questions.size()];
    request.set_top(top);
    grpc::ClientContext ctx;
    ctx.AddMetadata(security::kOnBehalfOfKey, clinician->uri);
    v1::SimilarCasesAnswer out;
    grpc::Status s = node->SimilarCases(&ctx, request, &out);
    if (!s.ok()) {
      std::cerr << "pmdb_simfedbench: direct search failed: " << s.error_message() << "\n";
      std::exit(1);
    }
  };

  Latency direct = Measure(direct_call, runs, 10);
  Latency federated;
  if (hub_address == "-") {  // one node only, e.g. to profile it
    std::printf("direct top-%u on one node: p50 %.2f ms, p99 %.2f ms\n", top, direct.p50_ms,
                direct.p99_ms);
    return 0;
  }
  federated = Measure(federated_call, runs, 10);

  // Clinicians are not told how many cases a region scored (docs/disclosure.md), so the table
  // does not either.
  std::printf("| path | p50 (ms) | p99 (ms) |\n|---|---:|---:|\n");
  std::printf("| top-%u on one node, direct (gRPC, mTLS, audited) | %.2f | %.2f |\n", top,
              direct.p50_ms, direct.p99_ms);
  std::printf(
      "| federated top-%u: hub + %zu nodes (gRPC, mTLS, audited at %zu places) | %.2f | %.2f |\n",
      top, regions, regions + 1, federated.p50_ms, federated.p99_ms);
  std::printf("\n%d searches per path at concurrency 1, cycling through %zu seed cases\n", runs,
              questions.size());
  return 0;
}

}  // namespace
}  // namespace pmdb::bench

int main(int argc, char** argv) { return pmdb::bench::Main(argc, argv); }
