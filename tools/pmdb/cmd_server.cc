// pmdb node / pmdb hub: run a regional node or the national hub until SIGINT or SIGTERM.
#include <csignal>
#include <iostream>

#include "node/base/strings.h"
#include "node/server/config.h"
#include "node/server/server.h"
#include "security/disclosure.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"

namespace pmdb::cli {
namespace {

const CommandSpec& NodeSpec() {
  static const CommandSpec spec{
      "node",
      "pmdb node --config FILE",
      "Runs a regional node: RegionService (for the national hub), AdminService (for the\n"
      "region's own operators), gRPC health checking and server reflection, all on one port\n"
      "behind mutual TLS with the federation CA. The configuration (TOML) names the region, the\n"
      "store, the certificate files, what the region shares with whom, and its disclosure rules;\n"
      "deploy/node.example.toml documents every key. Prints the port it listens on, then serves\n"
      "until SIGINT or SIGTERM, letting running calls finish.",
      {{"config", "FILE", "the node's configuration"},
       {"accept-audit-damage", "",
        "start although the audit log is not the one last written (cut short, an older copy, "
        "edited): after pmdb audit verify, by the operator's explicit choice; re-anchors it"}},
      "  pmdb node --config /etc/pmdb/node.toml\n",
  };
  return spec;
}

const CommandSpec& HubSpec() {
  static const CommandSpec spec{
      "hub",
      "pmdb hub --config FILE",
      "Runs the national hub: FederationService for researchers, which fans every question out\n"
      "to the configured regions concurrently, with a per-call deadline, and merges what they\n"
      "released. Mutual TLS with the federation CA on its port and towards every region;\n"
      "deploy/hub.example.toml documents every key. Prints the port it listens on, then serves\n"
      "until SIGINT or SIGTERM.",
      {{"config", "FILE", "the hub's configuration"},
       {"accept-audit-damage", "",
        "start although the audit log is not the one last written (see pmdb node --help)"},
       {"accept-region-audit", "REGION",
        "forward questions to REGION again although its audit log was caught cut short or\n"
        "rewritten (the hub witnesses every region's log; docs/operations.md): its log is\n"
        "taken as it is now. Only after the region's operator has explained what happened",
        true}},
      "  pmdb hub --config /etc/pmdb/hub.toml\n"
      "  pmdb hub --config /etc/pmdb/hub.toml --accept-region-audit vast\n",
  };
  return spec;
}

// Blocks SIGINT and SIGTERM in every thread (gRPC's threads inherit the mask), so that the main
// thread can wait for them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Serve(const char* what, absl::StatusOr<std::unique_ptr<server::Server>> started,
          const std::string& description, const sigset_t& signals, const std::string& note = "") {
  if (!started.ok()) return Fail(what, started.status());
  std::cout << "pmdb " << what << ": " << description << " listening on port " << (*started)->port()
            << std::endl;
  if ((*started)->ops_port() != 0) {
    std::cout << "pmdb " << what << ": operations endpoint on port " << (*started)->ops_port()
              << " (/metrics, /livez, /readyz)" << std::endl;
  }
  if ((*started)->https_port() != 0) {
    std::cout << "pmdb " << what << ": HTTPS on port " << (*started)->https_port()
              << (std::string(what) == "node"
                      ? " (the public tier: GA4GH Beacon v2 under /api, no client certificate)"
                      : " (the web page at /, GA4GH Beacon v2 under /api, mutual TLS)")
              << std::endl;
  }
  if ((*started)->page_port() != 0) {
    std::cout << "pmdb " << what << ": the operators' web page on HTTPS port "
              << (*started)->page_port() << " (mutual TLS, this region's operators only)"
              << std::endl;
  }
  if (!note.empty()) std::cerr << "pmdb " << what << ": " << note << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "pmdb " << what << ": stopping (signal " << sig << ")\n";
  (*started)->Shutdown(std::chrono::seconds(5));
  (*started)->Wait();
  started->reset();
  return 0;
}

}  // namespace

int RunNode(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(NodeSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("config"))
    return UsageError(NodeSpec(), absl::InvalidArgumentError("--config is required"));
  auto config = server::LoadNodeConfig(flags->Get("config"));
  if (config.ok()) config->accept_audit_damage = flags->Bool("accept-audit-damage");
  if (!config.ok()) return Fail("node", config.status());
  sigset_t signals = BlockStopSignals();
  // A line on stderr says how answers are protected, loudly when the operator loosened it.
  std::string disclosure =
      security::Discloser(config->settings.disclosure, "").Applied().description();
  return Serve("node", server::StartNode(*config), StrCat("region ", config->settings.region),
               signals,
               StrCat(config->settings.disclosure.differential_privacy &&
                              config->settings.disclosure.close_side_channels
                          ? ""
                          : "WARNING: ",
                      "disclosure: ", disclosure));
}

int RunHub(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(HubSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("config"))
    return UsageError(HubSpec(), absl::InvalidArgumentError("--config is required"));
  auto config = server::LoadHubConfig(flags->Get("config"));
  if (config.ok()) {
    config->accept_audit_damage = flags->Bool("accept-audit-damage");
    config->accept_region_audit = flags->All("accept-region-audit");
  }
  if (!config.ok()) return Fail("hub", config.status());
  sigset_t signals = BlockStopSignals();
  return Serve("hub", server::StartHub(*config),
               StrCat("hub for ", config->regions.size(),
                      config->regions.size() == 1 ? " region" : " regions"),
               signals);
}

}  // namespace pmdb::cli
