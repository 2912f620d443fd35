// Case references: the opaque handle a clinician gets for a similar case.
//
// A reference names its region in clear (so the hub can route a contact request) and seals the
// case's ordinal and an expiry time with AES-256-GCM under a key only that region holds:
//
//   pmdbref1.<region>.<base64url(nonce 12 | ciphertext 12 | tag 16)>
//
// Nobody else can read which case it is, forge one, or move one to another region (the region
// is authenticated as associated data); a fresh nonce per answer means two searches give two
// different references for the same case, so references cannot be joined across answers.
#ifndef PMDB_SECURITY_CASE_REF_H_
#define PMDB_SECURITY_CASE_REF_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::security {

struct CaseRef {
  std::string region;
  uint32_t ordinal = 0;
  int64_t expires_unix = 0;
};

// A new 32-byte key.
absl::StatusOr<std::string> NewReferenceKey();

// `bytes` random bytes as lower-case hex (for ids that must not be guessable).
absl::StatusOr<std::string> RandomHex(size_t bytes);

absl::StatusOr<std::string> SealCaseReference(std::string_view key, const CaseRef& ref);

// The case of a reference made by this region with this key. INVALID_ARGUMENT for anything
// that is not such a reference (malformed, forged, another region's or another key's);
// FAILED_PRECONDITION once it has expired at `now_unix`.
absl::StatusOr<CaseRef> OpenCaseReference(std::string_view key, std::string_view region,
                                          std::string_view reference, int64_t now_unix);

// The region a reference names, without opening it; INVALID_ARGUMENT when malformed.
absl::StatusOr<std::string> RegionOfReference(std::string_view reference);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_CASE_REF_H_
