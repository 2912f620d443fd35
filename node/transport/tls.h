// Mutual TLS for every gRPC port: credentials built from the federation's files, with
// security::PeerCheck run inside the handshake, and the caller's identity for handlers.
//
// Both sides present a certificate chaining to the federation CA. Certificates and keys are
// re-read from disk periodically, so rotation needs no restart. gRPC's TLS stack negotiates
// TLS 1.2 or 1.3 with AEAD cipher suites only.
#ifndef PMDB_NODE_TRANSPORT_TLS_H_
#define PMDB_NODE_TRANSPORT_TLS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "security/identity.h"
#include "security/peer_check.h"

namespace pmdb::transport {

// Server side: requires and verifies a client certificate of `federation`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const security::TlsFiles& files, const std::string& federation);

// Client side: presents our certificate and accepts only a server whose identity is
// `expected_server` (a full spiffe:// URI).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const security::TlsFiles& files, const std::string& expected_server);

// The identity of the peer of a call: the certificate's single URI SAN.
absl::StatusOr<security::Identity> PeerIdentity(const grpc::AuthContext& context);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_TLS_H_
