#include "security/case_ref.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "security/audit.h"

namespace pmdb::security {
namespace {

constexpr std::string_view kPrefix = "pmdbref1.";
constexpr size_t kNonce = 12, kPlain = 12, kTag = 16;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

bool FromBase64Url(std::string_view in, std::string* out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* at = std::char_traits<char>::find(kAlphabet, 64, c);
    if (at == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string Aad(std::string_view region) { return StrCat(kPrefix, region); }

absl::Status KeyOk(std::string_view key) {
  if (key.size() != 32) return absl::InternalError("the case reference key is not 32 bytes");
  return absl::OkStatus();
}

absl::StatusOr<std::string> SplitRegion(std::string_view reference, std::string_view* sealed) {
  if (!reference.starts_with(kPrefix)) {
    return absl::InvalidArgumentError("not a case reference (expected pmdbref1.REGION.…)");
  }
  std::string_view rest = reference.substr(kPrefix.size());
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) {
    return absl::InvalidArgumentError("not a case reference (no region in it)");
  }
  *sealed = rest.substr(dot + 1);
  return std::string(rest.substr(0, dot));
}

}  // namespace

namespace {

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("no randomness from OpenSSL");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> NewReferenceKey() { return RandomBytes(32); }

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  auto raw = RandomBytes(bytes);
  if (!raw.ok()) return raw.status();
  return Hex(*raw);
}

absl::StatusOr<std::string> SealCaseReference(std::string_view key, const CaseRef& ref) {
  if (absl::Status s = KeyOk(key); !s.ok()) return s;
  unsigned char plain[kPlain];
  for (int i = 0; i < 4; ++i) plain[i] = static_cast<unsigned char>(ref.ordinal >> (24 - 8 * i));
  uint64_t expires = static_cast<uint64_t>(ref.expires_unix);
  for (int i = 0; i < 8; ++i) plain[4 + i] = static_cast<unsigned char>(expires >> (56 - 8 * i));
  unsigned char out[kNonce + kPlain + kTag];
  if (RAND_bytes(out, kNonce) != 1) return absl::InternalError("no randomness for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string aad = Aad(ref.region);
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), out) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out + kNonce, &len, plain, kPlain) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), out + kNonce + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                                out + kNonce + kPlain) == 1;
  if (!ok) return absl::InternalError("sealing a case reference failed");
  return StrCat(kPrefix, ref.region, ".",
                Base64Url(std::string_view(reinterpret_cast<char*>(out), sizeof(out))));
}

absl::StatusOr<std::string> RegionOfReference(std::string_view reference) {
  std::string_view sealed;
  return SplitRegion(reference, &sealed);
}

absl::StatusOr<CaseRef> OpenCaseReference(std::string_view key, std::string_view region,
                                          std::string_view reference, int64_t now_unix) {
  if (absl::Status s = KeyOk(key); !s.ok()) return s;
  std::string_view sealed;
  auto named = SplitRegion(reference, &sealed);
  if (!named.ok()) return named.status();
  if (*named != region) {
    return absl::InvalidArgumentError(
        StrCat("the case reference belongs to region ", *named, ", not ", region));
  }
  std::string bytes;
  if (!FromBase64Url(sealed, &bytes) || bytes.size() != kNonce + kPlain + kTag) {
    return absl::InvalidArgumentError("not a case reference (damaged)");
  }
  auto* in = reinterpret_cast<unsigned char*>(bytes.data());
  unsigned char plain[kPlain];
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string aad = Aad(region);
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), in) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), plain, &len, in + kNonce, kPlain) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                                in + kNonce + kPlain) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), plain + len, &len) == 1;
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("not a case reference of region ", region, " (it does not verify)"));
  }
  CaseRef ref;
  ref.region = std::string(region);
  for (int i = 0; i < 4; ++i) ref.ordinal = (ref.ordinal << 8) | plain[i];
  uint64_t expires = 0;
  for (int i = 0; i < 8; ++i) expires = (expires << 8) | plain[4 + i];
  ref.expires_unix = static_cast<int64_t>(expires);
  if (ref.expires_unix <= now_unix) {
    return absl::FailedPreconditionError(
        "the case reference has expired; search again for a fresh one");
  }
  return ref;
}

}  // namespace pmdb::security
