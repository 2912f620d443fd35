// core::NodeCore without a transport: a real store, a real audit log, plain credentials and a
// fake clock. What a region releases, to whom, what it refuses, and what the audit log says.
#include "node/core/node_core.h"

#include <gtest/gtest.h>

#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/reference_files.h"
#include "node/storage/keys.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::core {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kMonday = 1796083200;  // 2026-12-01 00:00:00 UTC, a day start
constexpr char kHub[] = "spiffe://test-fed/hub";
constexpr char kAnna[] = "spiffe://test-fed/researcher/anna";
constexpr char kCia[] = "spiffe://test-fed/region/vast/clinician/cia";
constexpr char kOlle[] = "spiffe://test-fed/region/vast/operator/olle";

call::Credentials Peer(const std::string& uri, std::optional<std::string> on_behalf_of = {}) {
  call::Credentials c;
  c.peer = security::ParseIdentity(uri);
  c.on_behalf_of = std::move(on_behalf_of);
  return c;
}
call::Credentials ViaHub(const std::string& user) { return Peer(kHub, user); }

std::string Person(const std::string& id, const std::string& sex, int age,
                   const std::string& terms = "") {
  return StrCat(R"({"id":"p-)", id, R"(","subject":{"id":")", id, R"(","sex":")", sex,
                R"(","timeAtLastEncounter":{"age":{"iso8601duration":"P)", age,
                R"(Y"}}},"phenotypicFeatures":[)", terms,
                R"(],"metaData":{"submittedBy":"Unit"}})");
}

class NodeCoreTest : public testing::StoreTest {
 protected:
  // 12 women aged 40-51 and 3 men; the first woman also has the test phenotypes.
  void SetUp() override {
    StoreTest::SetUp();
    std::string lines;
    for (int i = 0; i < 12; ++i) {
      std::string terms =
          i == 0 ? R"({"type":{"id":"HP:0000113"}},{"type":{"id":"HP:0001407"}})" : "";
      lines += Person(StrCat("F", i), "FEMALE", 40 + i, terms) + "\n";
    }
    for (int i = 0; i < 3; ++i) lines += Person(StrCat("M", i), "MALE", 60) + "\n";
    testing::WriteFile(dir_.Path("people.jsonl"), lines);
    ASSERT_THAT(
        ingest::RememberReferenceFiles(*store_, {testing::SharedData("ontology/hp.obo"), {}}),
        IsOk());
    ASSERT_THAT(ingest::IngestPhenopackets(*store_, dir_.Path("people.jsonl")), IsOk());
    settings_.region = "vast";
    settings_.federation = "test-fed";
    Sharing researcher;
    researcher.kinds = {"count", "breakdown", "frequency"};
    for (const std::string& k : query::LeafKinds()) researcher.criteria.insert(k);
    settings_.sharing["researcher"] = researcher;
    settings_.sharing["clinician"] = Sharing{.kinds = {"similar"}};
    settings_.clinician.contact = "genetics@vast.example";
    settings_.clinician.reference_ttl_seconds = 3600;
    settings_.privacy.projects.push_back({.id = "p1", .members = {"anna", "bo"}});
    Restart();
  }

  void Restart() {
    core_.reset();
    audit_.reset();
    audit_ = *security::AuditLog::Open(store_.get(), &clock_);
    auto core = NodeCore::Create(settings_, store_.get(), audit_.get(), &clock_);
    ASSERT_THAT(core, IsOk());
    core_ = std::move(*core);
  }

  absl::StatusOr<v1::CountAnswer> Count(const call::Credentials& who, const std::string& expr) {
    v1::CountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion(expr);
    return testing::AwaitResult<v1::CountAnswer>(
        [&](auto done) { core_->Count(who, request, done); });
  }

  absl::StatusOr<v1::CountAnswer> Cost(const call::Credentials& who, const std::string& expr) {
    v1::CountRequest request;
    *request.mutable_criterion() = *query::ParseCriterion(expr);
    request.set_cost_only(true);
    return testing::AwaitResult<v1::CountAnswer>(
        [&](auto done) { core_->Count(who, request, done); });
  }

  std::vector<v1::AuditEntry> Audit() { return *security::ListAudit(*store_->Snapshot(), {}); }

  FakeClock clock_{kMonday + 9 * 3600};
  std::unique_ptr<security::AuditLog> audit_;
  NodeSettings settings_;
  std::unique_ptr<NodeCore> core_;
};

// The public tier needs the mechanism and a share of the region's budgets that fits; its
// answers are booleans charged to the project "public", and are refused when it is off.
TEST_F(NodeCoreTest, ThePublicTierIsABooleanFromItsOwnBudget) {
  v1::Criterion variant = *query::ParseCriterion("variant(GRCh38:1:1000:A:G)");
  auto ask = [&](const v1::Criterion& c) {
    return testing::AwaitResult<v1::PublicAnswer>([&](auto done) { core_->PublicExists(c, done); });
  };
  EXPECT_EQ(ask(variant).status().code(), absl::StatusCode::kPermissionDenied) << "off";

  NodeSettings off = settings_;
  off.public_tier.enabled = true;
  off.disclosure.differential_privacy = false;
  EXPECT_EQ(NodeCore::Create(off, store_.get(), audit_.get(), &clock_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  NodeSettings crowded = settings_;
  crowded.public_tier.enabled = true;
  crowded.privacy.projects[0].share_millionths = 950'000;
  EXPECT_EQ(NodeCore::Create(crowded, store_.get(), audit_.get(), &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);

  settings_.public_tier.enabled = true;
  settings_.public_tier.threshold = 200;  // ten times the noise: nobody is never "seen"
  Restart();
  auto answer = ask(variant);
  ASSERT_THAT(answer, IsOk());
  EXPECT_FALSE(answer->exists()) << "nobody here carries it";
  EXPECT_EQ(answer->noise_sd(), 20);
  EXPECT_EQ(answer->threshold(), 200u);
  EXPECT_EQ(ask(*query::ParseCriterion("sex(F)")).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a variant, nothing else";
  auto entries = Audit();
  ASSERT_FALSE(entries.empty());
  const v1::AuditEntry& last = entries.back();
  EXPECT_EQ(last.method(), "PublicBeacon/Exists");
  EXPECT_EQ(last.caller(), "public:anonymous");
  const v1::AuditEntry& charged = entries[entries.size() - 2];
  EXPECT_EQ(charged.project(), "public");
  EXPECT_EQ(charged.rho_micros(), 1250u) << "1 / (2 * 20^2)";
  EXPECT_EQ(charged.released(), "exists=false");
  // The region's budget carries it, as the project's.
  bool found = false;
  for (const v1::BudgetState& b : core_->RegionBudgets()) {
    if (b.name() == "project public" && b.period_days() == 30) {
      found = true;
      EXPECT_NEAR(b.spent_rho(), 0.00125, 1e-9);
      EXPECT_NEAR(b.limit_rho(), 0.5, 1e-9);
    }
  }
  EXPECT_TRUE(found);
}

// A cost quote says what an answer would charge and what is left, releasing no number and
// charging nothing; after the answer, the same quote says it is free.
TEST_F(NodeCoreTest, ACostQuoteChargesNothingAndKnowsRepeats) {
  auto quote = Cost(ViaHub(kAnna), "sex(F) AND age(30-)");
  ASSERT_THAT(quote, IsOk());
  EXPECT_FALSE(quote->has_count()) << "a quote holds no number";
  EXPECT_TRUE(quote->disclosure().cost_only());
  EXPECT_DOUBLE_EQ(quote->disclosure().rho(), 0.02);
  EXPECT_EQ(quote->disclosure().refusal(), "");
  EXPECT_DOUBLE_EQ(quote->disclosure().budgets(0).spent_rho(), 0) << "nothing was charged";
  auto answer = Count(ViaHub(kAnna), "age(30-) AND sex(F)");
  ASSERT_THAT(answer, IsOk());
  EXPECT_DOUBLE_EQ(answer->disclosure().rho(), 0.02);
  EXPECT_DOUBLE_EQ(answer->disclosure().budgets(0).spent_rho(), 0.02);
  auto again = Cost(ViaHub(kAnna), "sex(F) AND age(30-)");
  ASSERT_THAT(again, IsOk());
  EXPECT_DOUBLE_EQ(again->disclosure().rho(), 0) << "released before: free";
  // An invalid question is refused as the answer would be.
  EXPECT_THAT(Cost(ViaHub(kAnna), "gene(NOPE)"),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition, std::string("gene")));
  const auto log = Audit();
  EXPECT_EQ(log[0].released(), "cost quote rho=0.02");
  EXPECT_EQ(log[0].rho_micros(), 0u);
  EXPECT_EQ(log[0].release(), "") << "a quote is no release: a restart recharges nothing for it";
}

TEST_F(NodeCoreTest, ByDefaultCountsAreNoisedChargedOnceAndLabelled) {
  auto women = Count(ViaHub(kAnna), "sex(F)");
  ASSERT_THAT(women, IsOk());
  EXPECT_DOUBLE_EQ(women->count().noise_sd(), 5.0);
  EXPECT_EQ(women->disclosure().mechanism(), "discrete-gaussian");
  EXPECT_DOUBLE_EQ(women->disclosure().rho(), 0.02);
  EXPECT_EQ(women->disclosure().project(), "p1");
  ASSERT_EQ(women->disclosure().budgets_size(), 5);  // researcher x2, project, its share x2
  EXPECT_EQ(women->disclosure().budgets(0).name(), "researcher");
  EXPECT_DOUBLE_EQ(women->disclosure().budgets(0).spent_rho(), 0.02);
  EXPECT_DOUBLE_EQ(women->disclosure().budgets(0).limit_rho(), 1.0);
  // A rewrite of the same question, by the same or another researcher: same number, free.
  for (const char* who : {kAnna, "spiffe://test-fed/researcher/bo"}) {
    auto again = Count(ViaHub(who), "NOT NOT (sex(F) AND sex(F))");
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(again->count().low(), women->count().low());
    EXPECT_DOUBLE_EQ(again->disclosure().rho(), 0.0);
  }
  // New data is a new release: ingesting one more person changes the data version.
  storage::WriteBatch batch = store_->NewBatch();
  batch.AddBits(storage::keys::kAllIndividuals, storage::Bitmap::Of({999}));
  ASSERT_THAT(store_->Write(batch), IsOk());
  auto after = Count(ViaHub(kAnna), "sex(F)");
  ASSERT_THAT(after, IsOk());
  EXPECT_DOUBLE_EQ(after->disclosure().rho(), 0.02);

  std::vector<v1::AuditEntry> log = Audit();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].released().rfind("count=~", 0), 0u) << log[0].released();
  EXPECT_EQ(log[0].project(), "p1");
  EXPECT_EQ(log[0].rho_micros(), 20000u);
  EXPECT_EQ(log[1].rho_micros(), 0u);
  EXPECT_EQ(log[0].release(), log[1].release());
  EXPECT_EQ(log[0].release().size(), 16u);
  EXPECT_NE(log[3].release(), log[0].release());
  EXPECT_EQ(log[3].rho_micros(), 20000u);
  // The spend survives a restart: it is rebuilt from the audit log.
  Restart();
  auto rebuilt = Count(ViaHub(kAnna), "sex(M)");
  ASSERT_THAT(rebuilt, IsOk());
  EXPECT_DOUBLE_EQ(rebuilt->disclosure().budgets(0).spent_rho(), 0.06);
}

// A charge is durable before the number leaves: when the answer's audit entry cannot be
// written, the number is not handed back and the charge is taken back, so the same question
// asked again is a new release, charged once, and nothing is recharged after a restart.
TEST_F(NodeCoreTest, AnAnswerWhoseAuditWriteFailsNeverLeavesAndCostsNothing) {
  ArmFailure("audit.write", 1);
  auto lost = Count(ViaHub(kAnna), "sex(F) AND age(30-)");
  EXPECT_THAT(lost, testing::StatusIs(absl::StatusCode::kInternal,
                                      std::string("the audit log could not be written")));
  EXPECT_TRUE(Audit().empty()) << "nothing was recorded";
  auto quote = Cost(ViaHub(kAnna), "sex(F) AND age(30-)");
  ASSERT_THAT(quote, IsOk());
  EXPECT_DOUBLE_EQ(quote->disclosure().budgets(0).spent_rho(), 0) << "the charge was taken back";
  EXPECT_DOUBLE_EQ(quote->disclosure().rho(), 0.02) << "not marked as released before";
  auto answer = Count(ViaHub(kAnna), "sex(F) AND age(30-)");
  ASSERT_THAT(answer, IsOk());
  EXPECT_DOUBLE_EQ(answer->disclosure().rho(), 0.02);
  EXPECT_DOUBLE_EQ(answer->disclosure().budgets(0).spent_rho(), 0.02);
  Restart();
  auto after = Cost(ViaHub(kAnna), "sex(M)");
  ASSERT_THAT(after, IsOk());
  EXPECT_DOUBLE_EQ(after->disclosure().budgets(0).spent_rho(), 0.02) << "charged exactly once";
}

TEST_F(NodeCoreTest, ResearchersGetDisclosedCountsAndTheAuditSaysWhat) {
  // The thresholds-only mode, which an operator has to choose explicitly.
  settings_.disclosure.differential_privacy = false;
  Restart();
  auto women = Count(ViaHub(kAnna), "sex(F)");
  ASSERT_THAT(women, IsOk());
  EXPECT_EQ(women->count().low(), 12u);
  EXPECT_EQ(women->count().high(), 12u);
  EXPECT_EQ(women->disclosure().min_count(), 5u);
  EXPECT_FALSE(women->disclosure().exact());
  EXPECT_EQ(women->disclosure().mechanism(), "thresholds");
  EXPECT_DOUBLE_EQ(women->disclosure().rho(), 0.0);
  auto men = Count(ViaHub(kAnna), "sex(M)");
  ASSERT_THAT(men, IsOk());
  EXPECT_EQ(men->count().low(), 0u) << "3 is small: a range, never the number";
  EXPECT_EQ(men->count().high(), 4u);

  std::vector<v1::AuditEntry> log = Audit();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].method(), "RegionService/Count");
  EXPECT_EQ(log[0].caller(), kAnna);
  EXPECT_EQ(log[0].role(), "researcher");
  EXPECT_EQ(log[0].via(), kHub);
  EXPECT_EQ(log[0].region(), "vast");
  EXPECT_EQ(log[0].query(), "sex(F)");
  EXPECT_EQ(log[0].outcome(), "ok");
  EXPECT_EQ(log[0].released(), "count=12");
  EXPECT_EQ(log[1].released(), "count=<5");
  EXPECT_EQ(log[0].time_unix_micros(), (kMonday + 9 * 3600) * 1000000);
}

TEST_F(NodeCoreTest, RefusalsNameWhyAreAuditedAndReleaseNothing) {
  EXPECT_THAT(Count(Peer(kAnna), "sex(F)"),
              StatusIs(absl::StatusCode::kPermissionDenied, "researcher"));
  EXPECT_THAT(Count(Peer(kHub), "sex(F)"),
              StatusIs(absl::StatusCode::kPermissionDenied, "on whose behalf"));
  EXPECT_THAT(Count(call::Credentials{}, "sex(F)"),
              StatusIs(absl::StatusCode::kUnauthenticated, "no TLS peer"));
  EXPECT_THAT(Count(ViaHub(kCia), "sex(F)"), StatusIs(absl::StatusCode::kPermissionDenied, ""));
  std::vector<v1::AuditEntry> log = Audit();
  ASSERT_EQ(log.size(), 4u) << "every refusal is audited, one without a TLS peer with no caller";
  for (const v1::AuditEntry& e : log) {
    EXPECT_NE(e.outcome(), "ok");
    EXPECT_EQ(e.released(), "");
  }
  EXPECT_EQ(log[0].caller(), kAnna);
  EXPECT_EQ(log[2].caller(), "");
  EXPECT_EQ(log[3].caller(), kCia);
}

TEST_F(NodeCoreTest, TheRegionsSharingPolicyDecidesWhatItAnswers) {
  settings_.sharing["researcher"].criteria.erase("hpo");
  settings_.sharing["researcher"].kinds.erase("frequency");
  Restart();
  EXPECT_THAT(Count(ViaHub(kAnna), "hpo(HP:0000113)"),
              StatusIs(absl::StatusCode::kPermissionDenied, "does not answer hpo() criteria"));
  v1::FrequencyRequest f;
  *f.mutable_criterion() = *query::ParseCriterion("variant(GRCh38:1:100:A:G)");
  EXPECT_THAT(testing::AwaitResult<v1::FrequencyAnswer>(
                  [&](auto done) { core_->Frequency(ViaHub(kAnna), f, done); }),
              StatusIs(absl::StatusCode::kPermissionDenied, "does not share frequency results"));
  settings_.participate = false;
  Restart();
  EXPECT_THAT(Count(ViaHub(kAnna), "sex(F)"),
              StatusIs(absl::StatusCode::kPermissionDenied, "does not take part"));
  auto info =
      testing::AwaitResult<v1::RegionInfo>([&](auto done) { core_->Info(ViaHub(kAnna), done); });
  ASSERT_THAT(info, IsOk());
  EXPECT_FALSE(info->participating());
  EXPECT_EQ(info->kinds_size(), 0);
}

TEST_F(NodeCoreTest, BreakdownDimensionsAreCheckedOnce) {
  settings_.disclosure.differential_privacy = false;  // exact cell ranges below
  Restart();
  auto ask = [&](std::vector<v1::Dimension> dims) {
    v1::BreakdownRequest r;
    *r.mutable_criterion() = *query::ParseCriterion("sex(F)");
    for (v1::Dimension d : dims) r.add_dimensions(d);
    return testing::AwaitResult<v1::BreakdownAnswer>(
        [&](auto done) { core_->Breakdown(ViaHub(kAnna), r, done); });
  };
  EXPECT_THAT(ask({}), StatusIs(absl::StatusCode::kInvalidArgument, "one or two dimensions"));
  EXPECT_THAT(ask({v1::SEX, v1::AGE_BAND, v1::DIAGNOSIS}),
              StatusIs(absl::StatusCode::kInvalidArgument, "one or two dimensions"));
  EXPECT_THAT(ask({v1::SEX, v1::SEX}), StatusIs(absl::StatusCode::kInvalidArgument, "must differ"));
  auto bands = ask({v1::AGE_BAND});
  ASSERT_THAT(bands, IsOk());
  std::map<std::string, std::pair<uint64_t, uint64_t>> cells;
  for (const v1::ReleasedCell& c : bands->cells()) {
    cells[c.labels(0)] = {c.count().low(), c.count().high()};
  }
  // 50-59 holds two women: small, so released as a range.
  EXPECT_EQ(cells["50-59"], std::make_pair(uint64_t{0}, uint64_t{4}));
  // 40-49 holds ten: whether released or hidden beside the small cell, its range holds 10.
  ASSERT_EQ(cells.count("40-49"), 1u);
  EXPECT_LE(cells["40-49"].first, 10u);
  EXPECT_GE(cells["40-49"].second, 10u);
  EXPECT_THAT(Audit().back().released(), HasSubstr("by=age_band cells="));
}

TEST_F(NodeCoreTest, OperatorsGetExactAnswersOfTheirOwnRegionOnly) {
  v1::AdminQueryRequest q;
  *q.mutable_criterion() = *query::ParseCriterion("sex(M)");
  auto exact = core_->Query(Peer(kOlle), q);
  ASSERT_THAT(exact, IsOk());
  EXPECT_EQ(exact->count().count().low(), 3u);
  EXPECT_EQ(exact->count().count().high(), 3u);
  EXPECT_TRUE(exact->count().disclosure().exact());
  EXPECT_EQ(Audit().back().released(), "count=3");
  EXPECT_THAT(core_->Query(Peer("spiffe://test-fed/region/syd/operator/sven"), q),
              StatusIs(absl::StatusCode::kPermissionDenied, "may not administer region vast"));
  EXPECT_THAT(core_->Query(ViaHub(kOlle), q), StatusIs(absl::StatusCode::kPermissionDenied, ""));
  auto status = core_->Status(Peer(kOlle));
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->individuals(), 15u);
  EXPECT_EQ(status->started_unix(), kMonday + 9 * 3600);
}

TEST_F(NodeCoreTest, TheDailyBudgetSurvivesARestartAndRenewsAtMidnightUtc) {
  settings_.disclosure.daily_budget = 3;
  Restart();
  for (const char* q : {"sex(F)", "sex(M)", "age(40-49)"})
    EXPECT_THAT(Count(ViaHub(kAnna), q), IsOk());
  EXPECT_THAT(Count(ViaHub(kAnna), "age(50-59)"),
              StatusIs(absl::StatusCode::kResourceExhausted, ""));
  EXPECT_THAT(Count(ViaHub("spiffe://test-fed/researcher/bo"), "age(50-59)"), IsOk())
      << "each researcher has a budget";
  Restart();
  EXPECT_THAT(Count(ViaHub(kAnna), "age(50-59)"),
              StatusIs(absl::StatusCode::kResourceExhausted, ""))
      << "a restart is no way round the budget";
  clock_.SetSeconds(kMonday + 86400);
  EXPECT_THAT(Count(ViaHub(kAnna), "age(50-59)"), IsOk());
  clock_.SetSeconds(kMonday + 86400 + 3600);
  Restart();
  EXPECT_THAT(Count(ViaHub(kAnna), "sex(F)"), IsOk());
  EXPECT_THAT(Count(ViaHub(kAnna), "sex(M)"), IsOk());
  EXPECT_THAT(Count(ViaHub(kAnna), "sex(O)"), StatusIs(absl::StatusCode::kResourceExhausted, ""));
}

TEST_F(NodeCoreTest, CaseReferencesExpireOnTheClockAndContactsFollowTheirState) {
  v1::SimilarCasesRequest search;
  search.mutable_patient()->add_phenotypes("HP:0000113");
  search.mutable_patient()->add_phenotypes("HP:0001407");
  search.mutable_patient()->add_phenotypes("HP:0000822");
  search.set_top(1);
  auto found = testing::AwaitResult<v1::SimilarCasesAnswer>(
      [&](auto done) { core_->SimilarCases(ViaHub(kCia), search, done); });
  ASSERT_THAT(found, IsOk());
  ASSERT_EQ(found->matches_size(), 1);
  const v1::CaseMatch& best = found->matches(0);
  EXPECT_EQ(best.region(), "vast");
  EXPECT_EQ(best.contact(), "genetics@vast.example");
  EXPECT_EQ(best.reference_expires_unix(), kMonday + 9 * 3600 + 3600);
  EXPECT_EQ(best.subject_id(), "") << "a clinician never sees the subject id";
  EXPECT_EQ(Audit().back().individuals_size(), 1);
  EXPECT_THAT(testing::AwaitResult<v1::SimilarCasesAnswer>(
                  [&](auto done) { core_->SimilarCases(ViaHub(kAnna), search, done); }),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));

  v1::ContactRequest ask;
  ask.set_case_reference(best.case_reference());
  ask.set_reason("");
  auto contact = [&](const call::Credentials& who) {
    return testing::AwaitResult<v1::ContactTicket>(
        [&](auto done) { core_->RequestContact(who, ask, done); });
  };
  EXPECT_THAT(contact(ViaHub(kCia)),
              StatusIs(absl::StatusCode::kInvalidArgument, "needs a reason"));
  ask.set_reason("same two findings");
  auto ticket = contact(ViaHub(kCia));
  ASSERT_THAT(ticket, IsOk());
  EXPECT_EQ(ticket->state(), v1::CONTACT_PENDING);
  EXPECT_EQ(ticket->created_unix(), kMonday + 9 * 3600);

  v1::ContactStatusRequest status;
  status.set_request_id(ticket->request_id());
  auto state = [&](const std::string& who) {
    return testing::AwaitResult<v1::ContactTicket>(
        [&](auto done) { core_->ContactStatus(ViaHub(who), status, done); });
  };
  EXPECT_THAT(state("spiffe://test-fed/region/syd/clinician/dan"),
              StatusIs(absl::StatusCode::kNotFound, "of yours"));
  v1::ContactAnswerRequest answer;
  answer.set_request_id(ticket->request_id());
  answer.set_accept(true);
  answer.set_message("Dr Lind will call");
  clock_.AdvanceSeconds(600);
  auto answered = core_->ContactAnswer(Peer(kOlle), answer);
  ASSERT_THAT(answered, IsOk());
  EXPECT_EQ(answered->answered_unix(), kMonday + 9 * 3600 + 600);
  EXPECT_THAT(core_->ContactAnswer(Peer(kOlle), answer),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already answered"));
  auto seen = state(kCia);
  ASSERT_THAT(seen, IsOk());
  EXPECT_EQ(seen->state(), v1::CONTACT_ACCEPTED);
  EXPECT_EQ(seen->answer(), "Dr Lind will call");

  clock_.AdvanceSeconds(3600);  // past the reference's hour
  EXPECT_THAT(contact(ViaHub(kCia)), StatusIs(absl::StatusCode::kFailedPrecondition, "expired"));
}

TEST_F(NodeCoreTest, ClinicianSearchesAreLimitedPerDay) {
  settings_.clinician.daily_searches = 2;
  Restart();
  v1::SimilarCasesRequest search;
  search.mutable_patient()->add_phenotypes("HP:0000113");
  search.mutable_patient()->add_phenotypes("HP:0001407");
  search.mutable_patient()->add_phenotypes("HP:0000822");
  auto once = [&] {
    return testing::AwaitResult<v1::SimilarCasesAnswer>(
        [&](auto done) { core_->SimilarCases(ViaHub(kCia), search, done); });
  };
  EXPECT_THAT(once(), IsOk());
  EXPECT_THAT(once(), IsOk());
  EXPECT_THAT(once(), StatusIs(absl::StatusCode::kResourceExhausted, "similar-case searches"));
  Restart();
  EXPECT_THAT(once(), StatusIs(absl::StatusCode::kResourceExhausted, "similar-case searches"));
  clock_.AdvanceSeconds(86400);
  EXPECT_THAT(once(), IsOk());
}

}  // namespace
}  // namespace pmdb::core
