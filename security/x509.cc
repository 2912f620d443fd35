#include "security/x509.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(StrCat("building extension ", OBJ_nid2sn(nid)));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError("adding an extension");
  return absl::OkStatus();
}

absl::StatusOr<BioPtr> OpenForWrite(const std::string& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  ::fchmod(fd, mode);  // an existing file keeps its old mode otherwise
  FILE* f = ::fdopen(fd, "w");
  BioPtr bio(BIO_new_fp(f, BIO_CLOSE));
  if (!bio) {
    std::fclose(f);
    return OpenSslError(StrCat("opening ", path));
  }
  return bio;
}

absl::StatusOr<BioPtr> OpenForRead(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return absl::NotFoundError(StrCat("cannot read ", path));
  }
  return bio;
}

}  // namespace

absl::Status OpenSslError(std::string_view context) {
  std::string message(context);
  unsigned long code;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    StrAppend(&message, first ? ": " : "; ", buf);
    first = false;
  }
  return absl::InternalError(message);
}

absl::StatusOr<KeyPtr> GenerateP256Key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating a P-256 key");
  return key;
}

absl::StatusOr<X509Ptr> MakeCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                        X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return OpenSslError("creating a certificate");
  // A random 127-bit serial: unique without a counter file, positive as RFC 5280 asks.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("drawing a serial number");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  ASN1_INTEGER* asn = BN_to_ASN1_INTEGER(bn, nullptr);
  BN_free(bn);
  int ok = asn != nullptr && X509_set_serialNumber(cert.get(), asn) == 1;
  ASN1_INTEGER_free(asn);
  if (!ok) return OpenSslError("setting the serial number");

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                 -1, -1, 0) != 1) {
    return OpenSslError("setting the subject name");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_seconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_seconds) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("filling the certificate");
  }

  std::vector<std::pair<int, std::string>> extensions;
  if (spec.is_ca) {
    extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"}};
  } else {
    extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                  {NID_key_usage, "critical,digitalSignature"},
                  {NID_subject_key_identifier, "hash"},
                  {NID_authority_key_identifier, "keyid:always"}};
    std::string eku;
    if (spec.server_auth) eku = "serverAuth";
    if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    if (!eku.empty()) extensions.push_back({NID_ext_key_usage, eku});
  }
  std::string san;
  for (const std::string& u : spec.uris) StrAppend(&san, san.empty() ? "" : ",", "URI:", u);
  for (const std::string& d : spec.dns) StrAppend(&san, san.empty() ? "" : ",", "DNS:", d);
  for (const std::string& i : spec.ips) StrAppend(&san, san.empty() ? "" : ",", "IP:", i);
  if (!san.empty()) extensions.push_back({NID_subject_alt_name, san});
  for (const auto& [nid, value] : extensions) {
    if (auto s = AddExtension(cert.get(), signer, nid, value); !s.ok()) return s;
  }
  EVP_PKEY* signing_key = issuer_key != nullptr ? issuer_key : subject_key;
  if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate");
  }
  return cert;
}

absl::StatusOr<CrlPtr> MakeCrl(X509* issuer, EVP_PKEY* issuer_key,
                               const std::vector<Revocation>& revoked, int64_t valid_seconds) {
  CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1) {
    return OpenSslError("creating a CRL");
  }
  ASN1_TIME* now = X509_gmtime_adj(nullptr, 0);
  ASN1_TIME* next = X509_gmtime_adj(nullptr, valid_seconds);
  int ok = now && next && X509_CRL_set1_lastUpdate(crl.get(), now) == 1 &&
           X509_CRL_set1_nextUpdate(crl.get(), next) == 1;
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  if (!ok) return OpenSslError("setting CRL dates");
  for (const Revocation& r : revoked) {
    BIGNUM* bn = nullptr;
    if (BN_hex2bn(&bn, r.serial_hex.c_str()) == 0) {
      return absl::InvalidArgumentError(StrCat("'", r.serial_hex, "' is not a hex serial"));
    }
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
    BN_free(bn);
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_TIME* when = ASN1_TIME_set(nullptr, static_cast<time_t>(r.revoked_at));
    bool added = serial && entry && when && X509_REVOKED_set_serialNumber(entry, serial) == 1 &&
                 X509_REVOKED_set_revocationDate(entry, when) == 1 &&
                 X509_CRL_add0_revoked(crl.get(), entry) == 1;
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    if (!added) {
      X509_REVOKED_free(entry);
      return OpenSslError("adding a revoked serial");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the CRL");
  }
  return crl;
}

absl::Status WriteCertificate(const std::string& path, X509* cert) {
  auto bio = OpenForWrite(path, 0644);
  if (!bio.ok()) return bio.status();
  if (PEM_write_bio_X509(bio->get(), cert) != 1) return OpenSslError(StrCat("writing ", path));
  return absl::OkStatus();
}

absl::Status WritePrivateKey(const std::string& path, EVP_PKEY* key) {
  auto bio = OpenForWrite(path, 0600);
  if (!bio.ok()) return bio.status();
  if (PEM_write_bio_PrivateKey(bio->get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(StrCat("writing ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteCrl(const std::string& path, X509_CRL* crl) {
  auto bio = OpenForWrite(path, 0644);
  if (!bio.ok()) return bio.status();
  if (PEM_write_bio_X509_CRL(bio->get(), crl) != 1) return OpenSslError(StrCat("writing ", path));
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> ReadCertificate(const std::string& path) {
  auto bio = OpenForRead(path);
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError(StrCat(path, " is not a PEM certificate"));
  return cert;
}

absl::StatusOr<KeyPtr> ReadPrivateKey(const std::string& path) {
  auto bio = OpenForRead(path);
  if (!bio.ok()) return bio.status();
  KeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(StrCat(path, " is not a PEM private key"));
  return key;
}

absl::StatusOr<CrlPtr> ReadCrl(const std::string& path) {
  auto bio = OpenForRead(path);
  if (!bio.ok()) return bio.status();
  CrlPtr crl(PEM_read_bio_X509_CRL(bio->get(), nullptr, nullptr, nullptr));
  if (!crl) return OpenSslError(StrCat(path, " is not a PEM CRL"));
  return crl;
}

absl::StatusOr<X509Ptr> ParseCertificatePem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return OpenSslError("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!cert) return OpenSslError("not a PEM certificate");
  return cert;
}

absl::StatusOr<std::vector<std::string>> RevokedSerials(X509_CRL* crl, X509* issuer) {
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (issuer_key == nullptr || X509_CRL_verify(crl, issuer_key) != 1) {
    return OpenSslError("the CRL is not signed by the federation CA");
  }
  std::vector<std::string> serials;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    char* hex = BN_bn2hex(bn);
    if (hex != nullptr) serials.emplace_back(hex);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  return serials;
}

std::string SerialHex(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::vector<std::string> UriSans(X509* cert) {
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      ASN1_STRING_length(s));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

int64_t NotAfter(const X509* cert) {
  struct tm t {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) return 0;
  return static_cast<int64_t>(timegm(&t));
}

absl::StatusOr<Identity> IdentityOfCertificate(X509* cert) {
  std::vector<std::string> uris = UriSans(cert);
  if (uris.size() != 1) {
    return absl::PermissionDeniedError(
        StrCat("a federation certificate carries exactly one URI SAN; this one has ", uris.size()));
  }
  auto id = ParseIdentity(uris[0]);
  if (!id.ok()) return absl::PermissionDeniedError(std::string(id.status().message()));
  return id;
}

}  // namespace pmdb::security
