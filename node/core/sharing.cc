#include "node/core/sharing.h"

#include <algorithm>

#include "node/base/strings.h"
#include "query/canonical.h"
#include "query/parser.h"
#include "security/policy.h"

namespace pmdb::core {
namespace {

constexpr char kSimilar[] = "similar";

}  // namespace

v1::Purpose PurposeOf(security::Role role) {
  return role == security::Role::kClinician ? v1::CARE : v1::RESEARCH;
}

SharingPolicy::SharingPolicy(const NodeSettings& settings)
    : settings_(settings),
      budget_(settings.disclosure),
      searches_(settings.clinician.daily_searches, "similar-case searches"),
      ledger_(settings.privacy) {}

absl::StatusOr<std::string> SharingPolicy::ProjectFor(const call::Caller& caller) const {
  return ledger_.ProjectOf(caller.user, settings_.region);
}

absl::StatusOr<uint64_t> SharingPolicy::ChargeRelease(const call::Caller& caller,
                                                      const std::string& project,
                                                      const std::string& fingerprint,
                                                      uint64_t micros, int64_t now_unix) {
  auto charged = ledger_.Charge({caller.user.uri, project, fingerprint, micros}, now_unix);
  if (!charged.ok()) {
    if (metrics::Registry* m = metrics_.load()) {
      m->Add("pmdb_budget_refusals_total", {{"project", project}});
    }
    return absl::ResourceExhaustedError(
        StrCat("region ", settings_.region, ": ", std::string(charged.status().message())));
  }
  return charged;
}

absl::StatusOr<uint64_t> SharingPolicy::PriceRelease(const call::Caller& caller,
                                                     const std::string& project,
                                                     const std::string& fingerprint,
                                                     uint64_t micros, int64_t now_unix) const {
  auto price = ledger_.Price({caller.user.uri, project, fingerprint, micros}, now_unix);
  if (!price.ok()) {
    return absl::ResourceExhaustedError(
        StrCat("region ", settings_.region, ": ", std::string(price.status().message())));
  }
  return price;
}

void SharingPolicy::RefundRelease(const std::string& researcher, const std::string& project,
                                  const std::string& fingerprint, uint64_t micros,
                                  int64_t at_unix) {
  ledger_.Refund({researcher, project, fingerprint, micros}, at_unix);
}

std::vector<v1::BudgetState> SharingPolicy::Budgets(const call::Caller& caller,
                                                    const std::string& project,
                                                    int64_t now_unix) const {
  return ledger_.States(caller.user.uri, project, now_unix);
}

int64_t SharingPolicy::RechargeFrom(int64_t now_unix) const {
  return std::min(now_unix / 86400 * 86400, ledger_.ReplayFrom(now_unix));
}

absl::StatusOr<const Sharing*> SharingPolicy::SharedWith(const call::Caller& caller) const {
  if (!settings_.participate) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " does not take part in federated questions"));
  }
  std::string role = security::RoleName(caller.user.role);
  auto share = settings_.sharing.find(role);
  if (share == settings_.sharing.end()) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " shares nothing with a ", role));
  }
  return &share->second;
}

absl::Status SharingPolicy::CheckAggregate(const call::Caller& caller, std::string_view kind,
                                           const v1::Criterion& criterion,
                                           const std::string& canonical, int64_t now_unix) {
  auto share = SharedWith(caller);
  if (!share.ok()) return share.status();
  std::string role = security::RoleName(caller.user.role);
  if ((*share)->kinds.count(std::string(kind)) == 0) {
    return absl::PermissionDeniedError(
        StrCat("region ", settings_.region, " does not share ", kind, " results with a ", role));
  }
  std::vector<query::Leaf> leaves = query::Leaves(criterion);
  if (leaves.empty()) return absl::InvalidArgumentError("the question has no criteria");
  std::vector<std::string> texts;
  for (query::Leaf& leaf : leaves) {
    if ((*share)->criteria.count(leaf.kind) == 0) {
      return absl::PermissionDeniedError(StrCat("region ", settings_.region, " does not answer ",
                                                leaf.kind, "() criteria for a ", role));
    }
    texts.push_back(std::move(leaf.text));
  }
  return budget_.Charge(caller.user.uri, canonical, std::move(texts), now_unix);
}

absl::Status SharingPolicy::CheckSimilar(const call::Caller& caller, int64_t now_unix) {
  auto share = SharedWith(caller);
  if (!settings_.participate) return share.status();
  if (!share.ok() || (*share)->kinds.count(kSimilar) == 0) {
    return absl::PermissionDeniedError(StrCat("region ", settings_.region,
                                              " does not share similar cases with a ",
                                              security::RoleName(caller.user.role)));
  }
  return searches_.Charge(caller.user.uri, now_unix);
}

bool SharingPolicy::MayReturn(const std::string& clinician, uint32_t ordinal,
                              int64_t now_unix) const {
  const ClinicianSharing& c = settings_.clinician;
  if (c.per_person_matches == 0) return true;
  std::lock_guard<std::mutex> lock(returned_mu_);
  auto who = returned_.find(clinician);
  if (who == returned_.end()) return true;
  auto times = who->second.find(ordinal);
  if (times == who->second.end()) return true;
  const int64_t from = now_unix - int64_t{c.per_person_days} * 86400;
  size_t recent = 0;
  for (int64_t t : times->second) recent += t > from ? 1 : 0;
  return recent < c.per_person_matches;
}

std::vector<uint32_t> SharingPolicy::NotReturnable(const std::string& clinician,
                                                   int64_t now_unix) const {
  std::vector<uint32_t> out;
  const ClinicianSharing& c = settings_.clinician;
  if (c.per_person_matches == 0) return out;
  const int64_t from = now_unix - int64_t{c.per_person_days} * 86400;
  std::lock_guard<std::mutex> lock(returned_mu_);
  auto who = returned_.find(clinician);
  if (who == returned_.end()) return out;
  for (const auto& [ordinal, times] : who->second) {
    size_t recent = 0;
    for (int64_t t : times) recent += t > from ? 1 : 0;
    if (recent >= c.per_person_matches) out.push_back(ordinal);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SharingPolicy::Returned(const std::string& clinician, const std::vector<uint32_t>& ordinals,
                             int64_t at_unix) {
  const int64_t from = at_unix - int64_t{settings_.clinician.per_person_days} * 86400;
  std::lock_guard<std::mutex> lock(returned_mu_);
  auto& people = returned_[clinician];
  for (uint32_t o : ordinals) {
    std::deque<int64_t>& times = people[o];
    times.push_back(at_unix);
    while (!times.empty() && times.front() <= from) times.pop_front();
  }
}

absl::Status SharingPolicy::CheckContact(const call::Caller& caller) const {
  auto share = SharedWith(caller);
  if (!share.ok() || (*share)->kinds.count(kSimilar) == 0) {
    return absl::PermissionDeniedError(StrCat("region ", settings_.region,
                                              " takes no contact requests from a ",
                                              security::RoleName(caller.user.role)));
  }
  return absl::OkStatus();
}

void SharingPolicy::Describe(const call::Caller& caller, v1::RegionInfo* info) const {
  info->set_participating(settings_.participate);
  auto share = SharedWith(caller);
  if (!share.ok()) return;
  for (const std::string& k : (*share)->kinds) info->add_kinds(k);
  for (const std::string& c : (*share)->criteria) info->add_criteria(c);
}

void SharingPolicy::Recharge(const std::vector<v1::AuditEntry>& entries, int64_t now_unix) {
  const std::string similar = security::MethodName(security::Method::kRegionSimilarCases);
  const int64_t today = now_unix / 86400 * 86400;
  for (const v1::AuditEntry& e : entries) {
    if (e.outcome() != "ok") continue;
    int64_t at = e.time_unix_micros() / 1000000;
    if (!e.release().empty() || e.rho_micros() > 0) {
      ledger_.Replay({e.caller(), e.project(), e.release(), e.rho_micros()}, at);
    }
    if (e.method() == similar) {
      Returned(e.caller(), {e.individuals().begin(), e.individuals().end()}, at);
    }
    if (at < today) continue;  // the daily limits count today only
    if (e.method() == similar) {
      (void)searches_.Charge(e.caller(), at);
      continue;
    }
    if (!e.method().starts_with("RegionService/") || e.query().empty()) continue;
    auto criterion = query::ParseCriterion(e.query());
    if (!criterion.ok()) continue;
    std::vector<std::string> leaves;
    for (query::Leaf& leaf : query::Leaves(*criterion)) leaves.push_back(std::move(leaf.text));
    (void)budget_.Charge(e.caller(), query::CanonicalText(*criterion), std::move(leaves), at);
  }
}

}  // namespace pmdb::core
