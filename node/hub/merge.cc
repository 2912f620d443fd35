#include "node/hub/merge.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "node/base/strings.h"
#include "security/disclosure.h"
#include "security/released.h"
#include "security/secure_sum.h"

namespace pmdb::hub {
namespace {

using security::Floor;
using security::ReleasedSum;

// A region's time to answer is not passed on: it would tell about the region's data.
v1::RegionPart PartOf(const std::string& region, const absl::Status& status) {
  v1::RegionPart part;
  part.set_region(region);
  part.set_status(RegionStatusOf(status));
  if (!status.ok()) part.set_detail(std::string(status.message()));
  return part;
}

// Calls `each(answer, part)` for every answering region and appends every region's part;
// returns how many answered.
template <typename Answer, typename Each>
size_t ForEachRegion(std::vector<RegionResult<Answer>>& results,
                     google::protobuf::RepeatedPtrField<v1::RegionPart>* parts, Each each) {
  size_t ok = 0;
  for (RegionResult<Answer>& r : results) {
    v1::RegionPart part = PartOf(r.region, r.answer.status());
    if (r.answer.ok()) {
      ++ok;
      each(*r.answer, part);
    }
    *parts->Add() = std::move(part);
  }
  return ok;
}

// A region's released number passes the national floor and joins the running sum. A noised
// number joins with its noised value (so the sum is unbiased; the floor only changes how it is
// shown); a certain one as floored, since a total of certain numbers would give away a part
// below the floor.
void AddFloored(v1::ReleasedCount* part, ReleasedSum* sum, uint32_t floor) {
  v1::ReleasedCount floored = Floor(*part, floor);
  sum->Add(part->has_noised() ? *part : floored);
  *part = std::move(floored);
}

const v1::DisclosureApplied* DisclosureOf(const v1::RegionPart& part) {
  switch (part.answer_case()) {
    case v1::RegionPart::kCount:
      return &part.count().disclosure();
    case v1::RegionPart::kBreakdown:
      return &part.breakdown().disclosure();
    case v1::RegionPart::kFrequency:
      return &part.frequency().disclosure();
    case v1::RegionPart::kCatalogue:
      return &part.catalogue().disclosure();
    default:
      return nullptr;
  }
}

// What every federated aggregate ends with: partial when a region is missing, and how the
// numbers were protected: each region's mechanism (named where a region's operator turned
// differential privacy off) and the hub's floor.
template <typename Reply>
void Close(Reply& reply, size_t answered, size_t asked, uint32_t floor) {
  reply.set_partial(answered < asked);
  v1::DisclosureApplied& d = *reply.mutable_disclosure();
  d.set_min_count(floor);
  std::set<std::string> mechanisms;
  std::vector<std::string> loosened;
  double sigma = 0, rho = 0;
  for (const v1::RegionPart& part : reply.regions()) {
    const v1::DisclosureApplied* r = DisclosureOf(part);
    if (r == nullptr) continue;
    mechanisms.insert(r->mechanism().empty() ? "unknown" : r->mechanism());
    if (r->mechanism() != "discrete-gaussian") loosened.push_back(part.region());
    sigma = std::max(sigma, r->sigma());
    rho += r->rho();
  }
  d.set_mechanism(mechanisms.size() == 1 ? *mechanisms.begin()
                  : mechanisms.empty()   ? "none"
                                         : "mixed");
  d.set_sigma(sigma);
  d.set_rho(rho);
  std::string text = StrCat("sum over ", answered, " of ", asked, " regions");
  if (!mechanisms.empty() && loosened.size() < answered) {
    StrAppend(
        &text, "; differential privacy (discrete Gaussian noise) at ",
        answered - loosened.size() == answered ? "every answering region" : "the other regions");
  }
  if (!loosened.empty()) {
    std::string list;
    for (const std::string& r : loosened) StrAppend(&list, list.empty() ? "" : ", ", r);
    StrAppend(&text, "; NOT differentially private at ", list,
              " (by the operator's choice; see that region's description)");
  }
  StrAppend(&text, "; totals carry the regions' noise added; numbers below ", floor,
            " are shown as <", floor);
  d.set_description(std::move(text));
}

std::string LabelKey(const v1::ReleasedCell& cell) {
  std::string k;
  for (const std::string& l : cell.labels()) StrAppend(&k, l, "\x1f");
  return k;
}

}  // namespace

v1::RegionStatus RegionStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return v1::REGION_OK;
    case absl::StatusCode::kDeadlineExceeded:
      return v1::REGION_DEADLINE_EXCEEDED;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnauthenticated:
      return v1::REGION_REFUSED;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
      return v1::REGION_INVALID;
    default:
      return v1::REGION_UNAVAILABLE;
  }
}

v1::FederationInfo MergeInfo(std::vector<RegionResult<v1::RegionInfo>> results,
                             const std::string& federation) {
  v1::FederationInfo reply;
  reply.set_federation(federation);
  ForEachRegion(results, reply.mutable_regions(), [](v1::RegionInfo& a, v1::RegionPart& part) {
    *part.mutable_info() = std::move(a);
  });
  return reply;
}

v1::FederatedCount MergeCounts(std::vector<RegionResult<v1::CountAnswer>> results, uint32_t floor) {
  v1::FederatedCount reply;
  ReleasedSum total;
  size_t ok = ForEachRegion(results, reply.mutable_regions(),
                            [&](v1::CountAnswer& a, v1::RegionPart& part) {
                              if (a.has_count()) AddFloored(a.mutable_count(), &total, floor);
                              *part.mutable_count() = std::move(a);
                            });
  // No region answered: no number (the reply says so), never a count of 0.
  if (!total.empty()) *reply.mutable_total() = total.Total(floor);
  Close(reply, ok, results.size(), floor);
  return reply;
}

v1::FederatedBreakdown MergeBreakdowns(std::vector<RegionResult<v1::BreakdownAnswer>> results,
                                       const std::vector<v1::Dimension>& dimensions,
                                       uint32_t floor) {
  v1::FederatedBreakdown reply;
  for (v1::Dimension d : dimensions) reply.add_dimensions(d);
  std::map<std::string, int> total_of;  // labels -> index in reply.totals
  std::vector<ReleasedSum> sums;        // by index in reply.totals
  size_t ok = ForEachRegion(
      results, reply.mutable_regions(), [&](v1::BreakdownAnswer& a, v1::RegionPart& part) {
        for (const v1::ReleasedCell& released : a.cells()) {
          v1::ReleasedCell cell = released;
          auto [it, added] = total_of.emplace(LabelKey(cell), reply.totals_size());
          if (added) {
            *reply.add_totals() = cell;
            sums.emplace_back();
          } else {
            v1::ReleasedCell& total = *reply.mutable_totals(it->second);
            total.set_suppressed(total.suppressed() || cell.suppressed());
            total.set_complementary(total.complementary() || cell.complementary());
          }
          AddFloored(cell.mutable_count(), &sums[static_cast<size_t>(it->second)], floor);
          cell.add_labels(part.region());
          *reply.add_cells() = std::move(cell);
        }
        a.clear_cells();  // the cells are in reply.cells, labelled with the region
        *part.mutable_breakdown() = std::move(a);
      });
  for (int i = 0; i < reply.totals_size(); ++i) {
    *reply.mutable_totals(i)->mutable_count() = sums[static_cast<size_t>(i)].Total(floor);
  }
  Close(reply, ok, results.size(), floor);
  return reply;
}

v1::FederatedFrequency MergeFrequencies(std::vector<RegionResult<v1::FrequencyAnswer>> results,
                                        uint32_t floor) {
  v1::FederatedFrequency reply;
  ReleasedSum ac, an;
  size_t ok = ForEachRegion(results, reply.mutable_regions(),
                            [&](v1::FrequencyAnswer& a, v1::RegionPart& part) {
                              if (a.has_ac()) AddFloored(a.mutable_ac(), &ac, floor);
                              if (a.has_an()) AddFloored(a.mutable_an(), &an, floor);
                              *part.mutable_frequency() = std::move(a);
                            });
  if (!ac.empty()) *reply.mutable_ac() = ac.Total(floor);
  if (!an.empty()) *reply.mutable_an() = an.Total(floor);
  Close(reply, ok, results.size(), floor);
  return reply;
}

v1::FederatedCatalogue MergeCatalogues(std::vector<RegionResult<v1::CatalogueAnswer>> results,
                                       size_t sites, uint32_t floor) {
  v1::FederatedCatalogue reply;
  std::vector<ReleasedSum> ac(sites), an(sites);
  size_t answered = 0, counted = 0;
  ForEachRegion(results, reply.mutable_regions(),
                [&](v1::CatalogueAnswer& a, v1::RegionPart& part) {
                  if (a.disclosure().cost_only()) {  // a price, no numbers
                    ++answered;
                    *part.mutable_catalogue() = std::move(a);
                    return;
                  }
                  if (static_cast<size_t>(a.sites_size()) != sites) {
                    // Not the batch asked for: reported, never added.
                    part.set_status(v1::REGION_UNAVAILABLE);
                    part.set_detail(StrCat("answered for ", a.sites_size(), " sites of ", sites));
                    return;
                  }
                  for (size_t i = 0; i < sites; ++i) {
                    v1::CatalogueSite* site = a.mutable_sites(static_cast<int>(i));
                    AddFloored(site->mutable_ac(), &ac[i], floor);
                    AddFloored(site->mutable_an(), &an[i], floor);
                  }
                  ++answered;
                  ++counted;
                  *part.mutable_catalogue() = std::move(a);
                });
  if (counted > 0) {
    for (size_t i = 0; i < sites; ++i) {
      v1::CatalogueSite* site = reply.add_sites();
      *site->mutable_ac() = ac[i].Total(floor);
      *site->mutable_an() = an[i].Total(floor);
    }
  }
  Close(reply, answered, results.size(), floor);
  return reply;
}

namespace {

// The sum of one round's shares, and how it was made.
struct NationalSum {
  std::vector<int64_t> values;
  std::vector<double> variance;  // of each value's noise: the shares' added
  google::protobuf::RepeatedPtrField<v1::ReleasedCell> cells;  // a breakdown's labels
  v1::NationalRound round;
  double rho = 0;       // what the regions charged together
  std::string problem;  // why there is no number, when there is none
};

NationalSum SumShares(std::vector<RegionResult<v1::NationalShareAnswer>>& results,
                      google::protobuf::RepeatedPtrField<v1::RegionPart>* parts, uint32_t rounds) {
  NationalSum sum;
  std::vector<std::vector<uint64_t>> shares;
  uint64_t check = 0;  // the checks' sum: 0 exactly when every mask cancelled
  const v1::NationalShareAnswer* first = nullptr;
  uint32_t honest = 0;
  size_t members = 0;
  for (RegionResult<v1::NationalShareAnswer>& r : results) {
    v1::RegionPart* part = parts->Add();
    *part = PartOf(r.region, r.answer.status());
    if (!r.answer.ok()) continue;
    *part->mutable_disclosure() = r.answer->disclosure();
    ++members;
    const v1::NationalShareAnswer& a = *r.answer;
    sum.round.add_covers(r.region);
    sum.rho += a.disclosure().rho();
    honest = honest == 0 ? a.honest() : std::min(honest, a.honest());
    if (first == nullptr) {
      first = &a;
      sum.variance.assign(static_cast<size_t>(a.masked_size()), 0.0);
    }
    bool fits = a.masked_size() == first->masked_size() && a.share_sd_size() == a.masked_size() &&
                a.cells_size() == first->cells_size() &&
                a.question_digest() == first->question_digest();
    for (int c = 0; fits && c < a.cells_size(); ++c) {
      fits = LabelKey(a.cells(c)) == LabelKey(first->cells(c));
    }
    if (!fits && sum.problem.empty()) {
      sum.problem = StrCat("region ", r.region,
                           "'s share does not fit the others' (it read the "
                           "question otherwise, or its cells differ), so no total could be made");
    }
    if (!fits) continue;
    check += a.check();
    shares.emplace_back(a.masked().begin(), a.masked().end());
    for (int v = 0; v < a.share_sd_size(); ++v) {
      sum.variance[static_cast<size_t>(v)] += a.share_sd(v) * a.share_sd(v);
    }
  }
  sum.round.set_rounds(rounds);
  if (members > 0 && honest > 0) {
    sum.round.set_collusion(static_cast<uint32_t>(members - std::min<size_t>(members, honest)));
  }
  if (first == nullptr) {
    sum.problem = "no region gave its share of the national total";
    return sum;
  }
  if (!sum.problem.empty()) return sum;
  if (check != 0) {
    // A region masked with another key than the one its certificate names (or a share was
    // damaged): the sum would be a random number, never to be shown as a count.
    sum.problem =
        "the regions' masks did not cancel (a certificate changed?), so no total could "
        "be made; ask again";
    return sum;
  }
  sum.values = security::SumShares(shares);
  sum.cells = first->cells();
  if (!sum.variance.empty()) sum.round.set_noise_sd(std::sqrt(sum.variance[0]));
  return sum;
}

// How a national total was protected, for the reader.
template <typename Reply>
void CloseNational(Reply& reply, const NationalSum& sum, size_t asked, uint32_t floor) {
  reply.set_partial(static_cast<size_t>(sum.round.covers_size()) < asked || sum.values.empty());
  *reply.mutable_national() = sum.round;
  v1::DisclosureApplied& d = *reply.mutable_disclosure();
  d.set_min_count(floor);
  d.set_mechanism("discrete-gaussian");
  d.set_sigma(sum.round.noise_sd());
  d.set_rho(sum.rho);
  std::string text;
  if (sum.values.empty()) {
    text = sum.problem;
  } else {
    text = StrCat("one national total over ", sum.round.covers_size(), " of ", asked,
                  " regions by secure aggregation: each region added its share of discrete "
                  "Gaussian noise (sd ",
                  sum.round.noise_sd(),
                  " in all) and masks that cancel in the sum, so no region's own number was "
                  "seen; numbers below ",
                  floor, " are shown as <", floor);
    if (sum.round.rounds() > 1) {
      StrAppend(&text, "; ", sum.round.rounds(),
                " rounds were asked, the later without the regions that dropped out");
    }
  }
  d.set_description(std::move(text));
}

}  // namespace

v1::FederatedCount MergeNationalCount(std::vector<RegionResult<v1::NationalShareAnswer>> results,
                                      uint32_t rounds, uint32_t floor) {
  v1::FederatedCount reply;
  NationalSum sum = SumShares(results, reply.mutable_regions(), rounds);
  if (sum.values.size() == 1) {
    *reply.mutable_total() =
        security::NoisedCount(sum.values[0], std::sqrt(sum.variance[0]), floor);
  } else if (!sum.values.empty()) {
    sum.values.clear();
    sum.problem = "the regions' shares are not of one count";
  }
  CloseNational(reply, sum, results.size(), floor);
  return reply;
}

v1::FederatedBreakdown MergeNationalBreakdown(
    std::vector<RegionResult<v1::NationalShareAnswer>> results,
    const std::vector<v1::Dimension>& dimensions, uint32_t rounds, uint32_t floor) {
  v1::FederatedBreakdown reply;
  for (v1::Dimension d : dimensions) reply.add_dimensions(d);
  NationalSum sum = SumShares(results, reply.mutable_regions(), rounds);
  if (!sum.values.empty() && static_cast<size_t>(sum.cells.size()) != sum.values.size()) {
    sum.values.clear();
    sum.problem = "the regions' shares are not of one breakdown";
  }
  for (size_t c = 0; c < sum.values.size(); ++c) {
    v1::ReleasedCell* cell = reply.add_totals();
    *cell->mutable_labels() = sum.cells[static_cast<int>(c)].labels();
    *cell->mutable_count() =
        security::NoisedCount(sum.values[c], std::sqrt(sum.variance[c]), floor);
  }
  CloseNational(reply, sum, results.size(), floor);
  return reply;
}

v1::FederatedFrequency MergeNationalFrequency(
    std::vector<RegionResult<v1::NationalShareAnswer>> results, uint32_t rounds, uint32_t floor) {
  v1::FederatedFrequency reply;
  NationalSum sum = SumShares(results, reply.mutable_regions(), rounds);
  if (sum.values.size() == 2) {
    *reply.mutable_ac() = security::NoisedCount(sum.values[0], std::sqrt(sum.variance[0]), floor);
    *reply.mutable_an() = security::NoisedCount(sum.values[1], std::sqrt(sum.variance[1]), floor);
    // The round's noise is reported per count: AC and AN carry twice that.
    reply.mutable_national()->set_noise_sd(std::sqrt(sum.variance[0]) / 2);
    sum.round.set_noise_sd(std::sqrt(sum.variance[0]) / 2);
  } else if (!sum.values.empty()) {
    sum.values.clear();
    sum.problem = "the regions' shares are not of one frequency";
  }
  CloseNational(reply, sum, results.size(), floor);
  return reply;
}

v1::FederatedSimilarCases MergeSimilarCases(
    std::vector<RegionResult<v1::SimilarCasesAnswer>> results, uint32_t top) {
  struct Ranked {
    v1::CaseMatch match;
    size_t region;
    int rank;
  };
  std::vector<Ranked> ranked;
  v1::FederatedSimilarCases reply;
  size_t region = 0;
  size_t ok = ForEachRegion(results, reply.mutable_regions(),
                            [&](v1::SimilarCasesAnswer& a, v1::RegionPart& part) {
                              for (int k = 0; k < a.matches_size(); ++k) {
                                ranked.push_back({std::move(*a.mutable_matches(k)), region, k});
                              }
                              a.clear_matches();
                              if (reply.notes_size() == 0) *reply.mutable_notes() = a.notes();
                              *part.mutable_similar() = std::move(a);
                              ++region;
                            });
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.match.score() != b.match.score()) return a.match.score() > b.match.score();
    if (a.region != b.region) return a.region < b.region;
    return a.rank < b.rank;
  });
  for (size_t k = 0; k < ranked.size() && k < top; ++k) {
    *reply.add_matches() = std::move(ranked[k].match);
  }
  reply.set_partial(ok < results.size());
  return reply;
}

}  // namespace pmdb::hub
