// Mutual TLS for every pmdb port: gRPC credentials built from the federation CA, a peer check
// that runs inside the handshake, and the caller's identity for handlers.
//
// Both sides present a certificate chaining to the federation CA. Inside the handshake the peer
// certificate must also carry exactly one URI SAN naming an identity of this federation, must
// not be on the CA's revocation list (re-read whenever the file changes), and on the client side
// must be the identity the caller expects (for example spiffe://<federation>/hub). Certificates
// and keys are re-read from disk periodically, so rotation needs no restart. gRPC's TLS stack
// negotiates TLS 1.2 or 1.3 with AEAD cipher suites only.
#ifndef PMDB_SECURITY_TLS_H_
#define PMDB_SECURITY_TLS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "security/identity.h"

namespace pmdb::security {

struct TlsFiles {
  std::string cert;  // PEM certificate of this process or person
  std::string key;   // its private key
  std::string ca;    // the federation CA certificate
  std::string crl;   // the federation CA's revocation list; empty: none checked
  // How often the certificate, key and CA files are re-read.
  int refresh_seconds = 60;
};

// Checks that the files exist and the certificate is a federation identity, and returns it.
absl::StatusOr<Identity> CheckTlsFiles(const TlsFiles& files);

// Server side: requires and verifies a client certificate of `federation`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, const std::string& federation);

// Client side: presents our certificate and accepts only a server whose identity is
// `expected_server` (a full spiffe:// URI).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files, const std::string& expected_server);

// The identity of the peer of a call: the certificate's single URI SAN.
absl::StatusOr<Identity> PeerIdentity(const grpc::AuthContext& context);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_TLS_H_
