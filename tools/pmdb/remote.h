// Talking to a hub or a node over mutual TLS from the command line: credentials from flags or
// the PMDB_* environment, and printing released (possibly suppressed) numbers.
#ifndef PMDB_TOOLS_PMDB_REMOTE_H_
#define PMDB_TOOLS_PMDB_REMOTE_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "node/transport/tls.h"
#include "pmdb/v1/answers.pb.h"
#include "security/identity.h"
#include "tools/pmdb/flags.h"

namespace pmdb::cli {

// The flags every networked command takes.
std::vector<FlagSpec> CredentialFlags();
// `spec` with the credential flags added.
CommandSpec WithCredentialFlags(CommandSpec spec);

struct Connection {
  security::Identity self;
  std::shared_ptr<grpc::Channel> channel;
  std::string target;  // the address
};

// Where a command sends its question, and how long it waits for the answer.
struct Target {
  enum Kind { kDb, kHub, kNode };
  Kind kind = kHub;
  std::string where;         // the store directory, or HOST:PORT
  int timeout_seconds = 30;  // --timeout, for kHub and kNode
  std::chrono::system_clock::time_point Deadline() const {
    return std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds);
  }
};

// The one reading of --db, --hub, --node and --timeout for every command: exactly one of the
// `allowed` kinds; PMDB_HUB stands for --hub when none of them is given. INVALID_ARGUMENT
// (a usage error) otherwise.
absl::StatusOr<Target> ChooseTarget(const Flags& flags, std::vector<Target::Kind> allowed);

// Connects to a kHub or kNode target as the flags' credentials say.
absl::StatusOr<Connection> Connect(const Flags& flags, const Target& target);

// --cert/--key/--ca/--crl, falling back to PMDB_CERT, PMDB_KEY, PMDB_CA, PMDB_CRL.
absl::StatusOr<security::TlsFiles> CredentialsFrom(const Flags& flags);

// Connects to `address`, accepting only a peer with identity `server_path` under our
// federation ("hub", or "region/<id>/node" where "<own>" means our own region).
absl::StatusOr<Connection> Connect(const Flags& flags, const std::string& address,
                                   const std::string& server_path);

}  // namespace pmdb::cli

#include "pmdb/v1/query.pb.h"

namespace pmdb::cli {

enum class QueryKind { kCount, kBreakdown, kFrequency };

struct RemoteQuery {
  QueryKind kind = QueryKind::kCount;
  std::vector<v1::Dimension> dimensions;
  std::vector<std::string> diagnoses;  // cells of a breakdown by diagnosis
  bool cost_only = false;              // what it would cost, charging nothing (hub only)
  bool per_region = false;  // every region's own number instead of one national total (hub only)
  v1::Purpose purpose = v1::RESEARCH;  // on a node only; the hub's regions decide by role
  int timeout_seconds = 30;
};

// Asks through the hub (FederationService) or the operator's own node (AdminService.Query) and
// prints as the local mode does, plus one part per region for the hub. With `json` non-null the
// JSON object goes there instead of text to stdout.
// `*answered` is false when no region answered: there is no number, the text says why, and
// the command exits non-zero.
absl::Status AskRemote(const Connection& connection, bool hub, const RemoteQuery& q,
                       const std::string& text, std::string* json, bool* answered);

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_REMOTE_H_
