// hub::Hub without a server: regions in memory behind RegionClient, a real audit log.
#include "node/hub/hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "node/base/strings.h"
#include "node/hub/witness.h"
#include "query/parser.h"
#include "security/audit.h"
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
  void Catalogue(const Outgoing&, const v1::CatalogueRequest&,
                 Done<v1::CatalogueAnswer> done) override {
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
        HubSettings{.federation = "test-fed",
                    .deadline = std::chrono::milliseconds(2000),
                    .national = false},
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
    return std::make_unique<Hub>(HubSettings{.federation = "test-fed", .national = false},
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

// A region whose audit chain is a list of entry hashes the test edits: grown, cut short, or
// rewritten; it answers counts with 7.
class ChainRegion final : public UnansweringRegion {
 public:
  explicit ChainRegion(std::string id) : id_(std::move(id)) {}
  void Count(const Outgoing&, const v1::CountRequest&, Done<v1::CountAnswer> done) override {
    ++counts;
    v1::CountAnswer a;
    a.mutable_count()->set_low(7);
    a.mutable_count()->set_high(7);
    done(a);
  }
  void RequestContact(const Outgoing&, const v1::ContactRequest&,
                      Done<v1::ContactTicket> done) override {
    ++counts;
    done(v1::ContactTicket());
  }
  void AuditHead(const Outgoing& call, const v1::AuditHeadRequest& request,
                 Done<v1::AuditHeadReply> done) override {
    EXPECT_EQ(call.on_behalf_of, "") << "the hub asks on its own behalf";
    v1::AuditHeadReply h;
    h.set_region(id_);
    h.set_entries(chain.size());
    if (!chain.empty()) h.set_head_hash(chain.back());
    h.set_at(request.at());
    if (request.at() > 0 && request.at() <= chain.size()) h.set_hash_at(chain[request.at() - 1]);
    done(h);
  }
  void Grow(int n) {
    for (int i = 0; i < n; ++i) chain.push_back(security::Sha256(StrCat(id_, chain.size(), salt)));
  }

  std::string id_;
  std::vector<std::string> chain;
  std::string salt;
  std::atomic<int> counts{0};
};

class WitnessTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    audit_ = *security::AuditLog::Open(store_.get());
    norr_ = std::make_shared<ChainRegion>("norr");
    vast_ = std::make_shared<ChainRegion>("vast");
    norr_->Grow(3);
    vast_->Grow(5);
    Restart();
  }
  // The hub as it starts: its witness loaded from its store.
  void Restart(const std::vector<std::string>& accept = {}) {
    hub_.reset();
    witness_.reset();
    auto w = Witness::Open(store_.get(), {"norr", "vast"}, accept);
    ASSERT_THAT(w, IsOk());
    witness_ = std::move(*w);
    hub_ = std::make_unique<Hub>(HubSettings{.federation = "test-fed", .national = false},
                                 std::vector<Region>{{"norr", norr_}, {"vast", vast_}},
                                 audit_.get(), &SystemClock(), witness_.get());
  }
  std::vector<std::string> Check() {
    std::promise<std::vector<std::string>> p;
    hub_->CheckAuditHeads(std::chrono::system_clock::now() + std::chrono::seconds(5),
                          [&](std::vector<std::string> problems) { p.set_value(problems); });
    return p.get_future().get();
  }
  v1::FederatedCount Count() {
    v1::CountRequest r;
    *r.mutable_criterion() = *query::ParseCriterion("sex(F)");
    auto a = testing::AwaitResult<v1::FederatedCount>([&](auto done) {
      hub_->Count(Peer(kAnna), std::chrono::system_clock::now() + std::chrono::seconds(5), r, done);
    });
    EXPECT_THAT(a, IsOk());
    return a.ok() ? *a : v1::FederatedCount();
  }

  std::unique_ptr<security::AuditLog> audit_;
  std::shared_ptr<ChainRegion> norr_, vast_;
  std::unique_ptr<Witness> witness_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(WitnessTest, AGrowingChainIsFollowed) {
  EXPECT_TRUE(Check().empty());
  EXPECT_EQ(witness_->Last("vast").entries(), 5u);
  vast_->Grow(4);
  EXPECT_TRUE(Check().empty());
  EXPECT_EQ(witness_->Last("vast").entries(), 9u);
  EXPECT_EQ(witness_->Last("vast").hash(), vast_->chain.back());
  EXPECT_EQ(Count().regions(1).status(), v1::REGION_OK);
}

// A log cut short (or an older copy put back), then one rewritten from an entry the hub saw:
// each is caught at the next look, the region is reported and never asked again, also after
// the hub restarts, until the hub's operator accepts it.
TEST_F(WitnessTest, ARolledBackOrRewrittenChainIsRefusedUntilAccepted) {
  ASSERT_TRUE(Check().empty());
  vast_->chain.resize(2);  // an older copy
  vast_->Grow(1);          // ... that went on (3 entries now, the hub saw 5)
  auto problems = Check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("vast's audit log has 3 entries, but the hub saw 5"),
            std::string::npos)
      << problems[0];
  int asked = vast_->counts;
  v1::FederatedCount c = Count();
  EXPECT_EQ(vast_->counts, asked) << "a refused region is not asked";
  ASSERT_EQ(c.regions_size(), 2);
  EXPECT_EQ(c.regions(0).status(), v1::REGION_OK);
  EXPECT_EQ(c.regions(1).status(), v1::REGION_UNAVAILABLE);
  EXPECT_NE(c.regions(1).detail().find("--accept-region-audit vast"), std::string::npos);
  EXPECT_EQ(c.total().low(), 7u) << "only norr counted";
  // A contact request for a case of vast's is refused too.
  v1::ContactRequest contact;
  contact.set_case_reference("pmdbref1.vast.AAAA");
  contact.set_reason("same variant");
  auto ticket = testing::AwaitResult<v1::ContactTicket>([&](auto done) {
    hub_->RequestContact(Peer(kCia), std::chrono::system_clock::now() + std::chrono::seconds(5),
                         contact, done);
  });
  EXPECT_THAT(ticket.status(),
              StatusIs(absl::StatusCode::kUnavailable, std::string("--accept-region-audit vast")));
  EXPECT_EQ(vast_->counts, asked);

  vast_->Grow(10);  // growing past what was seen does not mend it
  Check();
  Restart();
  EXPECT_EQ(Count().regions(1).status(), v1::REGION_UNAVAILABLE) << "kept across a restart";

  Restart({"vast"});
  EXPECT_TRUE(Check().empty());
  EXPECT_EQ(witness_->Last("vast").entries(), 13u);
  EXPECT_EQ(Count().regions(1).status(), v1::REGION_OK);

  // Rewritten: the same length and more, but the entry the hub saw last is different.
  vast_->salt = "edited";
  vast_->chain.clear();
  vast_->Grow(14);
  problems = Check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("entry 12 is no longer the one the hub saw"), std::string::npos)
      << problems[0];
  EXPECT_EQ(Count().regions(1).status(), v1::REGION_UNAVAILABLE);
  EXPECT_EQ(Count().regions(0).status(), v1::REGION_OK) << "norr is not affected";
}

TEST_F(WitnessTest, AcceptingAnUnknownRegionIsAnError) {
  EXPECT_THAT(Witness::Open(store_.get(), {"norr"}, {"nowhere"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, std::string("no region nowhere")));
}

}  // namespace
}  // namespace pmdb::hub
