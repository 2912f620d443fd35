// CertificateAuthority: the federation's root CA, kept in a directory.
//
//   DIR/ca.key       EC P-256 private key (mode 0600)
//   DIR/ca.crt       self-signed root certificate
//   DIR/ca.crl       certificate revocation list, rewritten on every revocation
//   DIR/federation   the federation name every issued identity must carry
//   DIR/issued.tsv   serial, identity, expiry (seconds since the epoch) of every certificate
//   DIR/revoked.tsv  serial, revocation time
//
// Not thread-safe: one pmdb ca command works on a directory at a time.
#ifndef PMDB_SECURITY_CA_H_
#define PMDB_SECURITY_CA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "security/x509.h"

namespace pmdb::security {

struct IssueRequest {
  std::string identity;            // spiffe://FEDERATION/...
  std::vector<std::string> dns;    // server certificates: names they serve
  std::vector<std::string> ips;    // server certificates: addresses they serve
  uint32_t days = 365;
};

struct IssuedCertificate {
  std::string serial_hex;
  std::string identity;
  int64_t not_after = 0;
  bool revoked = false;
};

class CertificateAuthority {
 public:
  // Creates the CA; refuses a directory that already holds one.
  static absl::StatusOr<CertificateAuthority> Init(const std::string& dir,
                                                   const std::string& federation, uint32_t days);
  static absl::StatusOr<CertificateAuthority> Open(const std::string& dir);

  // Writes PREFIX.key and PREFIX.crt. Hub and node identities get server and client key usage
  // (they serve and call); people get client usage only and may not carry DNS or IP names.
  absl::StatusOr<IssuedCertificate> Issue(const IssueRequest& request,
                                          const std::string& out_prefix);

  // Adds the serial to the revocation list and rewrites DIR/ca.crl.
  absl::Status Revoke(const std::string& serial_hex);
  // Rewrites DIR/ca.crl with a fresh validity window (30 days).
  absl::Status RefreshCrl();

  absl::StatusOr<std::vector<IssuedCertificate>> List() const;

  const std::string& federation() const { return federation_; }
  const std::string& dir() const { return dir_; }

 private:
  CertificateAuthority(std::string dir, std::string federation, X509Ptr cert, KeyPtr key)
      : dir_(std::move(dir)),
        federation_(std::move(federation)),
        cert_(std::move(cert)),
        key_(std::move(key)) {}
  std::string dir_;
  std::string federation_;
  X509Ptr cert_;
  KeyPtr key_;
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_CA_H_
