// Secure aggregation of a national total with distributed noise (docs/disclosure.md, "National
// totals"). Every region of a round adds its share of the noise and, for every other region of
// the round, a mask agreed with that region alone; the masks cancel in the sum, so the hub
// learns the noisy national total and nothing of any region's part.
//
// Masks (Bonawitz et al., CCS 2017, without the dropout recovery: a round that loses a region is
// asked again without it). Regions i and j agree on a secret with ECDH on their node
// certificates' P-256 keys, the federation's own identities, which the hub passes on but cannot
// forge (each is checked against the federation's CA). Per round, the secret, the round's
// random id, the roster and the question key a mask stream (HMAC-SHA256, KeyedRandom): region i
// adds it to its values when its id sorts before j's and subtracts it otherwise, all modulo
// 2^64. Summed over the roster every stream comes once with each sign. A round's id is fresh, so
// its masks are fresh even when every region's values are the same as before; the question is
// bound in too, so that a hub reusing a round id for another question gets other masks (with
// the same masks, two shares' difference would be the difference of two noisy values whose
// noise is only a share of a region's).
//
// Noise (the distributed discrete Gaussian of Kairouz, Liu and Steinke, ICML 2021). With
// `collusion` regions of a round of m possibly sharing what they know with the hub, each region
// adds discrete Gaussian noise of variance sigma^2 / (m - collusion), so that the shares of any
// m - collusion honest regions add up to at least sigma^2, the region-level noise. A sum of
// discrete Gaussians is not exactly one; the paper bounds the difference: the sum of n shares of
// variance s^2 each is rho-zCDP with rho = Delta^2 / (2 n s^2) + tau * d for d released values,
// tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 s^2 k / (k + 1)). DistributedCostMicros charges that.
#ifndef PMDB_SECURITY_SECURE_SUM_H_
#define PMDB_SECURITY_SECURE_SUM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "security/dp.h"

namespace pmdb::security {

// One region of a round, as the hub names it.
struct RosterMember {
  std::string region;
  std::string certificate_pem;  // its node's certificate
};

// The long-lived half of a region's masks: its own key, the federation's CA, and per peer
// certificate the secret agreed with it once the certificate passed, kept between rounds so
// that a round costs hashes only. The key and CA files are read again when they change (a
// rotated certificate; looked at at most once a second), which forgets every secret.
// Thread-safe.
class MaskKeys {
 public:
  MaskKeys(std::string own_key_path, std::string ca_path);
  ~MaskKeys();
  MaskKeys(const MaskKeys&) = delete;
  MaskKeys& operator=(const MaskKeys&) = delete;

  // The secret with `region`'s node, whose certificate the round names as `pem`: issued by the
  // CA, valid at `now_unix`, naming that region's node (PERMISSION_DENIED otherwise).
  absl::StatusOr<std::string> SecretWith(const std::string& region, const std::string& pem,
                                         int64_t now_unix);
  // Whether `pem` is a certificate of this region's own current key (the round must name it;
  // after a rotation the hub may still hold the old one). Kept per certificate, like secrets.
  absl::StatusOr<bool> IsOwn(const std::string& pem);

 private:
  struct State;  // the keys and certificates (OpenSSL's types stay in secure_sum.cc)
  std::unique_ptr<State> state_;
};

// The masks of one region in one round.
class MaskSession {
 public:
  // Checks the roster (regions distinct, sorted, `self` among them once) and the other
  // members' certificates (MaskKeys::SecretWith), and keys a mask stream with each. `question`
  // is what the shares are of (its canonical form; every region of the round must bind the
  // same). PERMISSION_DENIED for a certificate that does not pass, INVALID_ARGUMENT for a
  // malformed roster or round id.
  static absl::StatusOr<MaskSession> Open(MaskKeys& keys, const std::string& self,
                                          const std::vector<RosterMember>& roster,
                                          std::string_view round_id, std::string_view question,
                                          int64_t now_unix);

  // `values` with this region's masks added, modulo 2^64.
  std::vector<uint64_t> Mask(const std::vector<int64_t>& values) const;

  size_t peers() const { return pairs_.size(); }

 private:
  struct Pair {
    bool add = true;   // this region sorts before the peer
    std::string seed;  // keys the pair's mask stream for this round
  };
  std::vector<Pair> pairs_;
};

// A new round's id: `now_unix` (8 bytes, big-endian), then 24 random bytes (RAND_bytes).
absl::StatusOr<std::string> NewRoundId(int64_t now_unix);

// What a region remembers of the rounds it took part in, so that a round id serves one release
// only: with the same masks, two different shares' difference would be the difference of two
// noisy values whose noise is only a share of the region's (a hub re-asking one round id after
// the data changed would learn the change). An id is taken only within `window` seconds of its
// time, and not from before the guard started (what it remembered then is gone); it is
// remembered for twice the window. Thread-safe.
class RoundGuard {
 public:
  RoundGuard(int64_t started_unix, int64_t window = 600)
      : started_(started_unix), window_(window) {}
  // OK the first time `round_id` is taken; PERMISSION_DENIED every time after, whatever the
  // question (taken before any data is read, so the refusal says nothing of the data);
  // INVALID_ARGUMENT when its time is out of the window or from before the guard started.
  absl::Status Take(std::string_view round_id, int64_t now_unix);

 private:
  const int64_t started_;
  const int64_t window_;
  std::mutex mu_;
  // Ids start with their time (big-endian), so they sort by it and the oldest go first.
  std::set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  // Ids older than this were forgotten: refused even when a caller's clock reads earlier (a
  // clock stepped back, a request that stalled) and the window alone would let them in.
  int64_t horizon_ ABSL_GUARDED_BY(mu_) = 0;
};

// The sums of the masked shares of every region of a round, as signed numbers.
// REQUIRES: every share has the same length.
std::vector<int64_t> SumShares(const std::vector<std::vector<uint64_t>>& shares);

// The roster's digest: what a round's masks and noise are keyed on besides its id.
std::string RosterDigest(const std::vector<RosterMember>& roster);
// SHA-256 of `text`, as lowercase hex: what a share says it bound its masks to.
std::string QuestionDigest(std::string_view text);

// Each region's share of the noise variance of a value whose whole noise is `scale` (sigma):
// sigma^2 / (members - collusion). INVALID_ARGUMENT unless members > collusion.
absl::StatusOr<Rational> ShareVariance(NoiseScale scale, uint32_t members, uint32_t collusion);

// The zCDP cost, in micro-rho rounded up, of releasing `values` numbers each with L2
// sensitivity^2 `sensitivity2` in total over them (as CostMicros counts a person's cells), the
// noise of each the sum of `honest` shares of variance `share` (see the file comment).
uint64_t DistributedCostMicros(uint64_t sensitivity2, Rational share, uint32_t honest,
                               uint32_t values);

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_SECURE_SUM_H_
