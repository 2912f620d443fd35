// Secure aggregation's masks and noise shares (security/secure_sum.h), with real certificates of
// one federation's CA: masks cancel only over the whole round, a region's masked values look like
// random numbers, and a roster with a certificate that is not the federation's is refused.
#include "security/secure_sum.h"

#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "gtest/gtest.h"
#include "security/ca.h"
#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using pmdb::testing::ReadFile;
using pmdb::testing::TempDir;

const std::vector<std::string> kRegions = {"mellan", "norr",   "stockholm-gotland",
                                           "syd",    "sydost", "vast"};

class SecureSumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Init(dir_.Path("ca"), "se-pm", 3650);
    ASSERT_TRUE(ca.ok()) << ca.status();
    for (const std::string& r : kRegions) {
      ASSERT_TRUE(
          ca->Issue({.identity = "spiffe://se-pm/region/" + r + "/node"}, dir_.Path(r)).ok());
      roster_.push_back({r, ReadFile(dir_.Path(r + ".crt"))});
    }
    ASSERT_TRUE(ca->Issue({.identity = "spiffe://se-pm/researcher/anna"}, dir_.Path("anna")).ok());
    auto other = CertificateAuthority::Init(dir_.Path("other"), "se-pm", 3650);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(
        other->Issue({.identity = "spiffe://se-pm/region/norr/node"}, dir_.Path("forged")).ok());
  }

  absl::StatusOr<MaskSession> Open(const std::string& region, const std::string& round,
                                   const std::vector<RosterMember>& roster,
                                   const std::string& question = "count sex(F)") {
    auto& keys = keys_[region];
    if (keys == nullptr) {
      keys = std::make_unique<MaskKeys>(dir_.Path(region + ".key"), dir_.Path("ca/ca.crt"));
    }
    return MaskSession::Open(*keys, region, roster, round, question, std::time(nullptr));
  }

  static std::string Round(char c) { return std::string(32, c); }

  TempDir dir_;
  std::vector<RosterMember> roster_;
  std::map<std::string, std::unique_ptr<MaskKeys>> keys_;  // each region's, kept across rounds
};

TEST_F(SecureSumTest, MasksCancelOverTheRoundAndOnlyThere) {
  const std::vector<std::vector<int64_t>> values = {{12, -3, 0}, {7, 4, 1},  {0, 0, 0},
                                                    {100, 2, 5}, {-1, 9, 9}, {3, 3, 3}};
  std::vector<std::vector<uint64_t>> shares;
  for (size_t i = 0; i < kRegions.size(); ++i) {
    auto session = Open(kRegions[i], Round('a'), roster_);
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ(session->peers(), kRegions.size() - 1);
    shares.push_back(session->Mask(values[i]));
    // A share is not its values.
    for (size_t v = 0; v < 3; ++v) EXPECT_NE(static_cast<int64_t>(shares.back()[v]), values[i][v]);
  }
  EXPECT_EQ(SumShares(shares), (std::vector<int64_t>{121, 15, 18}));
  // Without one region's share the masks do not cancel: the sum is far from any count.
  std::vector<std::vector<uint64_t>> five(shares.begin(), shares.end() - 1);
  for (int64_t v : SumShares(five)) EXPECT_GT(std::llabs(v), int64_t{1} << 40);
  // A share of another round does not fit this one's, nor one of another question.
  for (const auto& [round, question] : std::vector<std::pair<std::string, std::string>>{
           {Round('b'), "count sex(F)"}, {Round('a'), "count sex(M)"}}) {
    auto other = Open(kRegions.back(), round, roster_, question);
    ASSERT_TRUE(other.ok());
    std::vector<std::vector<uint64_t>> mixed(shares.begin(), shares.end() - 1);
    mixed.push_back(other->Mask(values.back()));
    for (int64_t v : SumShares(mixed)) EXPECT_GT(std::llabs(v), int64_t{1} << 40);
  }
}

TEST_F(SecureSumTest, AMaskedShareLooksRandomToTheHub) {
  // The same values in 2,000 rounds: the hub sees a region's message as uniform 64-bit numbers.
  // Chi-square of the top 4 bits over 16 bins (15 degrees of freedom; 60 is p = 2.5e-7, so the test
  // is not flaky, while masks reused or absent put every share in one bin), and no two rounds
  // alike.
  const std::vector<int64_t> value = {42};
  std::vector<int> bins(16, 0);
  std::set<uint64_t> seen;
  const int rounds = 2000;
  for (int r = 0; r < rounds; ++r) {
    std::string round(32, '\0');
    for (int b = 0; b < 4; ++b) round[b] = static_cast<char>((r >> (8 * b)) & 0xff);
    auto session = Open("vast", round, roster_);
    ASSERT_TRUE(session.ok());
    uint64_t m = session->Mask(value)[0];
    ++bins[m >> 60];
    seen.insert(m);
  }
  double chi2 = 0;
  const double expected = rounds / 16.0;
  for (int n : bins) chi2 += (n - expected) * (n - expected) / expected;
  EXPECT_LT(chi2, 60.0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(rounds));
}

TEST_F(SecureSumTest, ARosterWithACertificateNotOfItsRegionsNodeIsRefused) {
  auto swap = [&](const std::string& region, const std::string& file) {
    std::vector<RosterMember> r = roster_;
    for (RosterMember& m : r) {
      if (m.region == region) m.certificate_pem = ReadFile(dir_.Path(file + ".crt"));
    }
    return r;
  };
  // Another CA's certificate for norr, a researcher's, another region's node's.
  for (const auto& [region, file] : std::vector<std::pair<std::string, std::string>>{
           {"norr", "forged"}, {"norr", "anna"}, {"norr", "syd"}}) {
    auto s = Open("vast", Round('a'), swap(region, file));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << file;
  }
  // Not sorted, a region twice, ourselves missing, a short round id.
  std::vector<RosterMember> unsorted = roster_;
  std::swap(unsorted[0], unsorted[1]);
  EXPECT_EQ(Open("vast", Round('a'), unsorted).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<RosterMember> twice = roster_;
  twice[1] = twice[0];
  EXPECT_EQ(Open("vast", Round('a'), twice).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<RosterMember> without(roster_.begin(), roster_.end() - 1);
  EXPECT_EQ(Open("vast", Round('a'), without).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Open("vast", "short", roster_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SecureSumTest, NoiseSharesAddUpToTheRegionsNoiseAndCostWhatItDoes) {
  const NoiseScale sigma5{500};
  auto share = ShareVariance(sigma5, 6, 0);
  ASSERT_TRUE(share.ok());
  // 25 / 6 each: six shares add up to sigma^2 = 25.
  EXPECT_DOUBLE_EQ(static_cast<double>(share->num) / static_cast<double>(share->den), 25.0 / 6);
  // One colluding region: each share is 25 / 5, so any five add up to 25.
  auto wary = ShareVariance(sigma5, 6, 1);
  ASSERT_TRUE(wary.ok());
  EXPECT_DOUBLE_EQ(static_cast<double>(wary->num) / static_cast<double>(wary->den), 5.0);
  EXPECT_EQ(ShareVariance(sigma5, 2, 2).status().code(), absl::StatusCode::kInvalidArgument);

  // A count: 1 / (2 * 25) = 0.02, plus the paper's tau, which is negligible at sd 2 per share
  // (exp(-41)) but still rounds up to a micro-rho.
  const uint64_t count = DistributedCostMicros(1, *share, 6, 1);
  EXPECT_GE(count, ZcdpCostMicros(1, sigma5));
  EXPECT_LE(count, ZcdpCostMicros(1, sigma5) + 1);
  // Small shares are not a free lunch: at sd 1 in all over six regions tau is large.
  auto tiny = ShareVariance(NoiseScale{100}, 6, 0);
  ASSERT_TRUE(tiny.ok());
  EXPECT_GT(DistributedCostMicros(1, *tiny, 6, 1), ZcdpCostMicros(1, NoiseScale{100}) + 10000);

  // The sum of six shares drawn independently has the variance of one region's noise.
  double sum2 = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    int64_t total = 0;
    for (int r = 0; r < 6; ++r) {
      KeyedRandom random(std::string(32, 'k'), std::to_string(i) + "/" + std::to_string(r));
      total += SampleDiscreteGaussian(*share, random);
    }
    sum2 += static_cast<double>(total * total);
  }
  // Variance 25; the estimate's sd over 4,000 draws is about 25 * sqrt(2 / 4000) = 0.56.
  EXPECT_NEAR(sum2 / n, 25.0, 2.5);
}

TEST_F(SecureSumTest, ARoundIdServesOneShareWithinItsTime) {
  const int64_t now = 1'800'000'000;
  RoundGuard guard(now - 100);
  auto id = NewRoundId(now);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(guard.Take(*id, now).ok());
  // Any second use is refused (the same question on new data would let the masks cancel in
  // the difference; refusing only that would tell the hub the data changed).
  EXPECT_EQ(guard.Take(*id, now + 5).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Take(*id, now + 500).code(), absl::StatusCode::kPermissionDenied);
  auto other = NewRoundId(now);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(guard.Take(*other, now + 5).ok());
  EXPECT_EQ(guard.Take(*NewRoundId(now - 3600), now).code(),
            absl::StatusCode::kInvalidArgument);  // too old
  EXPECT_EQ(guard.Take(*NewRoundId(now + 3600), now).code(),
            absl::StatusCode::kInvalidArgument);  // from the future
  // From before the guard started: what it remembered of that time is gone.
  EXPECT_EQ(guard.Take(*NewRoundId(now - 200), now).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(guard.Take("short", now).code(), absl::StatusCode::kInvalidArgument);
}

// Ids are remembered for as long as their time is within the window, however many come after
// them, and forgotten once it is past (they are refused by their time then).
TEST_F(SecureSumTest, ARoundIdIsRememberedForItsWholeWindow) {
  const int64_t start = 1'800'000'000;
  RoundGuard guard(start - 10, /*window=*/600);
  auto early = NewRoundId(start);
  ASSERT_TRUE(early.ok());
  ASSERT_TRUE(guard.Take(*early, start).ok());
  // Ten minutes of later rounds, some from a hub clock a little behind or ahead.
  for (int64_t t = start; t < start + 600; t += 3) {
    auto id = NewRoundId(t + (t % 2 == 0 ? -5 : 5));
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(guard.Take(*id, t).ok()) << t;
  }
  EXPECT_EQ(guard.Take(*early, start + 599).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Take(*early, start + 601).code(), absl::StatusCode::kInvalidArgument);
  // Once forgotten, an id stays refused even for a caller whose clock reads earlier (stepped
  // back, or a request that stalled), where the window alone would take it as new.
  auto late = NewRoundId(start + 1300);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(guard.Take(*late, start + 1300).ok());  // forgets ids before start + 100
  EXPECT_EQ(guard.Take(*early, start + 500).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SecureSumTest, ARegionKnowsItsOwnCertificateFromAnOldOne) {
  auto ca = CertificateAuthority::Open(dir_.Path("ca"));
  ASSERT_TRUE(ca.ok()) << ca.status();
  ASSERT_TRUE(ca->Issue({.identity = "spiffe://se-pm/region/vast/node"}, dir_.Path("vast2")).ok());
  MaskKeys keys(dir_.Path("vast.key"), dir_.Path("ca/ca.crt"));
  EXPECT_TRUE(*keys.IsOwn(ReadFile(dir_.Path("vast.crt"))));
  EXPECT_FALSE(*keys.IsOwn(ReadFile(dir_.Path("vast2.crt"))));
  EXPECT_FALSE(*keys.IsOwn("not a certificate"));
  EXPECT_TRUE(*keys.IsOwn(ReadFile(dir_.Path("vast.crt"))));  // kept between rounds
}

}  // namespace
}  // namespace pmdb::security
