// pmdb query --hub / --node: the same questions over mutual TLS.
#include <cstdio>
#include <iostream>

#include "node/base/strings.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/engine.h"
#include "security/released.h"
#include "query/parser.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

std::string StatusName(v1::RegionStatus s) {
  switch (s) {
    case v1::REGION_OK: return "ok";
    case v1::REGION_UNAVAILABLE: return "unavailable";
    case v1::REGION_DEADLINE_EXCEEDED: return "deadline exceeded";
    case v1::REGION_REFUSED: return "refused by policy";
    case v1::REGION_INVALID: return "invalid question";
    default: return "unknown";
  }
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

std::string AfText(const v1::ReleasedCount& ac, const v1::ReleasedCount& an) {
  char buf[64];
  if (an.high() == 0) return "n/a (no called alleles)";
  if (ac.low() == ac.high() && an.low() == an.high()) {
    std::snprintf(buf, sizeof(buf), "%.6g", static_cast<double>(ac.low()) / an.low());
    return buf;
  }
  double lo = an.high() == UINT64_MAX ? 0.0 : static_cast<double>(ac.low()) / an.high();
  double hi = an.low() == 0 || ac.high() == UINT64_MAX ? 1.0
                                                       : std::min(1.0, static_cast<double>(ac.high()) / an.low());
  std::snprintf(buf, sizeof(buf), "%.4g-%.4g", lo, hi);
  return buf;
}

void WriteDisclosure(Json& j, const v1::DisclosureApplied& d) {
  j.Key("disclosure").BeginObject().Key("min_count").Uint(d.min_count()).Key("noise").Uint(d.noise())
      .Key("exact").Bool(d.exact()).EndObject();
}

void WritePartHeader(Json& j, const v1::RegionPart& p) {
  j.Key("region").String(p.region()).Key("status").String(StatusName(p.status()));
  if (!p.detail().empty()) j.Key("detail").String(p.detail());
  j.Key("elapsed_ms").Uint(p.elapsed_ms());
}

std::string DisclosureNote(uint32_t min_count) {
  return StrCat("Counts below ", min_count,
                " are shown as a range (\"<", min_count,
                "\"); a missing region is never counted as zero.\n");
}

std::string PartialNote(bool partial, int missing, int total) {
  return partial ? StrCat("  (partial: ", missing, " of ", total, " regions did not answer)") : "";
}

std::string RegionStatusText(const v1::RegionPart& p) {
  std::string s = StatusName(p.status());
  if (!p.detail().empty()) StrAppend(&s, ": ", p.detail());
  return s;
}

}  // namespace

absl::Status AskRemote(const Connection& connection, bool hub, const RemoteQuery& q,
                       const std::string& text, std::string* json) {
  auto criterion = query::ParseCriterion(text);
  if (!criterion.ok()) {
    return absl::InvalidArgumentError(query::FormatParseError(text, criterion.status()));
  }
  std::string canonical = query::FormatCriterion(*criterion);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(q.timeout_seconds));
  Json j;
  j.BeginObject().Key("query").String(canonical);
  std::string out;

  if (!hub) {
    auto stub = v1::AdminService::NewStub(connection.channel);
    v1::AdminQueryRequest req;
    *req.mutable_criterion() = *criterion;
    for (v1::Dimension d : q.dimensions) req.add_dimensions(d);
    req.set_frequency(q.kind == QueryKind::kFrequency);
    req.set_purpose(q.purpose);
    v1::AdminQueryReply reply;
    absl::Status s = transport::FromGrpc(stub->Query(&context, req, &reply));
    if (!s.ok()) return s;
    j.Key("region").String(connection.self.region);
    const google::protobuf::RepeatedPtrField<std::string>* warnings = nullptr;
    if (reply.has_count()) {
      j.Key("count").Uint(reply.count().count().low());
      out = StrCat(WithThousands(reply.count().count().low()), " individuals match ", canonical,
                   "   (region ", connection.self.region, ", exact)\n");
      warnings = &reply.count().warnings();
    } else if (reply.has_frequency()) {
      const auto& f = reply.frequency();
      j.Key("ac").Uint(f.ac().low()).Key("an").Uint(f.an().low());
      out = StrCat("AC=", f.ac().low(), "  AN=", f.an().low(), "  AF=", AfText(f.ac(), f.an()),
                   "   ", canonical, "\n");
      warnings = &f.warnings();
    } else {
      const auto& b = reply.breakdown();
      j.Key("breakdown").BeginObject().Key("cells").BeginArray();
      out = StrCat(canonical, "   (region ", connection.self.region, ", exact)\n");
      for (const auto& cell : b.cells()) {
        j.BeginObject();
        std::string row;
        for (int i = 0; i < cell.labels_size(); ++i) {
          j.Key(query::DimensionName(q.dimensions[i])).String(cell.labels(i));
          StrAppend(&row, "  ", Pad(cell.labels(i), 12));
        }
        j.Key("count").Uint(cell.count().low()).EndObject();
        if (cell.count().low() != 0) StrAppend(&out, row, "  ", WithThousands(cell.count().low()), "\n");
      }
      j.EndArray().EndObject();
      warnings = &b.warnings();
    }
    j.Key("warnings").BeginArray();
    for (const std::string& w : *warnings) j.String(w);
    j.EndArray().EndObject();
    if (json != nullptr) {
      *json = j.str();
    } else {
      std::cout << out;
      for (const std::string& w : *warnings) std::cerr << "warning: " << w << "\n";
    }
    return absl::OkStatus();
  }

  auto stub = v1::FederationService::NewStub(connection.channel);
  const google::protobuf::RepeatedPtrField<v1::RegionPart>* parts = nullptr;
  uint32_t min_count = 0;
  bool partial = false;
  switch (q.kind) {
    case QueryKind::kCount: {
      v1::CountRequest req;
      *req.mutable_criterion() = *criterion;
      v1::FederatedCount reply;
      absl::Status s = transport::FromGrpc(stub->Count(&context, req, &reply));
      if (!s.ok()) return s;
      parts = &reply.regions();
      partial = reply.partial();
      min_count = reply.disclosure().min_count();
      j.Key("total");
      WriteReleased(j, reply.total());
      j.Key("partial").Bool(partial);
      WriteDisclosure(j, reply.disclosure());
      int missing = 0;
      for (const auto& p : *parts) missing += p.status() != v1::REGION_OK;
      out = StrCat(security::FormatReleased(reply.total()), " individuals match ", canonical,
                   PartialNote(partial, missing, parts->size()), "\n");
      j.Key("regions").BeginArray();
      for (const auto& p : *parts) {
        j.BeginObject();
        WritePartHeader(j, p);
        if (p.has_count()) {
          j.Key("count");
          WriteReleased(j, p.count().count());
          StrAppend(&out, "  ", Pad(p.region(), 20), Pad(security::FormatReleased(p.count().count()), 12),
                    "\n");
        } else {
          StrAppend(&out, "  ", Pad(p.region(), 20), Pad("-", 12), RegionStatusText(p), "\n");
        }
        j.EndObject();
      }
      j.EndArray();
      break;
    }
    case QueryKind::kFrequency: {
      v1::FrequencyRequest req;
      *req.mutable_criterion() = *criterion;
      v1::FederatedFrequency reply;
      absl::Status s = transport::FromGrpc(stub->Frequency(&context, req, &reply));
      if (!s.ok()) return s;
      parts = &reply.regions();
      partial = reply.partial();
      min_count = reply.disclosure().min_count();
      j.Key("ac");
      WriteReleased(j, reply.ac());
      j.Key("an");
      WriteReleased(j, reply.an());
      j.Key("partial").Bool(partial);
      WriteDisclosure(j, reply.disclosure());
      int missing = 0;
      for (const auto& p : *parts) missing += p.status() != v1::REGION_OK;
      out = StrCat("AC=", security::FormatReleased(reply.ac()), "  AN=", security::FormatReleased(reply.an()),
                   "  AF=", AfText(reply.ac(), reply.an()), "   ", canonical,
                   PartialNote(partial, missing, parts->size()), "\n");
      j.Key("regions").BeginArray();
      for (const auto& p : *parts) {
        j.BeginObject();
        WritePartHeader(j, p);
        if (p.has_frequency()) {
          j.Key("ac");
          WriteReleased(j, p.frequency().ac());
          j.Key("an");
          WriteReleased(j, p.frequency().an());
          StrAppend(&out, "  ", Pad(p.region(), 20), "AC=", Pad(security::FormatReleased(p.frequency().ac()), 10),
                    "AN=", security::FormatReleased(p.frequency().an()), "\n");
        } else {
          StrAppend(&out, "  ", Pad(p.region(), 20), RegionStatusText(p), "\n");
        }
        j.EndObject();
      }
      j.EndArray();
      break;
    }
    case QueryKind::kBreakdown: {
      v1::BreakdownRequest req;
      *req.mutable_criterion() = *criterion;
      for (v1::Dimension d : q.dimensions) req.add_dimensions(d);
      v1::FederatedBreakdown reply;
      absl::Status s = transport::FromGrpc(stub->Breakdown(&context, req, &reply));
      if (!s.ok()) return s;
      parts = &reply.regions();
      partial = reply.partial();
      min_count = reply.disclosure().min_count();
      j.Key("partial").Bool(partial);
      WriteDisclosure(j, reply.disclosure());
      // One row per cell: the total, then each answering region's released value.
      std::vector<std::string> answering;
      for (const auto& p : *parts) {
        if (p.status() == v1::REGION_OK) answering.push_back(p.region());
      }
      std::map<std::string, std::string> regional;  // labels + region -> text
      auto key = [](const v1::ReleasedCell& c, int n) {
        std::string k;
        for (int i = 0; i < n; ++i) StrAppend(&k, c.labels(i), "\x1f");
        return k;
      };
      int dims = static_cast<int>(q.dimensions.size());
      for (const auto& c : reply.cells()) {
        regional[key(c, dims) + c.labels(dims)] = security::FormatReleased(c.count());
      }
      int missing = parts->size() - static_cast<int>(answering.size());
      out = StrCat(canonical, PartialNote(partial, missing, parts->size()), "\n");
      for (v1::Dimension d : q.dimensions) StrAppend(&out, "  ", Pad(query::DimensionName(d), 12));
      StrAppend(&out, "  ", Pad("total", 10));
      for (const std::string& r : answering) StrAppend(&out, Pad(r, std::max<size_t>(r.size() + 2, 8)));
      StrAppend(&out, "\n");
      j.Key("cells").BeginArray();
      int small_rows = 0;
      for (const auto& total : reply.totals()) {
        // People read the cells that hold someone; JSON keeps every cell for programs.
        bool shown = total.count().low() > 0;
        small_rows += !shown;
        j.BeginObject();
        std::string row;
        for (int i = 0; i < dims; ++i) {
          j.Key(query::DimensionName(q.dimensions[i])).String(total.labels(i));
          StrAppend(&row, "  ", Pad(total.labels(i), 12));
        }
        j.Key("total");
        WriteReleased(j, total.count());
        StrAppend(&row, "  ", Pad(security::FormatReleased(total.count()), 10));
        j.Key("regions").BeginObject();
        for (const auto& c : reply.cells()) {
          if (key(c, dims) != key(total, dims)) continue;
          j.Key(c.labels(dims));
          WriteReleased(j, c.count());
        }
        j.EndObject().EndObject();
        for (const std::string& r : answering) {
          auto it = regional.find(key(total, dims) + r);
          StrAppend(&row, Pad(it == regional.end() ? "-" : it->second, std::max<size_t>(r.size() + 2, 8)));
        }
        if (shown) StrAppend(&out, row, "\n");
      }
      j.EndArray();
      if (small_rows > 0) {
        StrAppend(&out, "  (", small_rows, " cells with only small or hidden counts not shown; --json lists all)\n");
      }
      j.Key("regions").BeginArray();
      for (const auto& p : *parts) {
        j.BeginObject();
        WritePartHeader(j, p);
        j.EndObject();
        if (p.status() != v1::REGION_OK) {
          StrAppend(&out, "  ", Pad(p.region(), 20), RegionStatusText(p), "\n");
        }
      }
      j.EndArray();
      break;
    }
  }
  j.EndObject();
  StrAppend(&out, DisclosureNote(min_count));
  if (json != nullptr) {
    *json = j.str();
  } else {
    std::cout << out;
  }
  return absl::OkStatus();
}

}  // namespace pmdb::cli
