// hub::Hub without a server: regions in memory behind RegionClient, a real audit log.
#include "node/hub/hub.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "node/base/strings.h"
#include "query/parser.h"
#include "security/released.h"
#include "tests/test_util.h"

namespace pmdb::hub {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

constexpr char kAnna[] = "spiffe://test-fed/researcher/anna";
constexpr char kCia[] = "spiffe://test-fed/region/vast/clinician/cia";

// The calls a test region does not answer.
class UnansweringRegion : public RegionClient {
 public:
  void Info(const Outgoing&, const v1::InfoRequest&, Done<v1::RegionInfo> done) override {
    done(absl::UnimplementedError("stub"));
  }
  void Breakdown(const Outgoing&, const v1::BreakdownRequest&,
                 Done<v1::BreakdownAnswer> done) override {
    done(absl::UnimplementedError("stub"));
  }
  void Frequency(const Outgoing&, const v1::FrequencyRequest&,
                 Done<v1::FrequencyAnswer> done) override {
    done(absl::UnimplementedError("stub"));
  }
  void SimilarCases(const Outgoing&, const v1::SimilarCasesRequest&,
                    Done<v1::SimilarCasesAnswer> done) override {
    done(absl::UnimplementedError("stub"));
  }
  void ContactStatus(const Outgoing&, const v1::ContactStatusRequest&,
                     Done<v1::ContactTicket> done) override {
    done(absl::UnimplementedError("stub"));
  }
};

// A region that answers every count with `count`, or with `failure`, and remembers each call.
class StubRegion final : public UnansweringRegion {
 public:
  StubRegion(uint64_t count, absl::Status failure = absl::OkStatus())
      : count_(count), failure_(std::move(failure)) {}

  void Count(const Outgoing& call, const v1::CountRequest&, Done<v1::CountAnswer> done) override {
    Remember(call);
    if (!failure_.ok()) return done(failure_);
    v1::CountAnswer a;
    a.mutable_count()->set_low(count_);
    a.mutable_count()->set_high(count_);
    done(a);
  }
  void RequestContact(const Outgoing& call, const v1::ContactRequest&,
                      Done<v1::ContactTicket> done) override {
    Remember(call);
    if (!failure_.ok()) return done(failure_);
    v1::ContactTicket t;
    t.set_request_id("vast/abc");
    done(t);
  }

  std::vector<Outgoing> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  void Remember(const Outgoing& call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
  }
  uint64_t count_;
  absl::Status failure_;
  std::mutex mu_;
  std::vector<Outgoing> calls_;
};

call::Credentials Peer(const std::string& uri) {
  call::Credentials c;
  c.peer = security::ParseIdentity(uri);
  return c;
}

class HubTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    audit_ = *security::AuditLog::Open(store_.get());
    norr_ = std::make_shared<StubRegion>(120);
    vast_ = std::make_shared<StubRegion>(3);
    syd_ = std::make_shared<StubRegion>(0, absl::UnavailableError("connection refused"));
    hub_ = std::make_unique<Hub>(
        HubSettings{.federation = "test-fed", .deadline = std::chrono::milliseconds(2000)},
        std::vector<Region>{{"norr", norr_}, {"vast", vast_}, {"syd", syd_}}, audit_.get());
  }

  absl::StatusOr<v1::FederatedCount> Count(const std::string& who, Deadline deadline) {
    v1::CountRequest r;
    *r.mutable_criterion() = *query::ParseCriterion("dx(C50) AND sex(F)");
    return testing::AwaitResult<v1::FederatedCount>(
        [&](auto done) { hub_->Count(Peer(who), deadline, r, done); });
  }

  std::unique_ptr<security::AuditLog> audit_;
  std::shared_ptr<StubRegion> norr_, vast_, syd_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(HubTest, AsksEveryRegionOnTheUsersBehalfAndMergesUnderTheFloor) {
  auto far = std::chrono::system_clock::now() + std::chrono::hours(1);
  auto answer = Count(kAnna, far);
  ASSERT_THAT(answer, IsOk());
  EXPECT_EQ(answer->total().low(), 120u);
  EXPECT_EQ(answer->total().high(), 124u) << "vast's 3 passes the national floor as [0,4]";
  EXPECT_TRUE(answer->partial());
  EXPECT_EQ(answer->regions(2).status(), v1::REGION_UNAVAILABLE);
  for (auto* region : {norr_.get(), vast_.get(), syd_.get()}) {
    ASSERT_EQ(region->calls().size(), 1u);
    EXPECT_EQ(region->calls()[0].on_behalf_of, kAnna);
    // The hub's own deadline (2 s) is sooner than the caller's hour.
    EXPECT_LT(region->calls()[0].deadline,
              std::chrono::system_clock::now() + std::chrono::seconds(3));
  }
  auto soon = std::chrono::system_clock::now() + std::chrono::milliseconds(100);
  ASSERT_THAT(Count(kAnna, soon), IsOk());
  EXPECT_EQ(norr_->calls()[1].deadline, soon) << "a caller in a hurry shortens every leg";

  auto log = *security::ListAudit(*store_->Snapshot(), {});
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].method(), "FederationService/Count");
  EXPECT_EQ(log[0].caller(), kAnna);
  EXPECT_EQ(log[0].query(), "dx(C50) AND sex(F)");
  EXPECT_EQ(log[0].released(), "total=120-124 regions=2/3");
}

TEST_F(HubTest, RefusesCallersThePolicyTableDoesNotAllowBeforeAskingAnyone) {
  EXPECT_THAT(Count(kCia, std::chrono::system_clock::now() + std::chrono::seconds(5)),
              StatusIs(absl::StatusCode::kPermissionDenied, "clinician"));
  EXPECT_TRUE(norr_->calls().empty());
  auto log = *security::ListAudit(*store_->Snapshot(), {});
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome(), "PERMISSION_DENIED");
  EXPECT_EQ(log[0].query(), "");
}

TEST_F(HubTest, AContactRequestGoesToTheRegionItsReferenceNames) {
  auto ask = [&](const std::string& reference) {
    v1::ContactRequest r;
    r.set_case_reference(reference);
    r.set_reason("same variant");
    return testing::AwaitResult<v1::ContactTicket>([&](auto done) {
      hub_->RequestContact(Peer(kCia), std::chrono::system_clock::now() + std::chrono::seconds(5),
                           r, done);
    });
  };
  auto ticket = ask("pmdbref1.vast.AAAA");
  ASSERT_THAT(ticket, IsOk());
  EXPECT_EQ(ticket->request_id(), "vast/abc");
  EXPECT_EQ(vast_->calls().size(), 1u);
  EXPECT_TRUE(norr_->calls().empty());
  EXPECT_THAT(ask("pmdbref1.syd.AAAA"), StatusIs(absl::StatusCode::kUnavailable,
                                                 "region syd did not answer: connection refused"));
  EXPECT_THAT(ask("pmdbref1.gotland.AAAA"),
              StatusIs(absl::StatusCode::kNotFound, "no region gotland in this federation"));
}

// A differentially private region as the hub sees it: a new question costs the researcher rho
// 0.02 of a budget of 0.05 per 30 days, a repeat nothing; every answer reports the budget.
class BudgetedRegion final : public UnansweringRegion {
 public:
  explicit BudgetedRegion(const Clock* clock) : clock_(clock) {}
  void Count(const Outgoing&, const v1::CountRequest& request,
             Done<v1::CountAnswer> done) override {
    std::string q = request.criterion().SerializeAsString();
    uint64_t cost = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      int64_t now = clock_->NowSeconds();
      std::erase_if(spends_, [&](const auto& s) { return s.first <= now - 30 * 86400; });
      uint64_t spent = 0;
      for (const auto& [t, m] : spends_) spent += m;
      if (!released_.contains(q)) {
        if (spent + 20000 > 50000) return done(absl::ResourceExhaustedError("budget"));
        cost = 20000;
        spends_.push_back({now, cost});
        released_.insert(q);
        spent += cost;
      }
      v1::CountAnswer a;
      *a.mutable_count() = security::NoisedCount(100, 5, 5);
      v1::DisclosureApplied& d = *a.mutable_disclosure();
      d.set_rho(static_cast<double>(cost) / 1e6);
      d.set_sigma(5);
      v1::BudgetState& b = *d.add_budgets();
      b.set_name("researcher");
      b.set_limit_rho(0.05);
      b.set_spent_rho(static_cast<double>(spent) / 1e6);
      b.set_period_days(30);
      done(a);
    }
  }
  void RequestContact(const Outgoing&, const v1::ContactRequest&,
                      Done<v1::ContactTicket> done) override {
    done(absl::UnimplementedError("stub"));
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  const Clock* clock_;
  std::mutex mu_;
  int calls_ = 0;
  std::vector<std::pair<int64_t, uint64_t>> spends_;
  std::set<std::string> released_;
};

class HubBudgetTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    audit_ = *security::AuditLog::Open(store_.get(), &clock_);
    norr_ = std::make_shared<BudgetedRegion>(&clock_);
    vast_ = std::make_shared<BudgetedRegion>(&clock_);
    hub_ = NewHub();
  }
  std::unique_ptr<Hub> NewHub() {
    return std::make_unique<Hub>(HubSettings{.federation = "test-fed"},
                                 std::vector<Region>{{"norr", norr_}, {"vast", vast_}},
                                 audit_.get(), &clock_);
  }
  absl::StatusOr<v1::FederatedCount> Ask(const std::string& expr) {
    v1::CountRequest r;
    *r.mutable_criterion() = *query::ParseCriterion(expr);
    return testing::AwaitResult<v1::FederatedCount>([&](auto done) {
      hub_->Count(Peer(kAnna), std::chrono::system_clock::now() + std::chrono::seconds(5), r, done);
    });
  }

  FakeClock clock_{1'800'000'000};
  std::unique_ptr<security::AuditLog> audit_;
  std::shared_ptr<BudgetedRegion> norr_, vast_;
  std::unique_ptr<Hub> hub_;
};

// When no region could afford a new question, the hub says so at once, without asking anyone,
// and says when each region will have enough again; questions answered before still go out
// (they may be free), and so does everything once the budget has come back.
// An operator may raise a budget at any time: limits a region reported more than ten minutes
// ago do not refuse anything at the hub any more; the regions are asked and decide.
TEST_F(HubBudgetTest, LimitsReportedLongAgoAreNotTrustedToRefuse) {
  ASSERT_THAT(Ask("sex(F)"), IsOk());
  clock_.AdvanceSeconds(60);
  ASSERT_THAT(Ask("sex(M)"), IsOk());
  EXPECT_EQ(Ask("sex(O)").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(norr_->calls(), 2);
  clock_.AdvanceSeconds(11 * 60);
  auto asked = Ask("sex(O)");
  ASSERT_THAT(asked, IsOk()) << "the regions refuse it themselves, part by part";
  EXPECT_EQ(norr_->calls(), 3);
}

TEST_F(HubBudgetTest, RefusesANewQuestionNoRegionCouldAffordWithoutAskingAnyone) {
  ASSERT_THAT(Ask("sex(F)"), IsOk());
  clock_.AdvanceSeconds(60);
  ASSERT_THAT(Ask("sex(M)"), IsOk());
  EXPECT_EQ(norr_->calls(), 2);
  auto refused = Ask("sex(O)");
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kResourceExhausted,
                                         std::string("refused at the hub: this new question needs "
                                                     "more of your researcher privacy budget")));
  EXPECT_NE(refused.status().message().find(pmdb::StrCat(
                "norr: enough free again at ", pmdb::Rfc3339(1'800'000'000 + 30 * 86400))),
            std::string::npos)
      << refused.status();
  EXPECT_EQ(norr_->calls(), 2) << "no region was asked";
  EXPECT_EQ(vast_->calls(), 2);
  // A question passed on before may be a free repeat: it is asked.
  auto repeat = Ask("sex(F)");
  ASSERT_THAT(repeat, IsOk());
  EXPECT_EQ(norr_->calls(), 3);
  // Budget back: the first spend has left the window.
  clock_.AdvanceSeconds(30 * 86400);
  EXPECT_THAT(Ask("sex(O)"), IsOk());
  EXPECT_EQ(norr_->calls(), 4);
  // The hub's log says what each region charged.
  auto log = *security::ListAudit(*store_->Snapshot(), {});
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0].release_key(), "count sex(F)");
  ASSERT_EQ(log[0].charges_size(), 2);
  EXPECT_EQ(log[0].charges(0).rho_micros(), 20000u);
  EXPECT_EQ(log[2].outcome(), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(log[3].charges(0).rho_micros(), 0u) << "the repeat was free";
}

// After a restart the account comes back from the hub's log: what was passed on, and what was
// spent; the limits come with the next answer.
TEST_F(HubBudgetTest, TheAccountIsRebuiltFromTheHubsLog) {
  ASSERT_THAT(Ask("sex(F)"), IsOk());
  ASSERT_THAT(Ask("sex(M)"), IsOk());
  hub_ = NewHub();
  hub_->Replay(*security::ListAudit(*store_->Snapshot(), {}));
  ASSERT_THAT(Ask("sex(F)"), IsOk()) << "passed on before: asked, and the limits come back";
  EXPECT_EQ(norr_->calls(), 3);
  EXPECT_THAT(Ask("age(40-)").status(),
              StatusIs(absl::StatusCode::kResourceExhausted, std::string("refused at the hub")));
  EXPECT_EQ(norr_->calls(), 3);
}

}  // namespace
}  // namespace pmdb::hub
