#include "node/hub/hub.h"

#include <atomic>
#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/hub/merge.h"
#include "node/vocab/case_query.h"
#include "query/canonical.h"
#include "query/engine.h"
#include "query/limits.h"
#include "query/parser.h"
#include "query/prepare.h"
#include "security/audit.h"
#include "security/case_ref.h"
#include "security/secure_sum.h"

namespace pmdb::hub {
namespace {

using security::Method;

// Asks every region and runs `done` with all their results once the last one has answered or
// failed. Results keep the configured order of the regions.
template <typename Request, typename Answer>
void AskAll(const std::vector<Region>& regions, const Outgoing& out, const Request& request,
            void (RegionClient::*ask)(const Outgoing&, const Request&, Done<Answer>),
            std::function<void(std::vector<RegionResult<Answer>>)> done) {
  struct Gather {
    std::vector<RegionResult<Answer>> results;
    std::atomic<size_t> remaining{0};
    std::function<void(std::vector<RegionResult<Answer>>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(regions.size());
  gather->remaining = regions.size();
  gather->done = std::move(done);
  if (regions.empty()) {
    gather->done({});
    return;
  }
  for (size_t i = 0; i < regions.size(); ++i) {
    gather->results[i].region = regions[i].id;
    if (regions[i].client == nullptr) {  // refused by the witness: reported, never asked
      gather->results[i].answer = absl::UnavailableError(regions[i].refusal);
      if (gather->remaining.fetch_sub(1) == 1) gather->done(std::move(gather->results));
      continue;
    }
    ((*regions[i].client).*ask)(out, request, [gather, i](absl::StatusOr<Answer> a) {
      gather->results[i].answer = std::move(a);
      if (gather->remaining.fetch_sub(1) == 1) gather->done(std::move(gather->results));
    });
  }
}

// The question as the audit log records it, or nothing when it is over the limits (it is then
// refused with `*limited`, before it is recorded in full or asked of anyone).
std::string Recorded(const v1::Criterion& criterion, absl::Status* limited) {
  *limited = query::CheckLimits(criterion);
  return limited->ok() ? query::FormatCriterion(criterion) : "(over the limits)";
}

// A counted question's key for the account of spending: kind, canonical form and shape.
std::string KeyOf(std::string_view kind, const v1::Criterion& criterion,
                  const std::vector<v1::Dimension>& dimensions,
                  const std::vector<std::string>& diagnoses) {
  std::string key = StrCat(kind, " ", query::CanonicalText(criterion));
  for (v1::Dimension d : dimensions) StrAppend(&key, " by ", query::DimensionName(d));
  for (const std::string& d : diagnoses) StrAppend(&key, " ", d);
  return key;
}

const Region* FindRegion(const std::vector<Region>& regions, const std::string& id) {
  for (const Region& r : regions) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace

Hub::Hub(HubSettings settings, std::vector<Region> regions, security::AuditLog* audit,
         const Clock* clock, Witness* witness)
    : settings_(std::move(settings)),
      here_{.is_hub = true, .federation = settings_.federation},
      regions_(std::move(regions)),
      audit_(audit),
      clock_(clock),
      witness_(witness) {}

void Hub::set_metrics(metrics::Registry* registry) {
  registry->Describe("pmdb_hub_region_answers_total", metrics::Type::kCounter,
                     "Regions' parts of federated answers, by region and status (ok, "
                     "unavailable, deadline_exceeded, refused, invalid).");
  registry->Describe("pmdb_hub_budget_refusals_total", metrics::Type::kCounter,
                     "Questions refused at the hub because no region could afford them.");
  registry->Describe("pmdb_hub_region_witness_refused", metrics::Type::kGauge,
                     "1 while the hub does not ask a region because its audit log was caught "
                     "cut short or rewritten.");
  if (witness_ != nullptr) {
    registry->AddCollector([this] {
      std::vector<metrics::Sample> samples;
      for (const Region& r : regions_) {
        samples.push_back({"pmdb_hub_region_witness_refused",
                           {{"region", r.id}},
                           witness_->Refusal(r.id).has_value() ? 1.0 : 0.0});
      }
      return samples;
    });
  }
  metrics_ = registry;
}

std::vector<Region> Hub::Askable() const {
  std::vector<Region> regions = regions_;
  if (witness_ == nullptr) return regions;
  for (Region& r : regions) {
    auto refusal = witness_->Refusal(r.id);
    if (!refusal.has_value()) continue;
    r.client = nullptr;
    r.refusal = *refusal;
  }
  return regions;
}

void Hub::CheckAuditHeads(Deadline deadline, std::function<void(std::vector<std::string>)> done) {
  struct Gather {
    std::mutex mu;
    std::vector<std::string> problems;  // guarded by mu
    std::atomic<size_t> remaining{0};
    std::function<void(std::vector<std::string>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  std::vector<Region> regions = witness_ == nullptr ? std::vector<Region>() : Askable();
  gather->remaining = regions.size() + 1;
  auto finish_one = [gather] {
    if (gather->remaining.fetch_sub(1) == 1) gather->done(std::move(gather->problems));
  };
  Outgoing out{.on_behalf_of = "", .deadline = RegionDeadline(deadline)};
  for (const Region& r : regions) {
    if (r.client == nullptr) {
      finish_one();
      continue;
    }
    // The request lives until the region has answered (RegionClient's contract).
    auto request = std::make_shared<v1::AuditHeadRequest>(witness_->Ask(r.id));
    r.client->AuditHead(
        out, *request,
        [this, gather, finish_one, request, id = r.id](absl::StatusOr<v1::AuditHeadReply> head) {
          if (head.ok()) {
            absl::Status s = witness_->Observe(id, *head, clock_->NowSeconds() * int64_t{1000000});
            std::string problem = s.ok() ? "" : std::string(s.message());
            if (s.ok() && !witness_->Last(id).signature_problem().empty()) {
              // Reported, not refused: the chain itself is consistent.
              problem = StrCat("region ", id, "'s audit head is not signed by its node (",
                               witness_->Last(id).signature_problem(), ")");
            }
            if (!problem.empty()) {
              std::lock_guard<std::mutex> lock(gather->mu);
              gather->problems.push_back(std::move(problem));
            }
          }
          finish_one();
        });
  }
  finish_one();
}

void Hub::Replay(const std::vector<v1::AuditEntry>& entries) {
  for (const v1::AuditEntry& e : entries) {
    if (e.release_key().empty() || e.outcome() != "ok") continue;
    std::vector<RegionCharge> charges;
    for (const v1::RegionCharge& c : e.charges()) charges.push_back({c.region(), c.rho_micros()});
    mirror_.Record(e.caller(), e.release_key(), e.time_unix_micros() / 1000000, charges,
                   !charges.empty());
  }
}

Deadline Hub::RegionDeadline(Deadline caller, std::chrono::milliseconds longer) const {
  return std::min(std::chrono::system_clock::now() + settings_.deadline + longer, caller);
}

template <typename Request, typename Answer, typename Reply, typename Merge>
void Hub::Federate(const Credentials& who, Deadline deadline, Method method,
                   const std::string& question, const absl::Status& precheck,
                   const Request& request,
                   void (RegionClient::*ask)(const Outgoing&, const Request&, Done<Answer>),
                   Merge merge, Done<Reply> done, const Pricing* pricing,
                   std::chrono::milliseconds longer) {
  v1::AuditEntry entry = call::NewEntry(method, "");
  auto caller = call::Authorize(who, method, here_, &entry);
  absl::Status s = caller.ok() ? precheck : caller.status();
  if (!s.ok()) {
    call::Finish(*audit_, std::move(entry), absl::StatusOr<Reply>(s), std::move(done));
    return;
  }
  entry.set_query(question);
  const bool counted = pricing != nullptr && !pricing->cost_only;
  if (counted) {
    entry.set_release_key(pricing->key);
    std::vector<std::string> ids;
    for (const Region& r : regions_) ids.push_back(r.id);
    auto refused = mirror_.WouldAllRefuse(caller->user.uri, pricing->key, pricing->units, ids,
                                          clock_->NowSeconds(), pricing->sigma_centi);
    if (refused.has_value()) {
      if (metrics::Registry* m = metrics_.load()) m->Add("pmdb_hub_budget_refusals_total", {});
      call::Finish(*audit_, std::move(entry),
                   absl::StatusOr<Reply>(absl::ResourceExhaustedError(*refused)), std::move(done));
      return;
    }
  }
  Outgoing out{.on_behalf_of = caller->user.uri, .deadline = RegionDeadline(deadline, longer)};
  AskAll<Request, Answer>(
      Askable(), out, request, ask,
      [this, counted, key = pricing == nullptr ? std::string() : pricing->key,
       user = caller->user.uri, merge = std::move(merge), entry = std::move(entry),
       done = std::move(done)](std::vector<RegionResult<Answer>> results) mutable {
        if constexpr (requires(const Answer& a) { a.disclosure().budgets(); }) {
          if (!key.empty()) {
            // What every answering region charged (a cost quote: nothing, but its budgets are
            // fresh), for the account and, for answers, the hub's log.
            std::vector<RegionCharge> charges;
            for (const RegionResult<Answer>& r : results) {
              if (!r.answer.ok()) continue;
              const v1::DisclosureApplied& d = r.answer->disclosure();
              uint64_t micros =
                  counted ? static_cast<uint64_t>(std::llround(d.rho() * 1e6)) : uint64_t{0};
              charges.push_back(
                  {r.region, micros, d.sigma(), {d.budgets().begin(), d.budgets().end()}});
              if (!counted) continue;
              v1::RegionCharge* c = entry.add_charges();
              c->set_region(r.region);
              c->set_rho_micros(micros);
            }
            mirror_.Record(user, key, clock_->NowSeconds(), charges, counted && !charges.empty());
          }
        }
        if (metrics::Registry* m = metrics_.load()) {
          for (const RegionResult<Answer>& r : results) {
            std::string status = v1::RegionStatus_Name(RegionStatusOf(r.answer.status()));
            if (status.starts_with("REGION_")) status = status.substr(7);
            for (char& c : status) c = static_cast<char>(std::tolower(c));
            m->Add("pmdb_hub_region_answers_total", {{"region", r.region}, {"status", status}});
          }
        }
        Reply reply = merge(std::move(results));
        entry.set_released(call::Released(reply));
        call::Finish(*audit_, std::move(entry), absl::StatusOr<Reply>(std::move(reply)),
                     std::move(done));
      });
}

template <typename Reply, typename Merge>
void Hub::National(const Credentials& who, Deadline deadline, Method method,
                   const std::string& question, const absl::Status& precheck,
                   v1::NationalShareRequest request, const Pricing& pricing, Merge merge,
                   Done<Reply> done) {
  v1::AuditEntry entry = call::NewEntry(method, "");
  auto caller = call::Authorize(who, method, here_, &entry);
  absl::Status s = caller.ok() ? precheck : caller.status();
  if (!s.ok()) {
    call::Finish(*audit_, std::move(entry), absl::StatusOr<Reply>(s), std::move(done));
    return;
  }
  entry.set_query(question);
  entry.set_release_key(StrCat("national ", pricing.key));
  std::vector<std::string> ids;
  for (const Region& r : regions_) ids.push_back(r.id);
  auto refused = mirror_.WouldAllRefuse(caller->user.uri, pricing.key, pricing.units, ids,
                                        clock_->NowSeconds(), pricing.sigma_centi);
  if (refused.has_value()) {
    if (metrics::Registry* m = metrics_.load()) m->Add("pmdb_hub_budget_refusals_total", {});
    call::Finish(*audit_, std::move(entry),
                 absl::StatusOr<Reply>(absl::ResourceExhaustedError(*refused)), std::move(done));
    return;
  }
  // Everything a round needs, kept until the reply.
  struct State {
    Outgoing out;
    std::vector<Region> regions;  // every configured region, as askable now
    // Why a region is not counted (not reachable, refused, dropped out of a round).
    std::map<std::string, absl::Status> out_of;
    v1::NationalShareRequest request;
    int rounds = 0;
    std::string user;
    std::string key;
    v1::AuditEntry entry;
    std::function<Reply(std::vector<RegionResult<v1::NationalShareAnswer>>, uint32_t)> merge;
    Done<Reply> done;
    std::function<void()> next;  // the next round (breaks its own cycle when done)
  };
  auto st = std::make_shared<State>();
  st->out = {.on_behalf_of = caller->user.uri, .deadline = RegionDeadline(deadline)};
  st->regions = Askable();
  st->request = std::move(request);
  st->user = caller->user.uri;
  st->key = pricing.key;
  st->entry = std::move(entry);
  st->merge = std::move(merge);
  st->done = std::move(done);
  const int kind = static_cast<int>(st->request.question_case());
  {
    // Regions that refused this researcher this kind of share a moment ago are not asked again
    // yet: a refusal in a round makes every other region of it answer a second round.
    const int64_t now = clock_->NowSeconds();
    std::lock_guard<std::mutex> lock(refusals_mu_);
    for (const Region& r : st->regions) {
      auto it = refusals_.find({r.id, st->user, kind});
      if (it == refusals_.end()) continue;
      if (it->second.first < now) {
        refusals_.erase(it);
        continue;
      }
      st->out_of[r.id] = it->second.second;
    }
  }
  // Gives the reply: the last round's shares, every other region's reason.
  auto reply = [this, st](std::vector<RegionResult<v1::NationalShareAnswer>> round) {
    std::vector<RegionResult<v1::NationalShareAnswer>> all;
    for (const Region& r : st->regions) {
      RegionResult<v1::NationalShareAnswer> one{.region = r.id};
      auto in_round =
          std::find_if(round.begin(), round.end(), [&](const auto& x) { return x.region == r.id; });
      if (in_round != round.end() && in_round->answer.ok()) {
        one.answer = std::move(in_round->answer);
      } else if (auto why = st->out_of.find(r.id); why != st->out_of.end()) {
        one.answer = why->second;
      } else {
        one.answer = absl::UnavailableError("not in the round");
      }
      all.push_back(std::move(one));
    }
    if (metrics::Registry* m = metrics_.load()) {
      for (const auto& r : all) {
        std::string status = v1::RegionStatus_Name(RegionStatusOf(r.answer.status()));
        if (status.starts_with("REGION_")) status = status.substr(7);
        for (char& c : status) c = static_cast<char>(std::tolower(c));
        m->Add("pmdb_hub_region_answers_total", {{"region", r.region}, {"status", status}});
      }
    }
    Reply out = st->merge(std::move(all), static_cast<uint32_t>(st->rounds));
    st->entry.set_released(call::Released(out));
    st->next = nullptr;  // the rounds are over
    call::Finish(*audit_, std::move(st->entry), absl::StatusOr<Reply>(std::move(out)),
                 std::move(st->done));
  };
  // One round among the regions not out yet, with a fresh id; again without those that fail.
  st->next = [this, st, reply, kind]() {
    ++st->rounds;
    std::vector<Region> members;
    v1::NationalShareRequest& r = st->request;
    r.clear_roster();
    uint32_t sigma_centi = 0, collusion = 0;
    {
      std::lock_guard<std::mutex> lock(refusals_mu_);
      for (const Region& region : st->regions) {
        if (st->out_of.contains(region.id)) continue;
        auto terms = terms_.find(region.id);
        if (region.client == nullptr || terms == terms_.end()) {
          st->out_of[region.id] = absl::UnavailableError(
              region.client == nullptr ? region.refusal : "its national terms are not known");
          continue;
        }
        if (!terms->second.participating) {
          st->out_of[region.id] = absl::PermissionDeniedError(
              StrCat("region ", region.id, " does not take part in federated questions"));
          continue;
        }
        if (!terms->second.shares || terms->second.certificate.empty()) {
          st->out_of[region.id] = absl::FailedPreconditionError(
              "it gives no shares of national totals (its disclosure rules)");
          continue;
        }
        members.push_back(region);
        v1::RosterMember* m = r.add_roster();
        m->set_region(region.id);
        m->set_certificate(terms->second.certificate);
        // The round protects every member at least as its own terms do.
        sigma_centi = std::max(sigma_centi, terms->second.sigma_centi);
        collusion = std::max(collusion, terms->second.collusion);
      }
    }
    r.set_sigma_centi(sigma_centi);
    r.set_collusion(collusion);
    std::sort(r.mutable_roster()->begin(), r.mutable_roster()->end(),
              [](const auto& a, const auto& b) { return a.region() < b.region(); });
    auto id = security::NewRoundId(clock_->NowSeconds());
    if (members.size() <= collusion || !id.ok()) {
      reply({});
      return;
    }
    r.set_round(*id);
    // A round that is not the last gets half the time left, so that a region that hangs
    // (rather than failing at once) leaves time for a round without it.
    Outgoing round_call = st->out;
    if (st->rounds < kMaxNationalRounds) {
      const auto now = std::chrono::system_clock::now();
      if (st->out.deadline > now) round_call.deadline = now + (st->out.deadline - now) / 2;
    }
    AskAll<v1::NationalShareRequest, v1::NationalShareAnswer>(
        members, round_call, r, &RegionClient::NationalShare,
        [this, st, reply, kind](std::vector<RegionResult<v1::NationalShareAnswer>> results) {
          // What every region of the round charged, whether or not the round completes: a share
          // that left was a release.
          std::vector<RegionCharge> charges;
          bool whole = true;
          for (const auto& res : results) {
            if (!res.answer.ok()) {
              whole = false;
              st->out_of[res.region] = res.answer.status();
              if (res.answer.status().code() == absl::StatusCode::kAborted) {
                // Its certificate changed: its terms are asked again before its next round.
                std::lock_guard<std::mutex> lock(refusals_mu_);
                terms_.erase(res.region);
              }
              if (RegionStatusOf(res.answer.status()) == v1::REGION_REFUSED) {
                std::lock_guard<std::mutex> lock(refusals_mu_);
                refusals_[{res.region, st->user, kind}] = {
                    clock_->NowSeconds() + kNationalRefusalSeconds, res.answer.status()};
              }
              continue;
            }
            const v1::DisclosureApplied& d = res.answer->disclosure();
            uint64_t micros = static_cast<uint64_t>(std::llround(d.rho() * 1e6));
            charges.push_back(
                {res.region, micros, d.sigma(), {d.budgets().begin(), d.budgets().end()}});
            v1::RegionCharge* c = st->entry.add_charges();
            c->set_region(res.region);
            c->set_rho_micros(micros);
          }
          mirror_.Record(st->user, StrCat("national ", st->key), clock_->NowSeconds(), charges,
                         !charges.empty());
          const bool time_left = std::chrono::system_clock::now() < st->out.deadline;
          if (whole || st->rounds >= kMaxNationalRounds || !time_left) {
            if (!whole) {
              // The last round lost a region: its masks do not cancel, so it gives no number.
              for (auto& res : results) {
                if (res.answer.ok()) {
                  st->out_of[res.region] = absl::UnavailableError(
                      "its share is of a round another region dropped out of");
                }
              }
              reply({});
              return;
            }
            reply(std::move(results));
            return;
          }
          // Those that answered are asked again, with fresh masks, without the others.
          std::function<void()> next = st->next;
          next();
        });
  };
  // Regions whose terms the hub does not hold (or held too long) answer an Info first, within
  // half the time left.
  std::vector<Region> unknown;
  {
    const int64_t now = clock_->NowSeconds();
    std::lock_guard<std::mutex> lock(refusals_mu_);
    for (const Region& r : st->regions) {
      auto t = terms_.find(r.id);
      if (r.client != nullptr && !st->out_of.contains(r.id) &&
          (t == terms_.end() || t->second.at + kNationalTermsSeconds < now)) {
        unknown.push_back(r);
      }
    }
  }
  if (unknown.empty()) {
    std::function<void()> next = st->next;
    next();
    return;
  }
  auto info = std::make_shared<v1::InfoRequest>();
  Outgoing ask_info = st->out;
  const auto now = std::chrono::system_clock::now();
  if (st->out.deadline > now) ask_info.deadline = now + (st->out.deadline - now) / 2;
  AskAll<v1::InfoRequest, v1::RegionInfo>(
      unknown, ask_info, *info, &RegionClient::Info,
      [this, st, info](std::vector<RegionResult<v1::RegionInfo>> results) {
        {
          std::lock_guard<std::mutex> lock(refusals_mu_);
          for (const auto& r : results) {
            if (!r.answer.ok()) {
              st->out_of[r.region] = r.answer.status();
              continue;
            }
            terms_[r.region] = {.participating = r.answer->participating(),
                                .shares = r.answer->national_shares(),
                                .sigma_centi = static_cast<uint32_t>(
                                    std::llround(r.answer->disclosure().sigma() * 100)),
                                .collusion = r.answer->national_collusion(),
                                .certificate = r.answer->certificate(),
                                .at = clock_->NowSeconds()};
          }
        }
        std::function<void()> next = st->next;
        next();
      });
}

void Hub::Info(const Credentials& who, Deadline deadline, const v1::InfoRequest& request,
               Done<v1::FederationInfo> done) {
  Federate<v1::InfoRequest, v1::RegionInfo, v1::FederationInfo>(
      who, deadline, Method::kFederationInfo, "", absl::OkStatus(), request, &RegionClient::Info,
      [federation = settings_.federation](auto results) {
        return MergeInfo(std::move(results), federation);
      },
      std::move(done));
}

void Hub::Count(const Credentials& who, Deadline deadline, const v1::CountRequest& request,
                Done<v1::FederatedCount> done) {
  absl::Status limited;
  std::string recorded = Recorded(request.criterion(), &limited);
  Pricing pricing{.key = limited.ok() ? KeyOf("count", request.criterion(), {}, {}) : "",
                  .units = 1,
                  .cost_only = request.cost_only()};
  if (Nationally(request)) {
    v1::NationalShareRequest share;
    *share.mutable_count() = request;
    National<v1::FederatedCount>(
        who, deadline, Method::kFederationCount, recorded, limited, std::move(share), pricing,
        [floor = settings_.disclosure.min_count](auto results, uint32_t rounds) {
          return MergeNationalCount(std::move(results), rounds, floor);
        },
        std::move(done));
    return;
  }
  Federate<v1::CountRequest, v1::CountAnswer, v1::FederatedCount>(
      who, deadline, Method::kFederationCount, recorded, limited, request, &RegionClient::Count,
      [floor = settings_.disclosure.min_count](auto results) {
        return MergeCounts(std::move(results), floor);
      },
      std::move(done), &pricing);
}

void Hub::Breakdown(const Credentials& who, Deadline deadline, const v1::BreakdownRequest& request,
                    Done<v1::FederatedBreakdown> done) {
  absl::Status checked;
  std::string recorded = Recorded(request.criterion(), &checked);
  auto dims = query::CheckDimensions(request.dimensions());
  if (checked.ok()) checked = dims.status();
  auto diagnoses = checked.ok() ? query::CheckDiagnoses(*dims, request.diagnoses())
                                : absl::StatusOr<std::vector<std::string>>(checked);
  if (checked.ok()) checked = diagnoses.status();
  Pricing pricing{.cost_only = request.cost_only()};
  if (checked.ok()) {
    pricing.key = KeyOf("breakdown", request.criterion(), *dims, *diagnoses);
    pricing.units = query::CellsPerPerson(*dims, *diagnoses);
  }
  if (Nationally(request)) {
    v1::NationalShareRequest share;
    *share.mutable_breakdown() = request;
    National<v1::FederatedBreakdown>(
        who, deadline, Method::kFederationBreakdown, recorded, checked, std::move(share), pricing,
        [floor = settings_.disclosure.min_count,
         dims = dims.ok() ? *dims : std::vector<v1::Dimension>{}](auto results, uint32_t rounds) {
          return MergeNationalBreakdown(std::move(results), dims, rounds, floor);
        },
        std::move(done));
    return;
  }
  Federate<v1::BreakdownRequest, v1::BreakdownAnswer, v1::FederatedBreakdown>(
      who, deadline, Method::kFederationBreakdown, recorded, checked, request,
      &RegionClient::Breakdown,
      [floor = settings_.disclosure.min_count,
       dims = dims.ok() ? *dims : std::vector<v1::Dimension>{}](auto results) {
        return MergeBreakdowns(std::move(results), dims, floor);
      },
      std::move(done), &pricing);
}

void Hub::Frequency(const Credentials& who, Deadline deadline, const v1::FrequencyRequest& request,
                    Done<v1::FederatedFrequency> done) {
  absl::Status limited;
  std::string recorded = Recorded(request.criterion(), &limited);
  Pricing pricing{.key = limited.ok() ? KeyOf("frequency", request.criterion(), {}, {}) : "",
                  .units = 2,
                  .cost_only = request.cost_only()};
  if (Nationally(request)) {
    v1::NationalShareRequest share;
    *share.mutable_frequency() = request;
    National<v1::FederatedFrequency>(
        who, deadline, Method::kFederationFrequency, recorded, limited, std::move(share), pricing,
        [floor = settings_.disclosure.min_count](auto results, uint32_t rounds) {
          return MergeNationalFrequency(std::move(results), rounds, floor);
        },
        std::move(done));
    return;
  }
  Federate<v1::FrequencyRequest, v1::FrequencyAnswer, v1::FederatedFrequency>(
      who, deadline, Method::kFederationFrequency, recorded, limited, request,
      &RegionClient::Frequency,
      [floor = settings_.disclosure.min_count](auto results) {
        return MergeFrequencies(std::move(results), floor);
      },
      std::move(done), &pricing);
}

void Hub::Catalogue(const Credentials& who, Deadline deadline, const v1::CatalogueRequest& request,
                    Done<v1::FederatedCatalogue> done) {
  // Checked here as each region checks it, so a malformed batch is refused once, not six times.
  absl::Status checked;
  const size_t most = query::Limits().max_criteria;
  const size_t sites = static_cast<size_t>(request.sites_size());
  v1::Criterion all;
  if (sites == 0 || sites > most) {
    checked = absl::InvalidArgumentError(
        StrCat("a catalogue's batch holds 1 to ", most, " sites; ", sites, " were given"));
  }
  for (size_t i = 0; checked.ok() && i < sites; ++i) {
    const v1::Criterion& site = request.sites(static_cast<int>(i));
    if (!site.has_variant()) {
      checked = absl::InvalidArgumentError(
          StrCat("site ", i + 1, " of a catalogue must be one variant()"));
    }
    *all.mutable_any_of()->add_items() = site;
  }
  const double sigma = request.sigma();
  if (checked.ok() && !(sigma > 0 && sigma <= 1e5)) {
    checked = absl::InvalidArgumentError(
        StrCat("a catalogue's noise (sigma) must be above 0 and at most 100000; got ", sigma));
  }
  std::string recorded = "(over the limits)";
  if (checked.ok()) recorded = Recorded(sites == 1 ? request.sites(0) : all, &checked);
  Pricing pricing{.cost_only = request.cost_only()};
  if (checked.ok()) {
    pricing.sigma_centi = static_cast<uint32_t>(std::ceil(sigma * 100 - 1e-6));
    std::set<std::string> texts;
    for (const v1::Criterion& site : request.sites()) texts.insert(query::CanonicalText(site));
    security::Sha256Parts set;
    for (const std::string& t : texts) set.Add(t);
    pricing.key = StrCat("catalogue sd=", pricing.sigma_centi, "/100 sites=", texts.size(), ":",
                         set.HexDigest());
    pricing.units = static_cast<uint32_t>(8 * sites);
  }
  const auto longer = std::chrono::duration_cast<std::chrono::milliseconds>(
      security::kCatalogueSiteAllowance * static_cast<int64_t>(sites));
  Federate<v1::CatalogueRequest, v1::CatalogueAnswer, v1::FederatedCatalogue>(
      who, deadline, Method::kFederationCatalogue, recorded, checked, request,
      &RegionClient::Catalogue,
      [floor = settings_.disclosure.min_count, sites](auto results) {
        return MergeCatalogues(std::move(results), sites, floor);
      },
      std::move(done), &pricing, longer);
}

void Hub::SimilarCases(const Credentials& who, Deadline deadline,
                       const v1::SimilarCasesRequest& request,
                       Done<v1::FederatedSimilarCases> done) {
  // The question is checked here too, so a malformed one is refused once, not six times.
  v1::CaseQuery question = request.patient();
  absl::Status precheck = vocab::NormalizeCaseQuery(&question);
  uint32_t top = request.top() == 0 ? 10 : request.top();
  if (precheck.ok() && top > kMaxFederatedTop) {
    precheck = absl::InvalidArgumentError(StrCat("top is at most ", kMaxFederatedTop));
  }
  Federate<v1::SimilarCasesRequest, v1::SimilarCasesAnswer, v1::FederatedSimilarCases>(
      who, deadline, Method::kFederationSimilarCases, vocab::FormatCaseQuery(question), precheck,
      request, &RegionClient::SimilarCases,
      [top](auto results) { return MergeSimilarCases(std::move(results), top); }, std::move(done));
}

template <typename Request>
void Hub::Forward(const Credentials& who, Deadline deadline, Method method,
                  const absl::StatusOr<std::string>& region_id, const std::string& question,
                  const Request& request,
                  void (RegionClient::*ask)(const Outgoing&, const Request&,
                                            Done<v1::ContactTicket>),
                  Done<v1::ContactTicket> done) {
  v1::AuditEntry entry = call::NewEntry(method, "");
  auto caller = call::Authorize(who, method, here_, &entry);
  entry.set_query(question);
  absl::Status s = caller.ok() ? region_id.status() : caller.status();
  const Region* region = nullptr;
  if (s.ok()) {
    region = FindRegion(regions_, *region_id);
    if (region == nullptr) {
      s = absl::NotFoundError(StrCat("no region ", *region_id, " in this federation"));
    } else if (auto refusal = witness_ == nullptr ? std::nullopt : witness_->Refusal(region->id)) {
      s = absl::UnavailableError(*refusal);
    }
  }
  if (!s.ok()) {
    call::Finish(*audit_, std::move(entry), absl::StatusOr<v1::ContactTicket>(s), std::move(done));
    return;
  }
  Outgoing out{.on_behalf_of = caller->user.uri, .deadline = RegionDeadline(deadline)};
  ((*region->client).*ask)(
      out, request,
      [audit = audit_, id = region->id, entry = std::move(entry),
       done = std::move(done)](absl::StatusOr<v1::ContactTicket> ticket) mutable {
        // The clinician learns which region failed them, not just that something did.
        if (ticket.status().code() == absl::StatusCode::kDeadlineExceeded) {
          ticket = absl::DeadlineExceededError(StrCat("region ", id, " did not answer in time"));
        } else if (!ticket.ok() && RegionStatusOf(ticket.status()) == v1::REGION_UNAVAILABLE) {
          ticket = absl::UnavailableError(
              StrCat("region ", id, " did not answer: ", std::string(ticket.status().message())));
        }
        entry.set_released(StrCat("region=", id));
        call::Finish(*audit, std::move(entry), std::move(ticket), std::move(done));
      });
}

void Hub::RequestContact(const Credentials& who, Deadline deadline,
                         const v1::ContactRequest& request, Done<v1::ContactTicket> done) {
  auto region = security::RegionOfReference(request.case_reference());
  Forward(who, deadline, Method::kFederationRequestContact, region,
          StrCat("contact request region=", region.ok() ? *region : "?"), request,
          &RegionClient::RequestContact, std::move(done));
}

void Hub::ContactStatus(const Credentials& who, Deadline deadline,
                        const v1::ContactStatusRequest& request, Done<v1::ContactTicket> done) {
  const std::string& id = request.request_id();
  size_t slash = id.find('/');
  absl::StatusOr<std::string> region =
      slash == std::string::npos || slash == 0
          ? absl::StatusOr<std::string>(absl::InvalidArgumentError(
                "a request id is REGION/ID, as RequestContact returned it"))
          : absl::StatusOr<std::string>(id.substr(0, slash));
  Forward(who, deadline, Method::kFederationContactStatus, region, StrCat("contact status ", id),
          request, &RegionClient::ContactStatus, std::move(done));
}

}  // namespace pmdb::hub
