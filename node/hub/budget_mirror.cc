#include "node/hub/budget_mirror.h"

#include <algorithm>
#include <cmath>

#include "node/base/strings.h"
#include "security/dp.h"

namespace pmdb::hub {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kYear = 365 * kDay;
// Limits and scale last reported longer ago than this are not trusted to refuse: an operator
// may have raised a budget or changed sigma since.
constexpr int64_t kStaleAfter = 10 * 60;

uint64_t SpentWithin(const std::deque<std::pair<int64_t, uint64_t>>& spends, uint32_t days,
                     int64_t now) {
  uint64_t spent = 0;
  for (const auto& [at, micros] : spends) spent += at > now - int64_t{days} * kDay ? micros : 0;
  return spent;
}

}  // namespace

void BudgetMirror::Record(const std::string& researcher, const std::string& key, int64_t at_unix,
                          const std::vector<RegionCharge>& charges, bool answered) {
  std::lock_guard<std::mutex> lock(mu_);
  if (answered) passed_on_.insert(key);
  for (const RegionCharge& c : charges) {
    View& v = views_[researcher][c.region];
    if (c.rho_micros > 0) v.spends.push_back({at_unix, c.rho_micros});
    while (!v.spends.empty() && v.spends.front().first <= at_unix - kYear) v.spends.pop_front();
    if (c.sigma > 0) v.sigma = c.sigma;
    if (!c.budgets.empty()) v.learned_at = at_unix;
    std::vector<Limit> limits;
    for (const v1::BudgetState& b : c.budgets) {
      if (b.name() != "researcher") continue;
      limits.push_back({static_cast<uint64_t>(std::llround(b.limit_rho() * 1e6)),
                        b.period_days() == 0 ? 30u : b.period_days()});
    }
    if (!limits.empty()) v.limits = std::move(limits);
  }
}

std::optional<std::string> BudgetMirror::WouldAllRefuse(const std::string& researcher,
                                                        const std::string& key, uint32_t units,
                                                        const std::vector<std::string>& regions,
                                                        int64_t now_unix,
                                                        uint32_t sigma_centi) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (regions.empty() || passed_on_.count(key) > 0) return std::nullopt;
  auto who = views_.find(researcher);
  if (who == views_.end()) return std::nullopt;
  std::string why;
  for (const std::string& region : regions) {
    auto it = who->second.find(region);
    if (it == who->second.end() || it->second.limits.empty() || it->second.sigma <= 0) {
      return std::nullopt;  // unknown, or not differentially private: it may well answer
    }
    const View& v = it->second;
    if (now_unix - v.learned_at > kStaleAfter) return std::nullopt;  // the region may have changed
    // As the region prices it: one cost for all the cells one person can be in.
    const uint64_t cost = security::ZcdpCostMicros(
        units,
        {sigma_centi > 0 ? sigma_centi : static_cast<uint32_t>(std::llround(v.sigma * 100))});
    std::optional<int64_t> free_at;
    for (const Limit& limit : v.limits) {
      uint64_t spent = SpentWithin(v.spends, limit.days, now_unix);
      if (spent + cost <= limit.micros) continue;
      // The first time the oldest spends have left the window far enough.
      int64_t at = INT64_MAX;
      uint64_t left = spent;
      for (const auto& [t, micros] : v.spends) {
        if (t <= now_unix - int64_t{limit.days} * kDay) continue;
        left -= micros;
        if (left + cost <= limit.micros) {
          at = t + int64_t{limit.days} * kDay;
          break;
        }
      }
      free_at = std::max(free_at.value_or(0), at);
    }
    if (!free_at.has_value()) return std::nullopt;  // this region could afford it
    StrAppend(&why, why.empty() ? "" : "; ", region,
              *free_at == INT64_MAX ? std::string(": more than your whole budget there")
                                    : StrCat(": enough free again at ", Rfc3339(*free_at)));
  }
  return StrCat(
      "refused at the hub: this new question needs more of your researcher privacy budget than "
      "any region has left (",
      why,
      "); a question answered before may still be asked, and --cost shows each region's "
      "own account");
}

}  // namespace pmdb::hub
