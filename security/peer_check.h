// The TLS rules of the federation that do not depend on a transport: which files a process or
// person presents (TlsFiles, checked up front by CheckTlsFiles), and whether a peer's
// certificate is let in (PeerCheck). Chain and validity are checked by the TLS stack first; a
// PeerCheck then requires exactly one URI SAN naming an identity of this federation, the
// expected identity on the client side (for example spiffe://<federation>/hub), and a serial
// that is not on the CA's revocation list, which is re-read whenever its file changes. A
// revocation list that cannot be read refuses everyone: failing open would let revoked
// certificates in. node/transport/tls.h plugs this into gRPC's handshake.
#ifndef PMDB_SECURITY_PEER_CHECK_H_
#define PMDB_SECURITY_PEER_CHECK_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
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

// Checks that the files exist, the key belongs to the certificate and the certificate is a
// federation identity, and returns that identity.
absl::StatusOr<Identity> CheckTlsFiles(const TlsFiles& files);

// Thread-safe; shared by every handshake of one server or channel.
class PeerCheck {
 public:
  // `expected` is the full identity URI the peer must have, or empty to accept any identity
  // of `federation` (a server checking its clients).
  PeerCheck(std::string federation, std::string expected, const TlsFiles& files)
      : federation_(std::move(federation)),
        expected_(std::move(expected)),
        crl_path_(files.crl),
        ca_path_(files.ca) {}

  // OK when the peer's certificate (PEM) may connect; otherwise why not.
  absl::Status Check(std::string_view peer_pem);

 private:
  absl::Status NotRevoked(const std::string& serial);
  absl::Status ReloadCrl();

  const std::string federation_;
  const std::string expected_;
  const std::string crl_path_;
  const std::string ca_path_;
  std::mutex mu_;
  bool loaded_ = false;       // guarded by mu_, as are the fields below
  int64_t mtime_ = 0;
  int64_t mtime_ns_ = 0;
  int64_t size_ = 0;
  std::set<std::string> revoked_;
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_PEER_CHECK_H_
