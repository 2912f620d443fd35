// A node's audit head signed with the node's own key (the private key of its TLS certificate),
// so that the hub's record of what it witnessed (node/hub/witness.h) is evidence a third party
// can check with nothing but the federation's CA certificate: the region, the chain's length and
// head hash, and the node's time, in one ECDSA-SHA256 signature, with the certificate that
// verifies it (issued by the CA to spiffe://<federation>/region/<region>/node).
#ifndef PMDB_SECURITY_SIGNED_HEAD_H_
#define PMDB_SECURITY_SIGNED_HEAD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pmdb::security {

// The bytes a head's signature covers.
std::string HeadMessage(std::string_view region, uint64_t entries, std::string_view head_hash,
                        int64_t time_unix_micros);

// A DER ECDSA signature of `message` with the private key in `key_path` (PEM).
absl::StatusOr<std::string> SignWithKeyFile(const std::string& key_path, std::string_view message);

// OK when `certificate_pem` was issued by the CA whose certificate is in `ca_path`, was valid at
// `at_unix` (the time the head was signed), is the node of `region`, and its key made
// `signature` over `message`; otherwise what is wrong.
absl::Status VerifyNodeSignature(std::string_view certificate_pem, const std::string& ca_path,
                                 const std::string& region, int64_t at_unix,
                                 std::string_view message, std::string_view signature);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_SIGNED_HEAD_H_
