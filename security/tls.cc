#include "security/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/stat.h>

#include <iostream>
#include <mutex>
#include <set>

#include "node/base/strings.h"
#include "security/x509.h"

namespace pmdb::security {
namespace {

// The CA's revocation list, re-read when the file's modification time or size changes.
class RevocationList {
 public:
  RevocationList(std::string crl_path, std::string ca_path)
      : crl_path_(std::move(crl_path)), ca_path_(std::move(ca_path)) {}

  // OK when `serial` is not revoked. A CRL that cannot be read or checked refuses everyone:
  // failing open would let revoked certificates in.
  absl::Status Check(const std::string& serial) {
    if (crl_path_.empty()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    struct stat st {};
    if (stat(crl_path_.c_str(), &st) != 0) {
      return absl::UnavailableError(StrCat("revocation list ", crl_path_, " is missing"));
    }
    if (!loaded_ || st.st_mtim.tv_sec != mtime_ || st.st_mtim.tv_nsec != mtime_ns_ ||
        st.st_size != size_) {
      absl::Status s = Reload();
      if (!s.ok()) {
        loaded_ = false;
        return s;
      }
      mtime_ = st.st_mtim.tv_sec;
      mtime_ns_ = st.st_mtim.tv_nsec;
      size_ = st.st_size;
      loaded_ = true;
    }
    if (revoked_.count(serial) != 0) {
      return absl::PermissionDeniedError(StrCat("certificate serial ", serial, " is revoked"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Reload() {
    auto crl = ReadCrl(crl_path_);
    if (!crl.ok()) return crl.status();
    auto ca = ReadCertificate(ca_path_);
    if (!ca.ok()) return ca.status();
    auto serials = RevokedSerials(crl->get(), ca->get());
    if (!serials.ok()) return serials.status();
    revoked_ = std::set<std::string>(serials->begin(), serials->end());
    return absl::OkStatus();
  }

  const std::string crl_path_;
  const std::string ca_path_;
  std::mutex mu_;
  bool loaded_ = false;
  int64_t mtime_ = 0;
  int64_t mtime_ns_ = 0;
  int64_t size_ = 0;
  std::set<std::string> revoked_;
};

// Runs in the handshake after gRPC has verified the chain and validity period.
class PeerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PeerVerifier(std::string federation, std::string expected, std::shared_ptr<RevocationList> crl)
      : federation_(std::move(federation)), expected_(std::move(expected)), crl_(std::move(crl)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    absl::Status s = Check(*request);
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
  absl::Status Check(const grpc::experimental::TlsCustomVerificationCheckRequest& request) {
    grpc::string_ref pem = request.peer_cert();
    auto cert = ParseCertificatePem(std::string_view(pem.data(), pem.size()));
    if (!cert.ok()) return cert.status();
    auto id = IdentityOfCertificate(cert->get());
    if (!id.ok()) return id.status();
    if (id->federation != federation_) {
      return absl::PermissionDeniedError(
          StrCat(id->uri, " belongs to another federation than ", federation_));
    }
    if (!expected_.empty() && id->uri != expected_) {
      return absl::PermissionDeniedError(StrCat("expected ", expected_, ", the peer is ", id->uri));
    }
    return crl_->Check(SerialHex(cert->get()));
  }

  const std::string federation_;
  const std::string expected_;
  std::shared_ptr<RevocationList> crl_;
};

absl::Status Readable(const std::string& what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(StrCat("no ", what, " file given"));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(StrCat(what, " file ", path, " does not exist"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(
    const TlsFiles& files) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.ca, std::max(1, files.refresh_seconds));
}

}  // namespace

absl::StatusOr<Identity> CheckTlsFiles(const TlsFiles& files) {
  for (auto [what, path] : {std::pair<const char*, const std::string*>{"certificate", &files.cert},
                            {"key", &files.key},
                            {"CA certificate", &files.ca}}) {
    absl::Status s = Readable(what, *path);
    if (!s.ok()) return s;
  }
  if (!files.crl.empty()) {
    absl::Status s = Readable("revocation list", files.crl);
    if (!s.ok()) return s;
  }
  auto cert = ReadCertificate(files.cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadPrivateKey(files.key);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return absl::InvalidArgumentError(
        StrCat(files.key, " is not the private key of ", files.cert));
  }
  return IdentityOfCertificate(cert->get());
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, const std::string& federation) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
          federation, "", std::make_shared<RevocationList>(files.crl, files.ca)));
  auto creds = grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS server options");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files, const std::string& expected_server) {
  auto expected = ParseIdentity(expected_server);
  if (!expected.ok()) return expected.status();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // The server is checked by its identity URI rather than by host name.
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
          expected->federation, expected->uri,
          std::make_shared<RevocationList>(files.crl, files.ca)));
  auto creds = grpc::experimental::TlsCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS channel options");
  return creds;
}

absl::StatusOr<Identity> PeerIdentity(const grpc::AuthContext& context) {
  // gRPC sets peer_spiffe_id only when the certificate has exactly one URI SAN.
  std::vector<grpc::string_ref> ids = context.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() != 1) {
    return absl::UnauthenticatedError("the peer's certificate carries no single identity URI");
  }
  return ParseIdentity(std::string_view(ids[0].data(), ids[0].size()));
}

}  // namespace pmdb::security
