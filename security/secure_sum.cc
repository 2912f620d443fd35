#include "security/secure_sum.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <memory>

#include "node/base/strings.h"
#include "security/x509.h"

namespace pmdb::security {
namespace {

struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

constexpr std::string_view kMaskLabel = "pmdb national mask v1";

// The peer's certificate as the round may use it: issued by the CA, valid now, its region's
// node.
absl::Status CheckPeer(X509* cert, X509* ca, const std::string& region, int64_t now_unix) {
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (ca_key == nullptr || X509_verify(cert, ca_key) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError(
        StrCat("the certificate given for region ", region, " was not issued by the federation"));
  }
  time_t at = static_cast<time_t>(now_unix);
  if (X509_cmp_time(X509_get0_notBefore(cert), &at) >= 0 ||
      X509_cmp_time(X509_get0_notAfter(cert), &at) <= 0) {
    return absl::PermissionDeniedError(
        StrCat("the certificate given for region ", region, " is not valid now"));
  }
  auto identity = IdentityOfCertificate(cert);
  if (!identity.ok()) return identity.status();
  if (identity->role != Role::kNode || identity->region != region) {
    return absl::PermissionDeniedError(
        StrCat("the certificate given for region ", region, " is ", identity->uri, "'s"));
  }
  return absl::OkStatus();
}

// ECDH of our key with the peer's public key: the x-coordinate of the shared point.
absl::StatusOr<std::string> Agree(EVP_PKEY* own, EVP_PKEY* peer) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(own, nullptr));
  size_t size = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &size) != 1) {
    return OpenSslError("agreeing a mask key (ECDH)");
  }
  std::string secret(size, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &size) != 1) {
    return OpenSslError("agreeing a mask key (ECDH)");
  }
  secret.resize(size);
  return secret;
}

std::string Hmac(std::string_view key, std::string_view message) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

absl::StatusOr<std::string> NewRoundId(int64_t now_unix) {
  std::string id(32, '\0');
  for (int b = 0; b < 8; ++b) {
    id[static_cast<size_t>(b)] =
        static_cast<char>((static_cast<uint64_t>(now_unix) >> (56 - 8 * b)) & 0xff);
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(id.data()) + 8, 24) != 1) {
    return OpenSslError("drawing a round id");
  }
  return id;
}

namespace {

// The hub's time a round id carries.
int64_t RoundTime(std::string_view round_id) {
  uint64_t t = 0;
  for (int b = 0; b < 8; ++b) t = (t << 8) | static_cast<unsigned char>(round_id[b]);
  return static_cast<int64_t>(t);
}

}  // namespace

absl::Status RoundGuard::Take(std::string_view round_id, int64_t now_unix) {
  if (round_id.size() != 32) return absl::InvalidArgumentError("a round id is 32 bytes");
  const int64_t at = RoundTime(round_id);
  if (at < now_unix - window_ || at > now_unix + window_) {
    return absl::InvalidArgumentError(
        StrCat("the round's time is ", now_unix - at,
               " s from this region's clock; a round is taken within ", window_,
               " s (are the hub's and the region's clocks set?)"));
  }
  if (at < started_) {
    return absl::InvalidArgumentError(
        "the round began before this region's node started; ask again");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Ids older than the window are refused above, so they need not be remembered; the horizon
  // keeps them refused whatever the next caller's clock says.
  horizon_ = std::max(horizon_, now_unix - 2 * window_);
  while (!seen_.empty() && RoundTime(*seen_.begin()) < horizon_) seen_.erase(seen_.begin());
  if (at < horizon_) {
    return absl::InvalidArgumentError("the round is older than this region remembers; ask again");
  }
  if (!seen_.emplace(round_id).second) {
    return absl::PermissionDeniedError(
        "this round id was already used with this region: a round serves one share (start a "
        "new round)");
  }
  return absl::OkStatus();
}

std::string RosterDigest(const std::vector<RosterMember>& roster) {
  std::string all;
  for (const RosterMember& m : roster) StrAppend(&all, m.region, "\n", m.certificate_pem, "\n");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(all.data()), all.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string QuestionDigest(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

struct MaskKeys::State {
  State(std::string key, std::string ca) : key_path(std::move(key)), ca_path(std::move(ca)) {}
  struct Peer {
    X509Ptr cert;
    std::string secret;
  };
  // Reads the key and CA files again when they changed, looking at most once a second (a share
  // asks for every peer's secret; four stat calls each added up). REQUIRES: mu held.
  absl::Status Current();

  const std::string key_path;
  const std::string ca_path;
  std::mutex mu;
  std::string files ABSL_GUARDED_BY(mu);  // the files' sizes and times when read
  std::chrono::steady_clock::time_point looked ABSL_GUARDED_BY(mu);  // when they were compared
  KeyPtr own ABSL_GUARDED_BY(mu);
  X509Ptr ca ABSL_GUARDED_BY(mu);
  std::map<std::string, Peer> peers ABSL_GUARDED_BY(mu);      // by region and certificate
  std::map<std::string, bool> own_certs ABSL_GUARDED_BY(mu);  // certificate -> of our key
};

MaskKeys::MaskKeys(std::string own_key_path, std::string ca_path)
    : state_(std::make_unique<State>(std::move(own_key_path), std::move(ca_path))) {}

MaskKeys::~MaskKeys() = default;

absl::Status MaskKeys::State::Current() {
  const auto now = std::chrono::steady_clock::now();
  if (own != nullptr && ca != nullptr && now - looked < std::chrono::seconds(1)) {
    return absl::OkStatus();
  }
  std::error_code e1, e2, e3, e4;
  const auto key_time = std::filesystem::last_write_time(key_path, e1);
  const auto key_size = std::filesystem::file_size(key_path, e2);
  const auto ca_time = std::filesystem::last_write_time(ca_path, e3);
  const auto ca_size = std::filesystem::file_size(ca_path, e4);
  const std::string now_files = StrCat(key_time.time_since_epoch().count(), "/", key_size, "/",
                                       ca_time.time_since_epoch().count(), "/", ca_size);
  if (own != nullptr && ca != nullptr && now_files == files && !e1 && !e3) {
    looked = now;
    return absl::OkStatus();
  }
  auto read_key = ReadPrivateKey(key_path);
  if (!read_key.ok()) return read_key.status();
  auto read_ca = ReadCertificate(ca_path);
  if (!read_ca.ok()) return read_ca.status();
  own = std::move(*read_key);
  ca = std::move(*read_ca);
  files = now_files;
  looked = now;
  peers.clear();  // agreed with the old key, or checked against the old CA
  own_certs.clear();
  return absl::OkStatus();
}

absl::StatusOr<bool> MaskKeys::IsOwn(const std::string& pem) {
  State& st = *state_;
  std::lock_guard<std::mutex> lock(st.mu);
  absl::Status current = st.Current();
  if (!current.ok()) return current;
  auto known = st.own_certs.find(pem);
  if (known != st.own_certs.end()) return known->second;
  auto cert = ParseCertificatePem(pem);
  EVP_PKEY* pub = cert.ok() ? X509_get0_pubkey(cert->get()) : nullptr;
  const bool same = pub != nullptr && EVP_PKEY_eq(pub, st.own.get()) == 1;
  if (st.own_certs.size() >= 64) st.own_certs.clear();
  st.own_certs[pem] = same;
  return same;
}

absl::StatusOr<std::string> MaskKeys::SecretWith(const std::string& region, const std::string& pem,
                                                 int64_t now_unix) {
  State& st = *state_;
  std::lock_guard<std::mutex> lock(st.mu);
  absl::Status current = st.Current();
  if (!current.ok()) return current;
  const std::string id = StrCat(region, "\n", pem);
  auto known = st.peers.find(id);
  if (known != st.peers.end()) {
    // Checked before; its validity is checked again now.
    time_t at = static_cast<time_t>(now_unix);
    if (X509_cmp_time(X509_get0_notBefore(known->second.cert.get()), &at) >= 0 ||
        X509_cmp_time(X509_get0_notAfter(known->second.cert.get()), &at) <= 0) {
      return absl::PermissionDeniedError(
          StrCat("the certificate given for region ", region, " is not valid now"));
    }
    return known->second.secret;
  }
  auto cert = ParseCertificatePem(pem);
  if (!cert.ok()) {
    return absl::PermissionDeniedError(
        StrCat("the certificate given for region ", region, " is not readable"));
  }
  absl::Status checked = CheckPeer(cert->get(), st.ca.get(), region, now_unix);
  if (!checked.ok()) return checked;
  EVP_PKEY* peer = X509_get0_pubkey(cert->get());
  if (peer == nullptr || EVP_PKEY_get_base_id(peer) != EVP_PKEY_EC) {
    return absl::PermissionDeniedError(
        StrCat("the certificate given for region ", region, " has no P-256 key"));
  }
  auto secret = Agree(st.own.get(), peer);
  if (!secret.ok()) return secret.status();
  if (st.peers.size() >= 256) st.peers.clear();  // a federation has a handful; never unbounded
  st.peers[id] = State::Peer{.cert = std::move(*cert), .secret = *secret};
  return *secret;
}

absl::StatusOr<MaskSession> MaskSession::Open(MaskKeys& keys, const std::string& self,
                                              const std::vector<RosterMember>& roster,
                                              std::string_view round_id, std::string_view question,
                                              int64_t now_unix) {
  if (round_id.size() != 32) {
    return absl::InvalidArgumentError("a round id is 32 random bytes");
  }
  bool found = false;
  for (size_t i = 0; i < roster.size(); ++i) {
    if (i > 0 && !(roster[i - 1].region < roster[i].region)) {
      return absl::InvalidArgumentError("a round's regions must be distinct and sorted");
    }
    found |= roster[i].region == self;
  }
  if (!found) return absl::InvalidArgumentError(StrCat("region ", self, " is not in the round"));
  const std::string digest = RosterDigest(roster);
  const std::string asked = QuestionDigest(question);
  MaskSession session;
  for (const RosterMember& m : roster) {
    if (m.region == self) continue;
    auto secret = keys.SecretWith(m.region, m.certificate_pem, now_unix);
    if (!secret.ok()) return secret.status();
    const bool before = self < m.region;
    const std::string& lo = before ? self : m.region;
    const std::string& hi = before ? m.region : self;
    std::string message(kMaskLabel);
    StrAppend(&message, std::string_view("\0", 1), round_id, std::string_view("\0", 1), lo,
              std::string_view("\0", 1), hi, std::string_view("\0", 1), digest,
              std::string_view("\0", 1), asked);
    session.pairs_.push_back({.add = before, .seed = Hmac(*secret, message)});
  }
  return session;
}

std::vector<uint64_t> MaskSession::Mask(const std::vector<int64_t>& values) const {
  std::vector<uint64_t> out(values.size());
  for (size_t v = 0; v < values.size(); ++v) out[v] = static_cast<uint64_t>(values[v]);
  for (const Pair& p : pairs_) {
    KeyedRandom stream(p.seed, "values");
    for (uint64_t& x : out) {
      const uint64_t m = stream.Next64();
      x = p.add ? x + m : x - m;  // modulo 2^64
    }
  }
  return out;
}

std::vector<int64_t> SumShares(const std::vector<std::vector<uint64_t>>& shares) {
  std::vector<uint64_t> sum(shares.empty() ? 0 : shares[0].size(), 0);
  for (const auto& share : shares) {
    for (size_t v = 0; v < sum.size(); ++v) sum[v] += share[v];
  }
  std::vector<int64_t> out(sum.size());
  for (size_t v = 0; v < sum.size(); ++v) out[v] = static_cast<int64_t>(sum[v]);
  return out;
}

absl::StatusOr<Rational> ShareVariance(NoiseScale scale, uint32_t members, uint32_t collusion) {
  if (members <= collusion) {
    return absl::InvalidArgumentError(
        StrCat("a round of ", members, " regions, of which ", collusion,
               " may collude with the hub, leaves no honest region's noise"));
  }
  Rational v = scale.Variance();
  v.den *= members - collusion;
  return v;
}

uint64_t DistributedCostMicros(uint64_t sensitivity2, Rational share, uint32_t honest,
                               uint32_t values) {
  // Delta^2 / (2 n s^2) exactly, in micro-rho rounded up: Delta^2 * den * 1e6 / (2 n num).
  const u128 num = u128{sensitivity2} * share.den * 1000000;
  const u128 den = u128{2} * honest * share.num;
  uint64_t micros = static_cast<uint64_t>((num + den - 1) / den);
  // tau * values, rounded up: any positive term costs at least a micro-rho.
  const double s2 = static_cast<double>(share.num) / static_cast<double>(share.den);
  constexpr double kPi = 3.14159265358979323846;
  double tau = 0;
  for (uint32_t k = 1; k < honest; ++k) tau += std::exp(-2 * kPi * kPi * s2 * k / (k + 1.0));
  micros += static_cast<uint64_t>(std::ceil(10 * tau * values * 1e6));
  return micros;
}

}  // namespace pmdb::security
