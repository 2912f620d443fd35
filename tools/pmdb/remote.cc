#include "tools/pmdb/remote.h"

#include <grpcpp/create_channel.h>

#include <algorithm>
#include <cstdlib>

#include "node/base/strings.h"

namespace pmdb::cli {

std::vector<FlagSpec> CredentialFlags() {
  return {
      {"cert", "PATH", "your certificate (default: $PMDB_CERT)"},
      {"key", "PATH", "its private key (default: $PMDB_KEY)"},
      {"ca", "PATH", "the federation CA certificate (default: $PMDB_CA)"},
      {"crl", "PATH",
       "the federation's revocation list, checked against the server (default: $PMDB_CRL)"},
  };
}

CommandSpec WithCredentialFlags(CommandSpec spec) {
  for (FlagSpec& f : CredentialFlags()) spec.flags.push_back(std::move(f));
  return spec;
}

absl::StatusOr<security::TlsFiles> CredentialsFrom(const Flags& flags) {
  auto pick = [&](const char* flag, const char* env) {
    if (flags.Has(flag)) return flags.Get(flag);
    const char* v = std::getenv(env);
    return std::string(v == nullptr ? "" : v);
  };
  security::TlsFiles files;
  files.cert = pick("cert", "PMDB_CERT");
  files.key = pick("key", "PMDB_KEY");
  files.ca = pick("ca", "PMDB_CA");
  files.crl = pick("crl", "PMDB_CRL");
  if (files.cert.empty() || files.key.empty() || files.ca.empty()) {
    return absl::InvalidArgumentError(
        "give --cert, --key and --ca (or set PMDB_CERT, PMDB_KEY and PMDB_CA; "
        "build/demo/researcher.env does so for the demo)");
  }
  return files;
}

absl::StatusOr<Connection> Connect(const Flags& flags, const std::string& address,
                                   const std::string& server_path) {
  auto files = CredentialsFrom(flags);
  if (!files.ok()) return files.status();
  auto self = security::CheckTlsFiles(*files);
  if (!self.ok()) return self.status();
  std::string path = server_path;
  if (path == "own-node") {
    if (self->region.empty()) {
      return absl::PermissionDeniedError(
          StrCat(self->uri, " belongs to no region, so it has no node to talk to"));
    }
    path = StrCat("region/", self->region, "/node");
  }
  auto creds =
      transport::MakeChannelCredentials(*files, StrCat("spiffe://", self->federation, "/", path));
  if (!creds.ok()) return creds.status();
  Connection c;
  c.self = *self;
  c.target = address;
  c.channel = grpc::CreateChannel(address, *creds);
  return c;
}

absl::StatusOr<Target> ChooseTarget(const Flags& flags, std::vector<Target::Kind> allowed) {
  struct Choice {
    Target::Kind kind;
    const char* flag;
    const char* words;
  };
  const Choice choices[] = {{Target::kDb, "db", "--db"},
                            {Target::kHub, "hub", "--hub (or PMDB_HUB)"},
                            {Target::kNode, "node", "--node"}};
  std::vector<const Choice*> offered;
  for (const Choice& c : choices) {
    if (std::find(allowed.begin(), allowed.end(), c.kind) != allowed.end()) offered.push_back(&c);
  }
  Target target;
  int given = 0;
  for (const Choice* c : offered) {
    if (!flags.Has(c->flag)) continue;
    ++given;
    target.kind = c->kind;
    target.where = flags.Get(c->flag);
  }
  const char* env_hub = std::getenv("PMDB_HUB");
  bool hub_offered = std::find(allowed.begin(), allowed.end(), Target::kHub) != allowed.end();
  if (given == 0 && hub_offered && env_hub != nullptr && *env_hub != '\0') {
    given = 1;
    target.kind = Target::kHub;
    target.where = env_hub;
  }
  if (given != 1 || target.where.empty()) {
    std::string list;
    for (size_t i = 0; i < offered.size(); ++i) {
      StrAppend(&list, i == 0 ? "" : i + 1 == offered.size() ? " and " : ", ", offered[i]->words);
    }
    return absl::InvalidArgumentError(offered.size() == 1 ? StrCat(list, " is required")
                                                          : StrCat("give exactly one of ", list));
  }
  if (target.kind != Target::kDb) {
    // HOST:PORT, with a port: without one gRPC would quietly try 443.
    const std::string flag = target.kind == Target::kHub ? "--hub" : "--node";
    size_t colon = target.where.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !ParseUint32(std::string_view(target.where).substr(colon + 1), &port) || port == 0 ||
        port > 65535 || target.where.back() == ']') {
      return absl::InvalidArgumentError(
          StrCat(flag, " ", target.where, " needs a port: HOST:PORT, e.g. localhost:7104"));
    }
  }
  if (flags.Has("timeout")) {
    uint32_t t = 0;
    if (!ParseUint32(flags.Get("timeout"), &t) || t == 0) {
      return absl::InvalidArgumentError("--timeout is a number of seconds");
    }
    target.timeout_seconds = static_cast<int>(t);
  }
  return target;
}

absl::StatusOr<Connection> Connect(const Flags& flags, const Target& target) {
  return Connect(flags, target.where, target.kind == Target::kHub ? "hub" : "own-node");
}

}  // namespace pmdb::cli
