// National totals by secure aggregation over real mutual TLS (national.proto, security/
// secure_sum.h): six real nodes with the regions' default disclosure (differential privacy) and
// the hub's default (national totals). The total is the regions' exact sum plus one noise of
// the region-level sd, checked over many releases; no region's number reaches the researcher;
// the hub's view of a region's share looks random; a region that drops out gives an explicit
// partial total over the others, never a wrong one.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "node/base/strings.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "query/engine.h"
#include "query/parser.h"
#include "security/policy.h"
#include "security/secure_sum.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb {
namespace {

using testing::Federation;
using testing::SixRegions;

class NationalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& r : SixRegions()) {
      server::NodeConfig& c = fed_.node_config(r);
      c.settings.disclosure = security::DisclosureRules();  // the regions' defaults
      c.settings.disclosure.daily_budget = 1000000;
      c.settings.disclosure.near_repeat_limit = 1000000;
      c.settings.disclosure.response_quantum_ms = 0;  // pacing is tested elsewhere
      security::PrivacyBudgets& b = c.settings.privacy;
      b.researcher_micros = b.researcher_yearly_micros = 1'000'000'000;
      b.region_micros = b.region_yearly_micros = 1'000'000'000;
      for (security::Project& project : b.projects) project.budget_micros = 1'000'000'000;
    }
    fed_.StartNodes();
    fed_.StartHub(10000, {}, [](server::HubConfig& h) { h.national = true; });
  }

  // The exact count of `expr` in every region, from the stores themselves.
  std::map<std::string, uint64_t> Exact(const std::vector<std::string>& exprs,
                                        const std::set<std::string>& regions) {
    std::map<std::string, uint64_t> out;
    for (const std::string& r : regions) {
      auto store = storage::Store::Open(fed_.db(r), {.read_only = true});
      EXPECT_TRUE(store.ok()) << store.status();
      auto view = (*store)->Snapshot();
      auto catalog = vocab::Catalog::Load(*view);
      EXPECT_TRUE(catalog.ok());
      query::Engine engine(*catalog);
      for (const std::string& e : exprs) {
        auto n = engine.Count(*view, *query::ParseCriterion(e), v1::RESEARCH);
        EXPECT_TRUE(n.ok()) << n.status();
        out[e] += n.ok() ? n->value : 0;
      }
    }
    return out;
  }

  absl::StatusOr<v1::FederatedCount> Count(const std::string& expr, bool per_region = false) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::CountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion(expr);
    request.set_per_region(per_region);
    v1::FederatedCount reply;
    grpc::Status s = fed_.Hub("anna")->Count(&context, request, &reply);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return reply;
  }

  Federation fed_{200, 40};
};

TEST_F(NationalTest, TheTotalIsTheExactSumPlusOneNoiseOfTheRegionLevelSd) {
  // 150 different questions: each release has noise of its own.
  std::vector<std::string> questions;
  for (int lo = 0; lo < 75; ++lo) {
    for (int span : {15, 40}) questions.push_back(StrCat("age(", lo, "-", lo + span, ")"));
  }
  std::set<std::string> all(SixRegions().begin(), SixRegions().end());
  auto exact = Exact(questions, all);
  std::vector<double> noise;
  for (const std::string& q : questions) {
    auto reply = Count(q);
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_TRUE(reply->has_national()) << q;
    EXPECT_FALSE(reply->partial())
        << q << ": " << reply->disclosure().description() << "; " << reply->DebugString();
    EXPECT_EQ(reply->national().covers_size(), 6);
    EXPECT_EQ(reply->national().rounds(), 1u);
    ASSERT_TRUE(reply->total().has_noised());
    // One noise of sd 5 over the nation, not six of sd 5 (12.2).
    EXPECT_NEAR(reply->total().noise_sd(), 5.0, 1e-9);
    EXPECT_NEAR(reply->national().noise_sd(), 5.0, 1e-9);
    for (const v1::RegionPart& p : reply->regions()) {
      EXPECT_EQ(p.status(), v1::REGION_OK) << p.region() << ": " << p.detail();
      EXPECT_FALSE(p.has_count()) << "a region's own number reached the researcher";
      EXPECT_GT(p.disclosure().rho(), 0);  // each region charged for its share
    }
    noise.push_back(static_cast<double>(reply->total().noised()) - static_cast<double>(exact[q]));
  }
  double mean = 0, var = 0;
  int outside = 0;
  for (double n : noise) mean += n;
  mean /= static_cast<double>(noise.size());
  for (double n : noise) {
    var += (n - mean) * (n - mean);
    outside += std::abs(n) > 1.96 * 5 ? 1 : 0;
  }
  var /= static_cast<double>(noise.size() - 1);
  // Mean 0 (its sd over 150 draws is 5 / sqrt(150) = 0.41), variance 25 (its sd is about
  // 25 * sqrt(2 / 149) = 2.9), about 5 % beyond 1.96 sd (7.5 of 150; 20 is p < 0.001).
  EXPECT_NEAR(mean, 0.0, 1.7) << "the total is biased";
  EXPECT_GT(var, 25.0 - 4 * 2.9);
  EXPECT_LT(var, 25.0 + 4 * 2.9);
  EXPECT_LE(outside, 20);

  // The same question again: the same total (the same shares; no free averaging), no new charge.
  auto first = Count(questions[0]);
  auto again = Count(questions[0]);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(again->total().noised(), first->total().noised());
  for (const v1::RegionPart& p : again->regions()) {
    EXPECT_EQ(p.disclosure().rho(), 0);
  }

  // Asked per region instead: every region's own part, and a total with six noises.
  auto parts = Count(questions[1], /*per_region=*/true);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_FALSE(parts->has_national());
  for (const v1::RegionPart& p : parts->regions()) EXPECT_TRUE(p.has_count()) << p.region();
  EXPECT_NEAR(parts->total().noise_sd(), 5.0 * std::sqrt(6.0), 1e-6);
}

TEST_F(NationalTest, TheHubsViewOfARegionsShareLooksRandom) {
  // The hub asks vast for its share of one question in 400 rounds of the six regions (as it
  // would, with the regions' certificates): what it gets looks like uniform 64-bit numbers,
  // whatever vast's count.
  std::vector<v1::RosterMember> roster;
  for (const std::string& r : SixRegions()) {
    v1::RosterMember m;
    m.set_region(r);
    m.set_certificate(testing::ReadFile(fed_.dir().Path(r + "-node.crt")));
    roster.push_back(m);
  }
  std::sort(roster.begin(), roster.end(),
            [](const auto& a, const auto& b) { return a.region() < b.region(); });
  auto vast = fed_.Region("hub", "vast");
  auto ask = [&](const std::string& expr, const std::string& round,
                 const std::vector<v1::RosterMember>& members, v1::NationalShareAnswer* share) {
    v1::NationalShareRequest request;
    *request.mutable_count()->mutable_criterion() = *query::ParseCriterion(expr);
    request.set_round(round);
    request.set_sigma_centi(500);
    for (const auto& m : members) *request.add_roster() = m;
    grpc::ClientContext context;
    context.AddMetadata(security::kOnBehalfOfKey,
                        StrCat("spiffe://", testing::kFederation, "/researcher/anna"));
    return vast->NationalShare(&context, request, share);
  };
  auto new_round = [] { return *security::NewRoundId(std::time(nullptr)); };
  std::vector<int> bins(16, 0);
  std::set<uint64_t> seen;
  const int rounds = 400;
  for (int i = 0; i < rounds; ++i) {
    v1::NationalShareAnswer share;
    grpc::Status s = ask("sex(F)", new_round(), roster, &share);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(share.masked_size(), 1);
    ++bins[share.masked(0) >> 60];
    seen.insert(share.masked(0));
    // The same data and roster: one release, charged once.
    if (i > 0) {
      EXPECT_EQ(share.disclosure().rho(), 0);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(rounds));
  double chi2 = 0;
  for (int n : bins) chi2 += (n - rounds / 16.0) * (n - rounds / 16.0) / (rounds / 16.0);
  EXPECT_LT(chi2, 60.0);  // 15 degrees of freedom, p = 2.5e-7 (not flaky)

  // A roster naming a certificate that is not that region's node's is refused.
  auto with = [&](const std::string& region, const std::string& file) {
    std::vector<v1::RosterMember> r = roster;
    for (auto& m : r) {
      if (m.region() == region) m.set_certificate(testing::ReadFile(fed_.dir().Path(file)));
    }
    return r;
  };
  v1::NationalShareAnswer refused;
  EXPECT_EQ(ask("sex(F)", new_round(), with("norr", "hub.crt"), &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // vast's own entry naming another certificate of vast's node (an old one after a rotation):
  // the others would mask with a key vast does not hold, so vast refuses before anything else.
  fed_.Issue("region/vast/node", "vast-node-other", /*server=*/true);
  EXPECT_EQ(ask("sex(F)", new_round(), with("vast", "vast-node-other.crt"), &refused).error_code(),
            grpc::StatusCode::ABORTED);
  // One round id serves one share: asked again, for another question or the same one, it is
  // refused (its masks would be the same over another value), with the same refusal.
  const std::string id = new_round();
  v1::NationalShareAnswer first;
  ASSERT_TRUE(ask("sex(F)", id, roster, &first).ok());
  grpc::Status same = ask("sex(F)", id, roster, &refused);
  grpc::Status other = ask("sex(M)", id, roster, &refused);
  EXPECT_EQ(same.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(same.error_message(), other.error_message());
  // A round id from another time (not the hub's clock of now) is refused.
  EXPECT_EQ(ask("sex(F)", *security::NewRoundId(std::time(nullptr) - 3600), roster, &refused)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A round whose noise is below vast's own is refused.
  v1::NationalShareRequest weak;
  *weak.mutable_count()->mutable_criterion() = *query::ParseCriterion("sex(F)");
  weak.set_round(new_round());
  weak.set_sigma_centi(100);
  for (const auto& m : roster) *weak.add_roster() = m;
  grpc::ClientContext context;
  context.AddMetadata(security::kOnBehalfOfKey,
                      StrCat("spiffe://", testing::kFederation, "/researcher/anna"));
  EXPECT_EQ(vast->NationalShare(&context, weak, &refused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(NationalTest, BreakdownsAndFrequenciesAreNationalTotalsToo) {
  std::set<std::string> all(SixRegions().begin(), SixRegions().end());
  // A breakdown by sex: every cell one national total with one noise of sd 5.
  grpc::ClientContext context;
  v1::BreakdownRequest request;
  *request.mutable_criterion() = *query::ParseCriterion("age(20-70)");
  request.add_dimensions(v1::SEX);
  v1::FederatedBreakdown breakdown;
  ASSERT_TRUE(fed_.Hub("anna")->Breakdown(&context, request, &breakdown).ok());
  ASSERT_TRUE(breakdown.has_national());
  EXPECT_EQ(breakdown.national().covers_size(), 6);
  EXPECT_TRUE(breakdown.cells().empty());  // no region's own cells
  ASSERT_GE(breakdown.totals_size(), 2);
  auto exact = Exact({"age(20-70) AND sex(F)", "age(20-70) AND sex(M)"}, all);
  for (const v1::ReleasedCell& cell : breakdown.totals()) {
    EXPECT_NEAR(cell.count().noise_sd(), 5.0, 1e-9);
    if (cell.labels(0) == "F" || cell.labels(0) == "M") {
      const double truth = static_cast<double>(exact["age(20-70) AND sex(" + cell.labels(0) + ")"]);
      EXPECT_NEAR(static_cast<double>(cell.count().noised()), truth, 30.0) << cell.labels(0);
    }
  }
  // An allele frequency: AC and AN each with noise of sd 10 (twice a count's), one release.
  auto site = testing::Run({"bash", "-c",
                            "bcftools query -f '%CHROM:%POS:%REF:%ALT\n' " +
                                fed_.dir().Path("vast-cohort/cohort.vcf.gz") + " | head -1"});
  ASSERT_EQ(site.exit_code, 0) << site.err;
  const std::string v = "variant(GRCh38:" + site.out.substr(0, site.out.find('\n')) + ")";
  grpc::ClientContext fcontext;
  v1::FrequencyRequest frequency;
  *frequency.mutable_criterion() = *query::ParseCriterion(v);
  v1::FederatedFrequency af;
  ASSERT_TRUE(fed_.Hub("anna")->Frequency(&fcontext, frequency, &af).ok());
  ASSERT_TRUE(af.has_national()) << af.disclosure().description();
  EXPECT_EQ(af.national().covers_size(), 6) << af.disclosure().description();
  EXPECT_NEAR(af.ac().noise_sd(), 10.0, 1e-9);
  EXPECT_NEAR(af.an().noise_sd(), 10.0, 1e-9);
  EXPECT_NEAR(af.national().noise_sd(), 5.0, 1e-9);
  for (const v1::RegionPart& p : af.regions()) EXPECT_FALSE(p.has_frequency());
}

TEST_F(NationalTest, ARegionThatDropsOutGivesAPartialTotalOverTheOthers) {
  // Every region's certificate is known to the hub after a first question.
  ASSERT_TRUE(Count("sex(F)").ok());
  fed_.StopNode("syd");
  const std::string q = "sex(M)";
  auto reply = Count(q);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->partial());
  EXPECT_EQ(reply->national().covers_size(), 5);
  EXPECT_THAT(reply->national().covers(), ::testing::Not(::testing::Contains("syd")));
  EXPECT_EQ(reply->national().rounds(), 2u);  // syd was in the first round's roster
  for (const v1::RegionPart& p : reply->regions()) {
    if (p.region() == "syd") {
      EXPECT_NE(p.status(), v1::REGION_OK);
    } else {
      EXPECT_EQ(p.status(), v1::REGION_OK) << p.region() << ": " << p.detail();
    }
  }
  std::set<std::string> five(SixRegions().begin(), SixRegions().end());
  five.erase("syd");
  const double exact = static_cast<double>(Exact({q}, five)[q]);
  // The total counts the five (noise sd 5: six sd is far beyond chance), not syd's people.
  EXPECT_NEAR(static_cast<double>(reply->total().noised()), exact, 30.0);
  EXPECT_NEAR(reply->total().noise_sd(), 5.0, 1e-9);
}

}  // namespace
}  // namespace pmdb
