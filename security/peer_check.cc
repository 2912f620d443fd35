#include "security/peer_check.h"

#include <sys/stat.h>

#include "node/base/strings.h"
#include "security/x509.h"

namespace pmdb::security {
namespace {

absl::Status Readable(const std::string& what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(StrCat("no ", what, " file given"));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(StrCat(what, " file ", path, " does not exist"));
  }
  return absl::OkStatus();
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

absl::Status PeerCheck::Check(std::string_view peer_pem) {
  auto cert = ParseCertificatePem(peer_pem);
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
  return NotRevoked(SerialHex(cert->get()));
}

absl::Status PeerCheck::NotRevoked(const std::string& serial) {
  if (crl_path_.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st {};
  if (stat(crl_path_.c_str(), &st) != 0) {
    return absl::UnavailableError(StrCat("revocation list ", crl_path_, " is missing"));
  }
  if (!loaded_ || st.st_mtim.tv_sec != mtime_ || st.st_mtim.tv_nsec != mtime_ns_ ||
      st.st_size != size_) {
    absl::Status s = ReloadCrl();
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

absl::Status PeerCheck::ReloadCrl() {
  auto crl = ReadCrl(crl_path_);
  if (!crl.ok()) return crl.status();
  auto ca = ReadCertificate(ca_path_);
  if (!ca.ok()) return ca.status();
  auto serials = RevokedSerials(crl->get(), ca->get());
  if (!serials.ok()) return serials.status();
  revoked_ = std::set<std::string>(serials->begin(), serials->end());
  return absl::OkStatus();
}

}  // namespace pmdb::security
