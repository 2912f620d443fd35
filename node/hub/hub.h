// The national hub's logic, with no transport in it: authorizes the researcher or clinician,
// fans the question out to every configured region concurrently (each call with the hub's
// deadline and the end user's identity), merges what came back (merge.h), audits, and hands
// back one part per region. A region that did not answer is reported, never counted. Contact
// requests go to the one region named in the case reference or request id.
//
// Regions are reached through RegionClient (region_client.h), so the hub is tested with
// in-memory regions and served over gRPC by node/transport. Thread-safe; the audit log must
// outlive the hub.
#ifndef PMDB_NODE_HUB_HUB_H_
#define PMDB_NODE_HUB_HUB_H_

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "node/base/clock.h"
#include "node/base/metrics.h"
#include "node/call/caller.h"
#include "node/call/finish.h"
#include "node/hub/budget_mirror.h"
#include "node/hub/region_client.h"
#include "node/hub/witness.h"
#include "pmdb/v1/federation.pb.h"
#include "pmdb/v1/national.pb.h"
#include "security/audit.h"
#include "security/disclosure.h"
#include "security/policy.h"

namespace pmdb::hub {

using call::Credentials;
using Deadline = std::chrono::system_clock::time_point;

struct HubSettings {
  std::string federation;
  std::chrono::milliseconds deadline{2000};  // per region and call
  security::DisclosureRules disclosure;      // min_count is the national floor
  // National totals (counts, breakdowns, frequencies) by secure aggregation with one noise
  // (national.proto) unless a request asks per_region; false: always each region's own part.
  bool national = true;
};

// How many rounds a national total may take: a region that drops out of one is left out of the
// next.
inline constexpr int kMaxNationalRounds = 3;

// The most matches a federated similar-case answer holds.
inline constexpr uint32_t kMaxFederatedTop = 100;

class Hub {
 public:
  // With a `witness` (which must outlive the hub), regions whose audit log it caught rolled
  // back are not asked any more (witness.h).
  Hub(HubSettings settings, std::vector<Region> regions, security::AuditLog* audit,
      const Clock* clock = &SystemClock(), Witness* witness = nullptr);

  // Asks every region not already refused for its audit head and checks it with the witness;
  // `done` gets what was found wrong (one line per region), once every region has answered or
  // failed. A region that cannot be reached is not a problem here; it is asked next time.
  void CheckAuditHeads(Deadline deadline, std::function<void(std::vector<std::string>)> done);

  // Counts every region's outcome and the hub's own budget refusals there from now on (it
  // must outlive the hub).
  void set_metrics(metrics::Registry* registry);

  // Rebuilds the account of researchers' spending (budget_mirror.h) from the hub's own audit
  // entries of the last year, in order.
  void Replay(const std::vector<v1::AuditEntry>& entries);

  // `deadline` is when the caller stops waiting; each region gets the sooner of it and the
  // hub's own per-region deadline. `done` runs once the audit entry is durable.
  // REQUIRES: `request` stays valid until `done` has run (the regions read it until then).
  void Info(const Credentials& who, Deadline deadline, const v1::InfoRequest& request,
            Done<v1::FederationInfo> done);
  void Count(const Credentials& who, Deadline deadline, const v1::CountRequest& request,
             Done<v1::FederatedCount> done);
  void Breakdown(const Credentials& who, Deadline deadline, const v1::BreakdownRequest& request,
                 Done<v1::FederatedBreakdown> done);
  void Frequency(const Credentials& who, Deadline deadline, const v1::FrequencyRequest& request,
                 Done<v1::FederatedFrequency> done);
  // A catalogue's batch: each region gets the hub's deadline plus the time its answer waits
  // per site (core::kCatalogueSiteAllowance).
  void Catalogue(const Credentials& who, Deadline deadline, const v1::CatalogueRequest& request,
                 Done<v1::FederatedCatalogue> done);
  void SimilarCases(const Credentials& who, Deadline deadline,
                    const v1::SimilarCasesRequest& request, Done<v1::FederatedSimilarCases> done);
  void RequestContact(const Credentials& who, Deadline deadline, const v1::ContactRequest& request,
                      Done<v1::ContactTicket> done);
  void ContactStatus(const Credentials& who, Deadline deadline,
                     const v1::ContactStatusRequest& request, Done<v1::ContactTicket> done);

 private:
  // What a counted question is, for the account of spending: its kind, canonical form and shape
  // (`key`), how many counts its release costs, and whether it is only a cost quote.
  struct Pricing {
    std::string key;
    uint32_t units = 1;
    bool cost_only = false;
    uint32_t sigma_centi = 0;  // the noise the question names (0: each region's own)
  };

  // One federated question from authorization to the audited reply. With `pricing`, a new
  // question no region could afford is refused at once, and what every region charged is kept.
  template <typename Request, typename Answer, typename Reply, typename Merge>
  void Federate(const Credentials& who, Deadline deadline, security::Method method,
                const std::string& question, const absl::Status& precheck, const Request& request,
                void (RegionClient::*ask)(const Outgoing&, const Request&, Done<Answer>),
                Merge merge, Done<Reply> done, const Pricing* pricing = nullptr,
                std::chrono::milliseconds longer = {});
  // A national total (national.proto): rounds of NationalShare among the regions that can
  // take part, each round without those that failed in the one before, until one round has every
  // member's share or kMaxNationalRounds have been asked; `merge` makes the reply from the
  // regions' outcomes (the last round's shares, the others' failures) and the rounds asked.
  template <typename Reply, typename Merge>
  void National(const Credentials& who, Deadline deadline, security::Method method,
                const std::string& question, const absl::Status& precheck,
                v1::NationalShareRequest request, const Pricing& pricing, Merge merge,
                Done<Reply> done);
  // Whether `request` is answered by one national total (the hub's default) rather than by the
  // regions' own parts: asked for per region, or only priced, it is not.
  template <typename Request>
  bool Nationally(const Request& request) const {
    return settings_.national && !request.per_region() && !request.cost_only();
  }
  // One call passed on to the region `region_id`, whose outcome is the reply.
  template <typename Request>
  void Forward(const Credentials& who, Deadline deadline, security::Method method,
               const absl::StatusOr<std::string>& region_id, const std::string& question,
               const Request& request,
               void (RegionClient::*ask)(const Outgoing&, const Request&, Done<v1::ContactTicket>),
               Done<v1::ContactTicket> done);
  // The sooner of the caller's deadline and the hub's own per-region one (plus `longer`).
  Deadline RegionDeadline(Deadline caller, std::chrono::milliseconds longer = {}) const;
  // The regions to ask, each with its client, or with nothing when the witness refuses it.
  std::vector<Region> Askable() const;

  HubSettings settings_;
  security::Server here_;
  std::vector<Region> regions_;
  security::AuditLog* audit_;
  const Clock* clock_;
  Witness* witness_;
  std::atomic<metrics::Registry*> metrics_{nullptr};
  BudgetMirror mirror_;
  // Regions that refused a researcher a kind of national share (their sharing policy, a spent
  // budget), by (region, researcher, kind), until when: left out of the first round of that
  // researcher's next such totals, so that a refusal does not make the others answer twice.
  mutable std::mutex refusals_mu_;
  std::map<std::tuple<std::string, std::string, int>, std::pair<int64_t, absl::Status>> refusals_
      ABSL_GUARDED_BY(refusals_mu_);
  // What a national round needs of each region, from its Info: whether it gives shares, its
  // noise and collusion terms, its node's certificate; asked again after kNationalTermsSeconds
  // or when a round said the certificate was not its current one.
  struct NationalTerms {
    bool participating = false;
    bool shares = false;
    uint32_t sigma_centi = 0;
    uint32_t collusion = 0;
    std::string certificate;
    int64_t at = 0;
  };
  std::map<std::string, NationalTerms> terms_ ABSL_GUARDED_BY(refusals_mu_);
};

// How long a region's national terms (its Info) are used before they are asked again.
inline constexpr int64_t kNationalTermsSeconds = 300;

// How long a region's refusal of a national share keeps it out of a researcher's next rounds.
inline constexpr int64_t kNationalRefusalSeconds = 600;

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_HUB_H_
