// pmdb: one command-line tool for a federated precision-medicine database.
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <htslib/hts.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "node/core/settings.h"
#include "node/storage/store.h"
#include "security/audit.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"

namespace {

constexpr const char* kUsage =
    "usage: pmdb COMMAND [options]     (pmdb COMMAND --help for each; pmdb --version)\n"
    "\n"
    "pmdb keeps a healthcare region's genomic and clinical records in a local store and answers\n"
    "aggregate questions about them.\n"
    "\n"
    "commands:\n"
    "  ingest     add genotypes (VCF/BCF) or clinical records (Phenopacket v2 JSON) to a store\n"
    "  query      count, break down or compute allele frequencies with criteria such as\n"
    "             'gene(BRCA2) AND dx(C50) AND sex(F)'\n"
    "  consent    record opt-outs; opted-out people are excluded or deleted\n"
    "  info       what a store holds\n"
    "  backup     consistent, incremental backups of a store or a running node\n"
    "  restore    a backup into a new store, proved against the backup's manifest\n"
    "  generate   write a synthetic cohort (VCF + phenopackets) for tests and demos\n"
    "  ca         the federation's certificate authority: init, issue, revoke, list\n"
    "  node       run a regional node (RegionService, AdminService) behind mutual TLS\n"
    "  hub        run the national hub, which asks every region and merges the answers\n"
    "  shard      split a region's store across machines: add and list shards, run one\n"
    "  audit      verify and list the hash-chained audit log of a node or the hub; check the\n"
    "             hub's signed record of every region's log\n"
    "  similar    cases like a patient's in every region (clinicians), or in your own store\n"
    "  catalogue  a national catalogue of allele frequencies (a sites-only VCF) through the hub\n"
    "  contact    ask to be put in touch with a similar case's care unit; answer such requests\n"
    "\n"
    "Questions across regions: pmdb query --hub HOST:PORT 'EXPR' with a researcher's certificate;\n"
    "similar cases: pmdb similar --hub HOST:PORT --case PATIENT.json with a clinician's.\n";

}  // namespace

// pmdb's version and those of the libraries that hold its data and its connections: what an
// operator reports with a problem.
int PrintVersion() {
  std::cout << "pmdb " << pmdb::core::kVersion << "\n"
            << "  RocksDB " << pmdb::storage::RocksDbVersion() << ", gRPC " << grpc::Version()
            << ", " << pmdb::security::OpenSslVersion() << ", htslib " << hts_version() << "\n";
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::cout << kUsage;
    return argc < 2 ? pmdb::cli::kExitUsage : 0;
  }
  std::string command = argv[1];
  if (command == "--version" || command == "version") return PrintVersion();
  // gRPC's own log lines are for servers (routed into their structured log there); at the
  // command line what went wrong is said once, plainly (PlainError). GRPC_VERBOSITY brings them
  // back for debugging.
  if (command != "node" && command != "hub" && command != "shard" &&
      std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
  int sub_argc = argc - 2;
  char** sub_argv = argv + 2;
  if (command == "ingest") return pmdb::cli::RunIngest(sub_argc, sub_argv);
  if (command == "query") return pmdb::cli::RunQuery(sub_argc, sub_argv);
  if (command == "consent") return pmdb::cli::RunConsent(sub_argc, sub_argv);
  if (command == "info") return pmdb::cli::RunInfo(sub_argc, sub_argv);
  if (command == "generate") return pmdb::cli::RunGenerate(sub_argc, sub_argv);
  if (command == "ca") return pmdb::cli::RunCa(sub_argc, sub_argv);
  if (command == "node") return pmdb::cli::RunNode(sub_argc, sub_argv);
  if (command == "hub") return pmdb::cli::RunHub(sub_argc, sub_argv);
  if (command == "audit") return pmdb::cli::RunAudit(sub_argc, sub_argv);
  if (command == "similar") return pmdb::cli::RunSimilar(sub_argc, sub_argv);
  if (command == "catalogue") return pmdb::cli::RunCatalogue(sub_argc, sub_argv);
  if (command == "contact") return pmdb::cli::RunContact(sub_argc, sub_argv);
  if (command == "backup") return pmdb::cli::RunBackup(sub_argc, sub_argv);
  if (command == "restore") return pmdb::cli::RunRestore(sub_argc, sub_argv);
  if (command == "shard") return pmdb::cli::RunShard(sub_argc, sub_argv);
  std::cerr << "pmdb: unknown command '" << command << "'\n" << kUsage;
  return pmdb::cli::kExitUsage;
}
