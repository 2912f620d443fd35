// X.509 building blocks on OpenSSL's library API: P-256 keys, certificates with SPIFFE URI SANs,
// CRLs, PEM files, and reading the identity out of a peer's certificate.
//
// The unique_ptr types own their OpenSSL objects. Functions are thread-safe (OpenSSL 3 is).
// This file and x509.cc are the only places that turn OpenSSL errors into absl::Status.
#ifndef PMDB_SECURITY_X509_H_
#define PMDB_SECURITY_X509_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "security/identity.h"

namespace pmdb::security {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;

// The OpenSSL error queue, drained into one status with `context` in front.
absl::Status OpenSslError(std::string_view context);

absl::StatusOr<KeyPtr> GenerateP256Key();

struct CertificateSpec {
  std::string common_name;
  std::vector<std::string> uris;  // URI SANs
  std::vector<std::string> dns;   // DNS SANs
  std::vector<std::string> ips;   // IP SANs (IPv4 or IPv6 text)
  bool is_ca = false;
  bool server_auth = false;
  bool client_auth = false;
  int64_t not_before_seconds = -300;  // relative to now; a little slack for clock skew
  int64_t not_after_seconds = 365LL * 24 * 3600;
};

// Signs a certificate for `subject_key`. With no issuer the certificate is self-signed.
absl::StatusOr<X509Ptr> MakeCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                        X509* issuer, EVP_PKEY* issuer_key);

struct Revocation {
  std::string serial_hex;
  int64_t revoked_at = 0;  // seconds since the epoch
};
absl::StatusOr<CrlPtr> MakeCrl(X509* issuer, EVP_PKEY* issuer_key,
                               const std::vector<Revocation>& revoked, int64_t valid_seconds);

absl::Status WriteCertificate(const std::string& path, X509* cert);
// Written with mode 0600, unencrypted: the file system guards it.
absl::Status WritePrivateKey(const std::string& path, EVP_PKEY* key);
absl::Status WriteCrl(const std::string& path, X509_CRL* crl);
absl::StatusOr<X509Ptr> ReadCertificate(const std::string& path);
absl::StatusOr<KeyPtr> ReadPrivateKey(const std::string& path);
absl::StatusOr<CrlPtr> ReadCrl(const std::string& path);
absl::StatusOr<X509Ptr> ParseCertificatePem(std::string_view pem);

// The serial numbers (SerialHex form) a CRL revokes, after checking that `issuer` signed it.
absl::StatusOr<std::vector<std::string>> RevokedSerials(X509_CRL* crl, X509* issuer);

std::string SerialHex(const X509* cert);
std::vector<std::string> UriSans(X509* cert);
int64_t NotAfter(const X509* cert);  // seconds since the epoch

// The certificate's identity: its one URI SAN, parsed. None or several is PERMISSION_DENIED.
absl::StatusOr<Identity> IdentityOfCertificate(X509* cert);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_X509_H_
