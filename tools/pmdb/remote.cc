#include "tools/pmdb/remote.h"

#include <grpcpp/create_channel.h>

#include <cstdlib>

#include "node/base/strings.h"

namespace pmdb::cli {

std::vector<FlagSpec> CredentialFlags() {
  return {
      {"cert", "PATH", "your certificate (default: $PMDB_CERT)"},
      {"key", "PATH", "its private key (default: $PMDB_KEY)"},
      {"ca", "PATH", "the federation CA certificate (default: $PMDB_CA)"},
      {"crl", "PATH", "the federation's revocation list, checked against the server (default: $PMDB_CRL)"},
  };
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
      return absl::PermissionDeniedError(StrCat(self->uri, " belongs to no region, so it has no node to talk to"));
    }
    path = StrCat("region/", self->region, "/node");
  }
  auto creds = transport::MakeChannelCredentials(*files, StrCat("spiffe://", self->federation, "/", path));
  if (!creds.ok()) return creds.status();
  Connection c;
  c.self = *self;
  c.target = address;
  c.channel = grpc::CreateChannel(address, *creds);
  return c;
}

void WriteReleased(Json& j, const v1::ReleasedCount& c) {
  j.BeginObject().Key("low").Uint(c.low());
  if (c.high() == UINT64_MAX) {
    j.Key("high").Null();
  } else {
    j.Key("high").Uint(c.high());
  }
  j.Key("exact").Bool(c.low() == c.high()).EndObject();
}

}  // namespace pmdb::cli
