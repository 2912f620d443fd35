#include "node/transport/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <iostream>

namespace pmdb::transport {
namespace {

// Runs in the handshake after gRPC has verified the chain and validity period.
class PeerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit PeerVerifier(std::shared_ptr<security::PeerCheck> check) : check_(std::move(check)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    absl::Status s = check_->Check(std::string_view(pem.data(), pem.size()));
    if (!s.ok()) {
      // The refusal is logged here because the peer only sees a failed handshake.
      std::cerr << "pmdb: refused a TLS peer: " << s.message() << "\n";
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(s.message()));
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;  // answered synchronously
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<security::PeerCheck> check_;
};

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(
    const security::TlsFiles& files) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.ca, std::max(1, files.refresh_seconds));
}

std::shared_ptr<grpc::experimental::CertificateVerifier> Verifier(
    const std::string& federation, const std::string& expected, const security::TlsFiles& files) {
  return grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
      std::make_shared<security::PeerCheck>(federation, expected, files));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const security::TlsFiles& files, const std::string& federation) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(Verifier(federation, "", files));
  auto creds = grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS server options");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const security::TlsFiles& files, const std::string& expected_server) {
  auto expected = security::ParseIdentity(expected_server);
  if (!expected.ok()) return expected.status();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // The server is checked by its identity URI rather than by host name.
  options.set_check_call_host(false);
  options.set_certificate_verifier(Verifier(expected->federation, expected->uri, files));
  auto creds = grpc::experimental::TlsCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS channel options");
  return creds;
}

absl::StatusOr<security::Identity> PeerIdentity(const grpc::AuthContext& context) {
  // gRPC sets peer_spiffe_id only when the certificate has exactly one URI SAN.
  std::vector<grpc::string_ref> ids = context.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() != 1) {
    return absl::UnauthenticatedError("the peer's certificate carries no single identity URI");
  }
  return security::ParseIdentity(std::string_view(ids[0].data(), ids[0].size()));
}

}  // namespace pmdb::transport
