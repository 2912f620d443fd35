// The hub's own account of researchers' privacy spending. Each region keeps the budgets that
// count (security/privacy_budget.h); the hub keeps a mirror of every researcher's own budget at
// every region, from what each region charged and reported in its answers, so that it can
//   * refuse a new question at once, without asking anyone, when no region could afford it for
//     the researcher (and say when each region will), and
//   * keep, in its own audit log, what every federated answer cost in every region.
//
// Only the researcher's own limits are mirrored: they are spent by nothing but the researcher's
// answers, all of which pass through the hub, so the mirror is exact (up to the clocks of hub
// and region). Limits reported more than ten minutes ago are not trusted to refuse (an operator
// may have raised them); cost quotes refresh them too. A question is compared by its canonical
// text as received, not as each region resolves it (replaced HPO ids), so the hub may refuse a
// rewording that a region would recognize as a free repeat; the refusal says so. A question is
// "new" when the hub has never passed on the same kind, canonical form and shape for anyone: a
// region can have released it before only through the hub. A question the hub has passed on before
// may be a free repeat at a region, so it is always asked.
//
// Thread-safe.
#ifndef PMDB_NODE_HUB_BUDGET_MIRROR_H_
#define PMDB_NODE_HUB_BUDGET_MIRROR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pmdb/v1/answers.pb.h"

namespace pmdb::hub {

// What one region did for one answer: what it charged, its noise and the researcher's budgets
// it reported (BudgetState named "researcher"; empty when the answer carried none).
struct RegionCharge {
  std::string region;
  uint64_t rho_micros = 0;
  double sigma = 0;  // of a count; 0: not differentially private
  std::vector<v1::BudgetState> budgets;
};

class BudgetMirror {
 public:
  // `key`: the question's kind, canonical form and shape (Hub::Pricing). Marks it as passed on
  // when any region charged or answered.
  void Record(const std::string& researcher, const std::string& key, int64_t at_unix,
              const std::vector<RegionCharge>& charges, bool answered);

  // When every region in `regions` would refuse the new question `key` of `units` counts for
  // the researcher: why, region by region, with when enough is free again. Nothing otherwise,
  // and nothing for a question passed on before or a region the mirror knows too little of.
  // `units` is the release's L2 sensitivity squared, at each region's own count sigma, or at
  // `sigma_centi` when the question names its noise (a catalogue).
  std::optional<std::string> WouldAllRefuse(const std::string& researcher, const std::string& key,
                                            uint32_t units, const std::vector<std::string>& regions,
                                            int64_t now_unix, uint32_t sigma_centi = 0) const;

 private:
  struct Limit {
    uint64_t micros;
    uint32_t days;
  };
  struct View {
    std::deque<std::pair<int64_t, uint64_t>> spends;  // oldest first; a year at most
    std::vector<Limit> limits;                        // the researcher's, as last reported
    double sigma = 0;
    int64_t learned_at = 0;  // when the limits were last reported
  };

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, View>> views_ ABSL_GUARDED_BY(mu_);  // who, region
  std::set<std::string> passed_on_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_BUDGET_MIRROR_H_
