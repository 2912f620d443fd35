#include "security/privacy_budget.h"

#include <algorithm>
#include <limits>

#include "node/base/strings.h"
#include "security/dp.h"

namespace pmdb::security {
namespace {

constexpr int64_t kDay = 86400;
constexpr uint64_t kWhole = 1'000'000;  // a share of one, in millionths

std::string Per(uint32_t days) {
  return days == kYearDays ? std::string("per year") : StrCat("per ", days, " days");
}

}  // namespace

PrivacyLedger::PrivacyLedger(PrivacyBudgets budgets) : budgets_(std::move(budgets)) {
  uint64_t given = 0;
  size_t unset = 0;
  for (const Project& p : budgets_.projects) {
    projects_[p.id] = &p;
    for (const std::string& m : p.members) project_of_.emplace(m, &p);
    given += p.share_millionths;
    unset += p.share_millionths == 0 ? 1 : 0;
  }
  uint64_t rest = given >= kWhole ? 0 : kWhole - given;
  for (const Project& p : budgets_.projects) {
    shares_[p.id] = p.share_millionths > 0 ? p.share_millionths : rest / std::max<size_t>(unset, 1);
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

uint64_t PrivacyLedger::ShareOf(const std::string& project) const {
  auto it = shares_.find(project);
  return it == shares_.end() ? 0 : it->second;
}

std::vector<PrivacyLedger::Limit> PrivacyLedger::ResearcherLimits() const {
  return {{"researcher", budgets_.researcher_micros, budgets_.period_days},
          {"researcher", budgets_.researcher_yearly_micros, kYearDays}};
}

std::vector<PrivacyLedger::Limit> PrivacyLedger::ProjectLimits(const Project& p) const {
  uint64_t share = ShareOf(p.id);
  auto part = [&](uint64_t micros) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(micros) * share / kWhole);
  };
  std::string shared = StrCat("project ", p.id, "'s share of the region");
  return {{StrCat("project ", p.id), p.budget_micros, p.period_days},
          {shared, part(budgets_.region_micros), budgets_.period_days},
          {shared, part(budgets_.region_yearly_micros), kYearDays}};
}

std::vector<PrivacyLedger::Limit> PrivacyLedger::RegionLimits() const {
  return {{"region", budgets_.region_micros, budgets_.period_days},
          {"region", budgets_.region_yearly_micros, kYearDays}};
}

std::vector<PrivacyLedger::Charged> PrivacyLedger::AccountsFor(const Spend& spend) {
  std::vector<Charged> out;
  out.push_back({&researchers_[spend.researcher], ResearcherLimits()});
  auto p = projects_.find(spend.project);
  if (p != projects_.end()) {
    out.push_back({&project_accounts_[spend.project], ProjectLimits(*p->second)});
  }
  out.push_back({&region_, RegionLimits()});
  return out;
}

uint64_t PrivacyLedger::SpentWithin(const Account& a, uint32_t days, int64_t now_unix) {
  const int64_t from = now_unix - int64_t{days} * kDay;
  uint64_t spent = 0;
  for (auto it = a.rbegin(); it != a.rend() && it->first > from; ++it) spent += it->second;
  return spent;
}

int64_t PrivacyLedger::FreeAt(const Account& a, const Limit& limit, uint64_t micros,
                              int64_t now_unix) {
  if (micros > limit.micros) return std::numeric_limits<int64_t>::max();
  const int64_t window = int64_t{limit.days} * kDay;
  uint64_t spent = SpentWithin(a, limit.days, now_unix);
  for (const auto& [at, m] : a) {
    if (at <= now_unix - window) continue;  // already outside the window
    if (spent + micros <= limit.micros) break;
    spent -= m;
    if (spent + micros <= limit.micros) return at + window;
  }
  return now_unix;
}

void PrivacyLedger::Add(Account& a, int64_t at_unix, uint64_t micros, int64_t now_unix) {
  auto pos = std::upper_bound(a.begin(), a.end(), std::make_pair(at_unix, UINT64_MAX));
  a.insert(pos, {at_unix, micros});
  const int64_t oldest = now_unix - int64_t{kYearDays} * kDay;
  while (!a.empty() && a.front().first <= oldest) a.pop_front();
}

absl::StatusOr<uint64_t> PrivacyLedger::Price(const Spend& spend, int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  return PriceLocked(spend, now_unix);
}

absl::StatusOr<uint64_t> PrivacyLedger::PriceLocked(const Spend& spend, int64_t now_unix) const {
  if (spend.micros == 0 || released_.count(spend.release) > 0) return 0;
  // AccountsFor creates empty accounts; a price looks at copies so that it changes nothing.
  static const Account kNone;
  auto find = [](const std::map<std::string, Account>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? &kNone : &it->second;
  };
  std::vector<std::pair<const Account*, std::vector<Limit>>> accounts;
  accounts.push_back({find(researchers_, spend.researcher), ResearcherLimits()});
  auto p = projects_.find(spend.project);
  if (p != projects_.end()) {
    accounts.push_back({find(project_accounts_, spend.project), ProjectLimits(*p->second)});
  }
  accounts.push_back({&region_, RegionLimits()});
  for (const auto& [account, limits] : accounts) {
    for (const Limit& limit : limits) {
      uint64_t spent = SpentWithin(*account, limit.days, now_unix);
      if (spent + spend.micros <= limit.micros) continue;
      int64_t free_at = FreeAt(*account, limit, spend.micros, now_unix);
      return absl::ResourceExhaustedError(
          StrCat("the ", limit.name, " privacy budget (rho ", FormatMicros(limit.micros), " ",
                 Per(limit.days),
                 ") is used up: ", FormatMicros(limit.micros > spent ? limit.micros - spent : 0),
                 " left, this answer needs ", FormatMicros(spend.micros),
                 free_at == std::numeric_limits<int64_t>::max()
                     ? std::string("; that is more than the whole budget")
                     : StrCat("; enough of it is free again at ", Rfc3339(free_at))));
    }
  }
  return spend.micros;
}

absl::StatusOr<uint64_t> PrivacyLedger::Charge(const Spend& spend, int64_t now_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  auto price = PriceLocked(spend, now_unix);
  if (!price.ok() || *price == 0) return price;
  for (const Charged& c : AccountsFor(spend)) Add(*c.account, now_unix, spend.micros, now_unix);
  released_.insert(spend.release);
  return spend.micros;
}

void PrivacyLedger::Refund(const Spend& spend, int64_t at_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spend.micros == 0) return;
  released_.erase(spend.release);
  for (const Charged& c : AccountsFor(spend)) {
    auto it =
        std::find(c.account->begin(), c.account->end(), std::make_pair(at_unix, spend.micros));
    if (it != c.account->end()) c.account->erase(it);
  }
}

void PrivacyLedger::Replay(const Spend& spend, int64_t at_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!spend.release.empty()) released_.insert(spend.release);
  if (spend.micros == 0) return;
  for (const Charged& c : AccountsFor(spend)) Add(*c.account, at_unix, spend.micros, at_unix);
}

v1::BudgetState PrivacyLedger::StateOf(const Account* account, const Limit& limit,
                                       int64_t now_unix) {
  static const Account kNone;
  const Account& a = account != nullptr ? *account : kNone;
  uint64_t spent = SpentWithin(a, limit.days, now_unix);
  v1::BudgetState s;
  s.set_name(limit.name);
  s.set_spent_rho(static_cast<double>(spent) / 1e6);
  s.set_limit_rho(static_cast<double>(limit.micros) / 1e6);
  s.set_period_days(limit.days);
  // Whole again once the latest spend in the window has left it.
  s.set_renews_unix(spent == 0 ? now_unix : a.back().first + int64_t{limit.days} * kDay);
  return s;
}

std::vector<v1::BudgetState> PrivacyLedger::States(const std::string& researcher,
                                                   const std::string& project,
                                                   int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::BudgetState> out;
  auto r = researchers_.find(researcher);
  for (const Limit& l : ResearcherLimits()) {
    out.push_back(StateOf(r == researchers_.end() ? nullptr : &r->second, l, now_unix));
  }
  auto p = projects_.find(project);
  if (p != projects_.end()) {
    auto a = project_accounts_.find(project);
    for (const Limit& l : ProjectLimits(*p->second)) {
      out.push_back(StateOf(a == project_accounts_.end() ? nullptr : &a->second, l, now_unix));
    }
  }
  return out;
}

std::vector<v1::BudgetState> PrivacyLedger::RegionStates(int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::BudgetState> out;
  for (const Limit& l : RegionLimits()) out.push_back(StateOf(&region_, l, now_unix));
  for (const Project& p : budgets_.projects) {
    auto a = project_accounts_.find(p.id);
    for (const Limit& l : ProjectLimits(p)) {
      out.push_back(StateOf(a == project_accounts_.end() ? nullptr : &a->second, l, now_unix));
    }
  }
  return out;
}

}  // namespace pmdb::security
