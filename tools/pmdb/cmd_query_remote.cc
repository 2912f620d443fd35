// pmdb query --hub / --node: the same questions over mutual TLS.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "node/base/strings.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/engine.h"
#include "query/parser.h"
#include "security/released.h"
#include "tools/pmdb/output.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

std::string AfText(const v1::ReleasedCount& ac, const v1::ReleasedCount& an) {
  char buf[96];
  if (ac.has_noised() && an.has_noised()) {
    // Noised: two significant digits (the noise on a small AC is a large part of it) and the
    // 95 % interval.
    auto [lo, hi] = security::FrequencyInterval(ac, an);
    if (an.noised() <= 0) {
      std::snprintf(buf, sizeof(buf), "n/a (95 %%: %.2g-%.2g)", lo, hi);
      return buf;
    }
    double af = std::clamp(static_cast<double>(ac.noised()) / an.noised(), 0.0, 1.0);
    std::snprintf(buf, sizeof(buf), "~%.2g (95 %%: %.2g-%.2g)", af, lo, hi);
    return buf;
  }
  if (an.high() == 0) return "n/a (no called alleles)";
  if (ac.low() == ac.high() && an.low() == an.high()) {
    std::snprintf(buf, sizeof(buf), "%.6g", static_cast<double>(ac.low()) / an.low());
    return buf;
  }
  double lo = an.high() == UINT64_MAX ? 0.0 : static_cast<double>(ac.low()) / an.high();
  double hi = an.low() == 0 || ac.high() == UINT64_MAX
                  ? 1.0
                  : std::min(1.0, static_cast<double>(ac.high()) / an.low());
  std::snprintf(buf, sizeof(buf), "%.4g-%.4g", lo, hi);
  return buf;
}

std::string RegionStatusText(const v1::RegionPart& p) {
  std::string s = RegionStatusWord(p.status());
  if (!p.detail().empty()) StrAppend(&s, ": ", p.detail());
  return s;
}

// How many more new counts `left` rho buys at a region whose noise has this sigma.
std::string CountsLeft(double left, double sigma) {
  if (sigma <= 0) return "";
  double per_count = 1 / (2 * sigma * sigma);
  return StrCat("; about ", static_cast<long long>(std::floor(left / per_count + 1e-9)),
                " more new counts");
}

// How the numbers were protected, and what the caller's budgets at each region look like.
std::string DisclosureNote(const v1::DisclosureApplied& d, const RegionParts& parts) {
  std::string out = StrCat("Protection: ", d.description(), ".\n");
  if (d.mechanism() != "thresholds" && d.mechanism() != "exact") {
    StrAppend(&out,
              "\"~\" marks a noised number; the true count differs by noise of the "
              "standard deviation shown in --json (noise_sd).\n");
  }
  std::string budgets;
  for (const v1::RegionPart& p : parts) {
    const v1::DisclosureApplied* r = p.has_count()        ? &p.count().disclosure()
                                     : p.has_breakdown()  ? &p.breakdown().disclosure()
                                     : p.has_frequency()  ? &p.frequency().disclosure()
                                     : p.has_disclosure() ? &p.disclosure()
                                                          : nullptr;
    if (r == nullptr) continue;
    // The tightest of the caller's limits at the region is what the next question meets.
    const v1::BudgetState* tightest = nullptr;
    for (const v1::BudgetState& b : r->budgets()) {
      if (tightest == nullptr ||
          b.limit_rho() - b.spent_rho() < tightest->limit_rho() - tightest->spent_rho()) {
        tightest = &b;
      }
    }
    if (tightest == nullptr) continue;
    char left[96];
    double remaining = tightest->limit_rho() - tightest->spent_rho();
    std::snprintf(left, sizeof(left), "%.3g of %.3g (%s, %s", remaining, tightest->limit_rho(),
                  tightest->name().c_str(),
                  tightest->period_days() == 365
                      ? "per year"
                      : StrCat("per ", tightest->period_days(), " days").c_str());
    StrAppend(&budgets, budgets.empty() ? "" : ", ", p.region(), " ", left,
              CountsLeft(remaining, r->sigma()), ")");
  }
  if (!budgets.empty()) StrAppend(&out, "Privacy budget left (rho): ", budgets, ".\n");
  StrAppend(&out, "A missing region is never counted as zero.\n");
  return out;
}

// A region's disclosure in a reply, whatever the kind of answer; null when it has none.
const v1::DisclosureApplied* PartDisclosure(const v1::RegionPart& p) {
  return p.has_count()       ? &p.count().disclosure()
         : p.has_breakdown() ? &p.breakdown().disclosure()
         : p.has_frequency() ? &p.frequency().disclosure()
                             : nullptr;
}

// What a question would cost in every region (a cost quote), as text.
std::string CostText(const std::string& canonical, const std::string& kind,
                     const RegionParts& parts) {
  std::string out = StrCat("cost of ", kind, " ", canonical, " (nothing was charged)\n");
  for (const auto& p : parts) {
    const v1::DisclosureApplied* d = PartDisclosure(p);
    if (d == nullptr) {
      StrAppend(&out, "  ", Pad(p.region(), 20), RegionStatusText(p), "\n");
      continue;
    }
    const v1::BudgetState* tightest = nullptr;
    for (const v1::BudgetState& b : d->budgets()) {
      if (tightest == nullptr ||
          b.limit_rho() - b.spent_rho() < tightest->limit_rho() - tightest->spent_rho()) {
        tightest = &b;
      }
    }
    std::string price = !d->refusal().empty() ? StrCat("would be refused: ", d->refusal())
                        : d->rho() == 0       ? std::string("free (released before)")
                                              : StrCat("rho ", d->rho());
    std::string left;
    if (tightest != nullptr && d->refusal().empty()) {
      double l = tightest->limit_rho() - tightest->spent_rho();
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.3g", l);
      left = StrCat("; left ", buf, " of ", tightest->limit_rho(), " (", tightest->name(),
                    CountsLeft(l, d->sigma()), ")");
    }
    StrAppend(&out, "  ", Pad(p.region(), 20), price, left, "\n");
  }
  return out;
}

// "(partial: syd did not answer)", naming the missing regions.
std::string PartialNote(const RegionParts& parts) {
  std::string missing;
  int n = 0;
  for (const auto& p : parts) {
    if (p.status() == v1::REGION_OK) continue;
    StrAppend(&missing, missing.empty() ? "" : ", ", p.region());
    ++n;
  }
  if (n == 0) return "";
  return StrCat("  (partial: ", missing, n == 1 ? " did" : " did", " not answer)");
}

// No region answered: why, region by region.
std::string NoAnswerText(const std::string& canonical, const RegionParts& parts) {
  std::string out = StrCat("no region answered ", canonical, "; there is no number\n");
  for (const auto& p : parts) {
    StrAppend(&out, "  ", p.region(), ": ", RegionStatusWord(p.status()),
              p.detail().empty() ? "" : ": ", p.detail(), "\n");
  }
  return out;
}

void PrintWarnings(
    const google::protobuf::RepeatedPtrField<std::string>& own, const RegionParts& parts,
    const google::protobuf::RepeatedPtrField<std::string>* (*of)(const v1::RegionPart&)) {
  for (const std::string& w : own) std::cerr << "warning: " << w << "\n";
  // The same vocabulary warning comes from every region: once, naming them.
  std::vector<std::pair<std::string, std::string>> by_text;  // text, regions
  for (const auto& p : parts) {
    const auto* w = of(p);
    if (w == nullptr) continue;
    for (const std::string& s : *w) {
      auto it =
          std::find_if(by_text.begin(), by_text.end(), [&](const auto& e) { return e.first == s; });
      if (it == by_text.end()) {
        by_text.push_back({s, p.region()});
      } else {
        StrAppend(&it->second, ", ", p.region());
      }
    }
  }
  for (const auto& [text, regions] : by_text) {
    std::cerr << "warning: " << text << " (" << regions << ")\n";
  }
}

}  // namespace

absl::Status AskRemote(const Connection& connection, bool hub, const RemoteQuery& q,
                       const std::string& text, std::string* json, bool* answered) {
  *answered = true;
  auto criterion = query::ParseCriterion(text);
  if (!criterion.ok()) {
    return absl::InvalidArgumentError(query::FormatParseError(text, criterion.status()));
  }
  std::string canonical = query::FormatCriterion(*criterion);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(q.timeout_seconds));
  std::string out;

  if (!hub) {
    auto stub = v1::AdminService::NewStub(connection.channel);
    v1::AdminQueryRequest req;
    *req.mutable_criterion() = *criterion;
    for (v1::Dimension d : q.dimensions) req.add_dimensions(d);
    for (const std::string& d : q.diagnoses) req.add_diagnoses(d);
    req.set_frequency(q.kind == QueryKind::kFrequency);
    req.set_purpose(q.purpose);
    v1::AdminQueryReply reply;
    absl::Status s = transport::FromGrpc(stub->Query(&context, req, &reply));
    if (!s.ok()) return s;
    const std::string& region = connection.self.region;
    RegionParts parts;
    *parts.Add() = AsPart(region);
    const google::protobuf::RepeatedPtrField<std::string>* warnings = nullptr;
    std::string js;
    if (reply.has_count()) {
      *parts[0].mutable_count() = reply.count();
      js = CountJson(canonical, reply.count(), false, parts);
      out = StrCat(WithThousands(reply.count().count().low()), " individuals match ", canonical,
                   "   (region ", region, ", exact)\n");
      warnings = &reply.count().warnings();
    } else if (reply.has_frequency()) {
      const auto& f = reply.frequency();
      *parts[0].mutable_frequency() = f;
      js = FrequencyJson(canonical, f, false, parts);
      out = StrCat("AC=", f.ac().low(), "  AN=", f.an().low(), "  AF=", AfText(f.ac(), f.an()),
                   "   ", canonical, "\n");
      warnings = &f.warnings();
    } else {
      const auto& b = reply.breakdown();
      google::protobuf::RepeatedPtrField<v1::ReleasedCell> regional = b.cells();
      for (v1::ReleasedCell& c : regional) c.add_labels(region);
      v1::BreakdownAnswer own = b;
      own.clear_cells();  // in `regional`, as the hub lists a region's cells
      *parts[0].mutable_breakdown() = std::move(own);
      js = BreakdownJson(canonical, b, regional, false, parts);
      out = StrCat(canonical, "   (region ", region, ", exact)\n");
      for (const auto& cell : b.cells()) {
        std::string row;
        for (int i = 0; i < cell.labels_size(); ++i) StrAppend(&row, "  ", Pad(cell.labels(i), 12));
        if (cell.count().low() != 0)
          StrAppend(&out, row, "  ", WithThousands(cell.count().low()), "\n");
      }
      warnings = &b.warnings();
    }
    if (json != nullptr) {
      *json = js;
    } else {
      std::cout << out;
      for (const std::string& w : *warnings) std::cerr << "warning: " << w << "\n";
    }
    return absl::OkStatus();
  }

  auto stub = v1::FederationService::NewStub(connection.channel);
  std::string js;
  std::string note;
  auto missing = [](const RegionParts& parts) {
    int n = 0;
    for (const auto& p : parts) n += p.status() != v1::REGION_OK;
    return n;
  };
  switch (q.kind) {
    case QueryKind::kCount: {
      v1::CountRequest req;
      *req.mutable_criterion() = *criterion;
      req.set_cost_only(q.cost_only);
      req.set_per_region(q.per_region);
      v1::FederatedCount reply;
      absl::Status s = transport::FromGrpc(stub->Count(&context, req, &reply));
      if (!s.ok()) return s;
      const RegionParts& parts = reply.regions();
      if (q.cost_only) {
        out = CostText(canonical, "count", parts);
        js = CostJson(canonical, "count", parts);
        break;
      }
      note = DisclosureNote(reply.disclosure(), reply.regions());
      v1::CountAnswer total;
      *total.mutable_count() = reply.total();
      *total.mutable_disclosure() = reply.disclosure();
      if (!reply.has_total()) total.clear_count();
      js = CountJson(canonical, total, reply.partial(), parts);
      if (!reply.has_total()) {
        *answered = false;
        out = NoAnswerText(canonical, parts);
        break;
      }
      out = StrCat(security::FormatWithInterval(reply.total()), " individuals match ", canonical,
                   PartialNote(parts), "\n");
      for (const auto& p : parts) {
        if (reply.has_national() && p.status() == v1::REGION_OK) continue;  // no region's number
        if (p.has_count()) {
          StrAppend(&out, "  ", Pad(p.region(), 20),
                    Pad(security::FormatWithInterval(p.count().count()), 24), "\n");
        } else {
          StrAppend(&out, "  ", Pad(p.region(), 20), Pad("-", 24), RegionStatusText(p), "\n");
        }
      }
      if (json == nullptr)
        PrintWarnings(total.warnings(), parts, [](const v1::RegionPart& p) {
          return p.has_count() ? &p.count().warnings() : nullptr;
        });
      break;
    }
    case QueryKind::kFrequency: {
      v1::FrequencyRequest req;
      *req.mutable_criterion() = *criterion;
      req.set_cost_only(q.cost_only);
      req.set_per_region(q.per_region);
      v1::FederatedFrequency reply;
      absl::Status s = transport::FromGrpc(stub->Frequency(&context, req, &reply));
      if (!s.ok()) return s;
      const RegionParts& parts = reply.regions();
      if (q.cost_only) {
        out = CostText(canonical, "frequency", parts);
        js = CostJson(canonical, "frequency", parts);
        break;
      }
      note = DisclosureNote(reply.disclosure(), reply.regions());
      v1::FrequencyAnswer total;
      *total.mutable_ac() = reply.ac();
      *total.mutable_an() = reply.an();
      *total.mutable_disclosure() = reply.disclosure();
      if (!reply.has_ac()) {
        total.clear_ac();
        total.clear_an();
      }
      js = FrequencyJson(canonical, total, reply.partial(), parts);
      if (!reply.has_ac()) {
        *answered = false;
        out = NoAnswerText(canonical, parts);
        break;
      }
      out = StrCat("AC=", security::FormatWithInterval(reply.ac()),
                   "  AN=", security::FormatWithInterval(reply.an()),
                   "\n  AF=", AfText(reply.ac(), reply.an()), "   ", canonical, PartialNote(parts),
                   "\n");
      for (const auto& p : parts) {
        if (reply.has_national() && p.status() == v1::REGION_OK) continue;  // no region's number
        if (p.has_frequency()) {
          StrAppend(&out, "  ", Pad(p.region(), 20),
                    "AC=", Pad(security::FormatReleased(p.frequency().ac()), 10),
                    "AN=", Pad(security::FormatReleased(p.frequency().an()), 10),
                    "AF=", AfText(p.frequency().ac(), p.frequency().an()), "\n");
        } else {
          StrAppend(&out, "  ", Pad(p.region(), 20), RegionStatusText(p), "\n");
        }
      }
      if (json == nullptr)
        PrintWarnings(total.warnings(), parts, [](const v1::RegionPart& p) {
          return p.has_frequency() ? &p.frequency().warnings() : nullptr;
        });
      break;
    }
    case QueryKind::kBreakdown: {
      v1::BreakdownRequest req;
      *req.mutable_criterion() = *criterion;
      for (v1::Dimension d : q.dimensions) req.add_dimensions(d);
      for (const std::string& d : q.diagnoses) req.add_diagnoses(d);
      req.set_cost_only(q.cost_only);
      req.set_per_region(q.per_region);
      v1::FederatedBreakdown reply;
      absl::Status s = transport::FromGrpc(stub->Breakdown(&context, req, &reply));
      if (!s.ok()) return s;
      const RegionParts& parts = reply.regions();
      if (q.cost_only) {
        std::string of = StrCat("breakdown by ", query::FormatDimensions(q.dimensions));
        out = CostText(canonical, of, parts);
        js = CostJson(canonical, of, parts);
        break;
      }
      note = DisclosureNote(reply.disclosure(), reply.regions());
      v1::BreakdownAnswer totals;
      *totals.mutable_dimensions() = reply.dimensions();
      *totals.mutable_cells() = reply.totals();
      *totals.mutable_disclosure() = reply.disclosure();
      js = BreakdownJson(canonical, totals, reply.cells(), reply.partial(), parts);
      if (reply.totals_size() == 0 && missing(parts) == static_cast<int>(parts.size())) {
        *answered = false;
        out = NoAnswerText(canonical, parts);
        break;
      }
      if (json == nullptr)
        PrintWarnings(totals.warnings(), parts, [](const v1::RegionPart& p) {
          return p.has_breakdown() ? &p.breakdown().warnings() : nullptr;
        });
      // One row per cell: the total, then each answering region's released value.
      std::vector<std::string> answering;
      for (const auto& p : parts) {
        // A national total shows no region's own cells.
        if (p.status() == v1::REGION_OK && !reply.has_national()) answering.push_back(p.region());
      }
      int dims = static_cast<int>(q.dimensions.size());
      auto key = [dims](const v1::ReleasedCell& c) {
        std::string k;
        for (int i = 0; i < dims; ++i) StrAppend(&k, c.labels(i), "\x1f");
        return k;
      };
      std::map<std::string, std::string> regional;  // labels + region -> text
      for (const auto& c : reply.cells()) {
        regional[key(c) + c.labels(dims)] = security::FormatReleased(c.count());
      }
      out = StrCat(canonical, PartialNote(parts), "\n");
      for (v1::Dimension d : q.dimensions) StrAppend(&out, "  ", Pad(query::DimensionName(d), 12));
      StrAppend(&out, "  ", Pad("total", 24));
      for (const std::string& r : answering)
        StrAppend(&out, Pad(r, std::max<size_t>(r.size() + 2, 8)));
      StrAppend(&out, "\n");
      int small_rows = 0;
      for (const auto& total : reply.totals()) {
        // People read the cells that hold someone; JSON keeps every cell for programs.
        if (total.count().low() == 0) {
          ++small_rows;
          continue;
        }
        std::string row;
        for (int i = 0; i < dims; ++i) StrAppend(&row, "  ", Pad(total.labels(i), 12));
        StrAppend(&row, "  ", Pad(security::FormatWithInterval(total.count()), 24));
        for (const std::string& r : answering) {
          auto it = regional.find(key(total) + r);
          StrAppend(&row, Pad(it == regional.end() ? "-" : it->second,
                              std::max<size_t>(r.size() + 2, 8)));
        }
        StrAppend(&out, row, "\n");
      }
      if (small_rows > 0) {
        StrAppend(&out, "  (", small_rows,
                  " cells with only small or hidden counts not shown; --json lists all)\n");
      }
      for (const auto& p : parts) {
        if (p.status() != v1::REGION_OK) {
          StrAppend(&out, "  ", Pad(p.region(), 20), RegionStatusText(p), "\n");
        }
      }
      break;
    }
  }
  if (!q.cost_only) StrAppend(&out, note);
  if (json != nullptr) {
    *json = js;
  } else {
    std::cout << out;
  }
  return absl::OkStatus();
}

}  // namespace pmdb::cli
