#include "security/signed_head.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include "node/base/strings.h"
#include "security/x509.h"

namespace pmdb::security {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

}  // namespace

std::string HeadMessage(std::string_view region, uint64_t entries, std::string_view head_hash,
                        int64_t time_unix_micros) {
  // Length-prefixed parts after a label, so that no two heads share their bytes.
  const std::string count = std::to_string(entries);
  const std::string time = std::to_string(time_unix_micros);
  std::string m = "pmdb audit head v1";
  for (std::string_view part :
       {region, std::string_view(count), head_hash, std::string_view(time)}) {
    StrAppend(&m, "\x1f", part.size(), ":");
    m.append(part);
  }
  return m;
}

absl::StatusOr<std::string> SignWithKeyFile(const std::string& key_path, std::string_view message) {
  auto key = ReadPrivateKey(key_path);
  if (!key.ok()) return key.status();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->get()) != 1) {
    return OpenSslError("signing the audit head");
  }
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, message.size()) != 1) {
    return OpenSslError("signing the audit head");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     message.size()) != 1) {
    return OpenSslError("signing the audit head");
  }
  signature.resize(length);
  return signature;
}

absl::Status VerifyNodeSignature(std::string_view certificate_pem, const std::string& ca_path,
                                 const std::string& region, int64_t at_unix,
                                 std::string_view message, std::string_view signature) {
  auto cert = ParseCertificatePem(certificate_pem);
  if (!cert.ok()) return absl::InvalidArgumentError("the signer's certificate is not readable");
  auto ca = ReadCertificate(ca_path);
  if (!ca.ok()) return ca.status();
  EVP_PKEY* ca_key = X509_get0_pubkey(ca->get());
  if (ca_key == nullptr || X509_verify(cert->get(), ca_key) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError("the signer's certificate was not issued by the CA");
  }
  time_t at = static_cast<time_t>(at_unix);
  // X509_cmp_time: -1 before, 1 after, 0 when it cannot tell (taken as not valid).
  const int from = X509_cmp_time(X509_get0_notBefore(cert->get()), &at);
  const int until = X509_cmp_time(X509_get0_notAfter(cert->get()), &at);
  if (from >= 0 || until <= 0) {
    return absl::PermissionDeniedError(
        "the signer's certificate was not valid when the head was signed");
  }
  auto identity = IdentityOfCertificate(cert->get());
  if (!identity.ok()) return identity.status();
  if (identity->role != Role::kNode || identity->region != region) {
    return absl::PermissionDeniedError(
        StrCat("the head is signed by ", identity->uri, ", not the node of region ", region));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(cert->get())) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError("the signature does not match the head");
  }
  return absl::OkStatus();
}

}  // namespace pmdb::security
