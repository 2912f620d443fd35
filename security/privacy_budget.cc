#include "security/privacy_budget.h"

#include <algorithm>

#include "node/base/strings.h"
#include "security/dp.h"

namespace pmdb::security {

PrivacyLedger::PrivacyLedger(PrivacyBudgets budgets) : budgets_(std::move(budgets)) {
  for (const Project& p : budgets_.projects) {
    projects_[p.id] = &p;
    for (const std::string& m : p.members) project_of_.emplace(m, &p);
  }
}

absl::StatusOr<std::string> PrivacyLedger::ProjectOf(const Identity& researcher,
                                                     const std::string& region) const {
  auto it = project_of_.find(researcher.name);
  if (it == project_of_.end()) {
    return absl::PermissionDeniedError(
        StrCat("researcher ", researcher.name, " is in no approved project of region ", region,
               "; the region's operator adds members under [[projects]]"));
  }
  return it->second->id;
}

int64_t PrivacyLedger::WindowOf(int64_t unix, uint32_t period_days) {
  return unix / (int64_t{period_days} * 86400);
}

std::vector<std::pair<PrivacyLedger::Account*, PrivacyLedger::Limit>> PrivacyLedger::AccountsFor(
    const Spend& spend) {
  std::vector<std::pair<Account*, Limit>> out;
  out.push_back({&researchers_[spend.researcher],
                 {"researcher", budgets_.researcher_micros, budgets_.period_days}});
  auto p = projects_.find(spend.project);
  if (p != projects_.end()) {
    out.push_back({&project_accounts_[spend.project],
                   {StrCat("project ", spend.project), p->second->budget_micros,
                    p->second->period_days}});
  }
  out.push_back({&region_, {"region", budgets_.region_micros, budgets_.period_days}});
  return out;
}

absl::StatusOr<uint64_t> PrivacyLedger::Charge(const Spend& spend, int64_t now_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spend.micros == 0 || released_.count(spend.release) > 0) return 0;
  auto accounts = AccountsFor(spend);
  for (auto& [account, limit] : accounts) {
    int64_t window = WindowOf(now_unix, limit.period_days);
    if (account->window != window) *account = Account{.window = window};
    if (account->spent + spend.micros > limit.micros) {
      int64_t renews = (window + 1) * int64_t{limit.period_days} * 86400;
      return absl::ResourceExhaustedError(StrCat(
          "the ", limit.name, " privacy budget (rho ", FormatMicros(limit.micros), " per ",
          limit.period_days, " days) is used up: ", FormatMicros(limit.micros - account->spent),
          " left, this answer needs ", FormatMicros(spend.micros), "; it renews at ",
          Rfc3339(renews)));
    }
  }
  for (auto& [account, limit] : accounts) account->spent += spend.micros;
  released_.insert(spend.release);
  return spend.micros;
}

void PrivacyLedger::Replay(const Spend& spend, int64_t at_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!spend.release.empty()) released_.insert(spend.release);
  if (spend.micros == 0) return;
  for (auto& [account, limit] : AccountsFor(spend)) {
    int64_t window = WindowOf(at_unix, limit.period_days);
    if (account->window > window) continue;  // an older window than the one kept
    if (account->window != window) *account = Account{.window = window};
    account->spent += spend.micros;
  }
}

v1::BudgetState PrivacyLedger::StateOf(const std::string& name, const Account* account,
                                       uint64_t limit, uint32_t period_days, int64_t now_unix) {
  int64_t window = WindowOf(now_unix, period_days);
  uint64_t spent = account != nullptr && account->window == window ? account->spent : 0;
  v1::BudgetState s;
  s.set_name(name);
  s.set_spent_rho(static_cast<double>(spent) / 1e6);
  s.set_limit_rho(static_cast<double>(limit) / 1e6);
  s.set_renews_unix((window + 1) * int64_t{period_days} * 86400);
  return s;
}

std::vector<v1::BudgetState> PrivacyLedger::States(const std::string& researcher,
                                                   const std::string& project,
                                                   int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::BudgetState> out;
  auto r = researchers_.find(researcher);
  out.push_back(StateOf("researcher", r == researchers_.end() ? nullptr : &r->second,
                        budgets_.researcher_micros, budgets_.period_days, now_unix));
  auto p = projects_.find(project);
  if (p != projects_.end()) {
    auto a = project_accounts_.find(project);
    out.push_back(StateOf(StrCat("project ", project),
                          a == project_accounts_.end() ? nullptr : &a->second,
                          p->second->budget_micros, p->second->period_days, now_unix));
  }
  return out;
}

std::vector<v1::BudgetState> PrivacyLedger::RegionStates(int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::BudgetState> out;
  out.push_back(StateOf("region", &region_, budgets_.region_micros, budgets_.period_days, now_unix));
  for (const Project& p : budgets_.projects) {
    auto a = project_accounts_.find(p.id);
    out.push_back(StateOf(StrCat("project ", p.id),
                          a == project_accounts_.end() ? nullptr : &a->second, p.budget_micros,
                          p.period_days, now_unix));
  }
  return out;
}

int64_t PrivacyLedger::OldestOpenWindowStart(int64_t now_unix) const {
  auto start = [&](uint32_t days) { return WindowOf(now_unix, days) * int64_t{days} * 86400; };
  int64_t oldest = start(budgets_.period_days);
  for (const Project& p : budgets_.projects) oldest = std::min(oldest, start(p.period_days));
  return oldest;
}

}  // namespace pmdb::security
