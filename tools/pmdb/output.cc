#include "tools/pmdb/output.h"

#include <algorithm>
#include <map>

#include "node/base/strings.h"
#include "node/vocab/codes.h"
#include "query/engine.h"
#include "security/released.h"
#include "tools/pmdb/common.h"

namespace pmdb::cli {
namespace {

void WriteDisclosure(Json& j, const v1::DisclosureApplied& d) {
  j.Key("disclosure")
      .BeginObject()
      .Key("exact")
      .Bool(d.exact())
      .Key("mechanism")
      .String(d.mechanism())
      .Key("description")
      .String(d.description())
      .Key("min_count")
      .Uint(d.min_count())
      .Key("sigma")
      .Double(d.sigma())
      .Key("rho")
      .Double(d.rho())
      .Key("noise")
      .Uint(d.noise())
      .Key("project")
      .String(d.project())
      .Key("cost_only")
      .Bool(d.cost_only())
      .Key("refusal")
      .String(d.refusal());
  j.Key("budgets").BeginArray();
  for (const v1::BudgetState& b : d.budgets()) {
    j.BeginObject()
        .Key("name")
        .String(b.name())
        .Key("spent_rho")
        .Double(b.spent_rho())
        .Key("limit_rho")
        .Double(b.limit_rho())
        .Key("period_days")
        .Uint(b.period_days())
        .Key("renews");
    WriteTime(j, b.renews_unix());
    j.EndObject();
  }
  j.EndArray().EndObject();
}

// A region's own disclosure, or null when it released nothing.
void WritePartDisclosure(Json& j, const v1::DisclosureApplied* d) {
  if (d != nullptr) {
    WriteDisclosure(j, *d);
  } else {
    j.Key("disclosure").Null();
  }
}

void WriteStrings(Json& j, std::string_view key,
                  const google::protobuf::RepeatedPtrField<std::string>& values) {
  j.Key(key).BeginArray();
  for (const std::string& v : values) j.String(v);
  j.EndArray();
}

// A region's warnings are the answer's warnings at the hub, prefixed with the region.
google::protobuf::RepeatedPtrField<std::string> AllWarnings(
    const google::protobuf::RepeatedPtrField<std::string>& own, const RegionParts& parts,
    const google::protobuf::RepeatedPtrField<std::string>* (*of)(const v1::RegionPart&)) {
  google::protobuf::RepeatedPtrField<std::string> out = own;
  if (parts.size() > 1) {
    for (const v1::RegionPart& p : parts) {
      if (const auto* w = of(p)) {
        for (const std::string& s : *w) *out.Add() = StrCat(p.region(), ": ", s);
      }
    }
  }
  return out;
}

void BeginPart(Json& j, const v1::RegionPart& p) {
  j.BeginObject()
      .Key("region")
      .String(p.region())
      .Key("status")
      .String(RegionStatusWord(p.status()));
  j.Key("detail").String(p.detail());
}

void WriteFrequency(Json& j, const v1::ReleasedCount& ac, const v1::ReleasedCount& an) {
  j.Key("ac");
  WriteReleased(j, ac);
  j.Key("an");
  WriteReleased(j, an);
  j.Key("af");
  if (an.high() == 0 && !an.has_noised()) {
    j.Null();  // no called alleles
    return;
  }
  double lo = an.high() == UINT64_MAX ? 0.0 : static_cast<double>(ac.low()) / an.high();
  double hi = an.low() == 0 || ac.high() == UINT64_MAX
                  ? 1.0
                  : std::min(1.0, static_cast<double>(ac.high()) / an.low());
  j.BeginObject().Key("low").Double(lo).Key("high").Double(hi);
  auto [ci_lo, ci_hi] = security::FrequencyInterval(ac, an);
  j.Key("ci95").BeginArray().Double(ci_lo).Double(ci_hi).EndArray();
  j.Key("exact").Bool(ac.low() == ac.high() && an.low() == an.high() && ac.noise_sd() == 0 &&
                      an.noise_sd() == 0);
  j.EndObject();
}

const char* CodeWord(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
      return "already_exists";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kAborted:
      return "aborted";
    case absl::StatusCode::kOutOfRange:
      return "out_of_range";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    default:
      return "internal";
  }
}

void WriteTicketFields(Json& j, const v1::ContactTicket& t) {
  j.Key("request_id").String(t.request_id()).Key("region").String(t.region());
  j.Key("state").String(ContactStateWord(t.state())).Key("answer").String(t.answer());
  j.Key("created");
  WriteTime(j, t.created_unix());
  j.Key("answered");
  WriteTime(j, t.answered_unix());
}

}  // namespace

std::string ContactStateWord(v1::ContactState s) {
  switch (s) {
    case v1::CONTACT_PENDING:
      return "pending";
    case v1::CONTACT_ACCEPTED:
      return "accepted";
    case v1::CONTACT_DECLINED:
      return "declined";
    default:
      return "unknown";
  }
}

void WriteTime(Json& j, int64_t unix_seconds) {
  if (unix_seconds == 0) {
    j.Null();
  } else {
    j.String(Rfc3339(unix_seconds));
  }
}

void WriteReleased(Json& j, const v1::ReleasedCount& c) {
  j.BeginObject().Key("low").Uint(c.low());
  if (c.high() == UINT64_MAX) {
    j.Key("high").Null();
  } else {
    j.Key("high").Uint(c.high());
  }
  j.Key("noise_sd").Double(c.noise_sd());
  j.Key("noised");
  if (c.has_noised()) {
    j.Int(c.noised());
  } else {
    j.Null();
  }
  j.Key("ci95").BeginArray().Uint(c.ci95_low());
  if (c.ci95_high() == UINT64_MAX) {
    j.Null();
  } else {
    j.Uint(c.ci95_high());
  }
  j.EndArray();
  j.Key("exact").Bool(c.low() == c.high() && c.noise_sd() == 0).EndObject();
}

std::string CostJson(std::string_view query, std::string_view of, const RegionParts& parts) {
  Json j;
  j.BeginObject().Key("query").String(query).Key("kind").String("cost").Key("of").String(of);
  j.Key("regions").BeginArray();
  for (const v1::RegionPart& p : parts) {
    BeginPart(j, p);
    const v1::DisclosureApplied* d = p.has_count()       ? &p.count().disclosure()
                                     : p.has_breakdown() ? &p.breakdown().disclosure()
                                     : p.has_frequency() ? &p.frequency().disclosure()
                                                         : nullptr;
    if (d == nullptr) {
      j.Key("rho").Null().Key("free").Null().Key("refusal").Null();
      j.Key("budgets").BeginArray().EndArray().EndObject();
      continue;
    }
    j.Key("rho").Double(d->rho()).Key("free").Bool(d->rho() == 0 && d->refusal().empty());
    j.Key("refusal").String(d->refusal()).Key("budgets").BeginArray();
    for (const v1::BudgetState& b : d->budgets()) {
      j.BeginObject().Key("name").String(b.name()).Key("spent_rho").Double(b.spent_rho());
      j.Key("limit_rho").Double(b.limit_rho()).Key("period_days").Uint(b.period_days());
      j.EndObject();
    }
    j.EndArray().EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

v1::RegionPart AsPart(const std::string& region) {
  v1::RegionPart p;
  p.set_region(region);
  p.set_status(v1::REGION_OK);
  return p;
}

std::string CountJson(std::string_view query, const v1::CountAnswer& answer, bool partial,
                      const RegionParts& parts) {
  Json j;
  j.BeginObject().Key("query").String(query).Key("kind").String("count").Key("count");
  if (answer.has_count()) {
    WriteReleased(j, answer.count());
  } else {
    j.Null();  // no region answered: no number
  }
  WriteDisclosure(j, answer.disclosure());
  WriteStrings(j, "warnings", AllWarnings(answer.warnings(), parts, [](const v1::RegionPart& p) {
                 return p.has_count() ? &p.count().warnings() : nullptr;
               }));
  j.Key("partial").Bool(partial).Key("regions").BeginArray();
  for (const v1::RegionPart& p : parts) {
    BeginPart(j, p);
    j.Key("count");
    if (p.has_count()) {
      WriteReleased(j, p.count().count());
    } else {
      j.Null();
    }
    WritePartDisclosure(j, p.has_count()        ? &p.count().disclosure()
                           : p.has_disclosure() ? &p.disclosure()  // a national total's part
                                                : nullptr);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string FrequencyJson(std::string_view query, const v1::FrequencyAnswer& answer, bool partial,
                          const RegionParts& parts) {
  Json j;
  j.BeginObject().Key("query").String(query).Key("kind").String("frequency");
  if (answer.has_ac()) {
    WriteFrequency(j, answer.ac(), answer.an());
  } else {
    j.Key("ac").Null().Key("an").Null().Key("af").Null();  // no region answered
  }
  WriteDisclosure(j, answer.disclosure());
  WriteStrings(j, "warnings", AllWarnings(answer.warnings(), parts, [](const v1::RegionPart& p) {
                 return p.has_frequency() ? &p.frequency().warnings() : nullptr;
               }));
  j.Key("partial").Bool(partial).Key("regions").BeginArray();
  for (const v1::RegionPart& p : parts) {
    BeginPart(j, p);
    if (p.has_frequency()) {
      WriteFrequency(j, p.frequency().ac(), p.frequency().an());
    } else {
      j.Key("ac").Null().Key("an").Null().Key("af").Null();
    }
    WritePartDisclosure(j, p.has_frequency()    ? &p.frequency().disclosure()
                           : p.has_disclosure() ? &p.disclosure()  // a national total's part
                                                : nullptr);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string BreakdownJson(std::string_view query, const v1::BreakdownAnswer& answer,
                          const google::protobuf::RepeatedPtrField<v1::ReleasedCell>& regional,
                          bool partial, const RegionParts& parts) {
  std::vector<v1::Dimension> dims;
  for (int d : answer.dimensions()) dims.push_back(static_cast<v1::Dimension>(d));
  auto labels = [&](const v1::ReleasedCell& c) {
    std::string k;
    for (size_t i = 0; i < dims.size() && i < static_cast<size_t>(c.labels_size()); ++i) {
      StrAppend(&k, c.labels(i), "\x1f");
    }
    return k;
  };
  std::map<std::string, std::vector<const v1::ReleasedCell*>> by_cell;
  for (const v1::ReleasedCell& c : regional) by_cell[labels(c)].push_back(&c);

  Json j;
  j.BeginObject().Key("query").String(query).Key("kind").String("breakdown");
  j.Key("breakdown").BeginObject().Key("dimensions").BeginArray();
  for (v1::Dimension d : dims) j.String(query::DimensionName(d));
  j.EndArray().Key("cells").BeginArray();
  for (const v1::ReleasedCell& cell : answer.cells()) {
    j.BeginObject();
    for (size_t i = 0; i < dims.size(); ++i) {
      j.Key(query::DimensionName(dims[i]))
          .String(i < static_cast<size_t>(cell.labels_size()) ? cell.labels(i) : "");
    }
    j.Key("count");
    WriteReleased(j, cell.count());
    j.Key("suppressed").Bool(cell.suppressed()).Key("complementary").Bool(cell.complementary());
    j.Key("regions").BeginObject();
    for (const v1::ReleasedCell* r : by_cell[labels(cell)]) {
      j.Key(r->labels(r->labels_size() - 1));
      WriteReleased(j, r->count());
    }
    j.EndObject().EndObject();
  }
  j.EndArray().EndObject();
  WriteDisclosure(j, answer.disclosure());
  WriteStrings(j, "warnings", AllWarnings(answer.warnings(), parts, [](const v1::RegionPart& p) {
                 return p.has_breakdown() ? &p.breakdown().warnings() : nullptr;
               }));
  j.Key("partial").Bool(partial).Key("regions").BeginArray();
  for (const v1::RegionPart& p : parts) {
    BeginPart(j, p);
    WritePartDisclosure(j, p.has_breakdown()    ? &p.breakdown().disclosure()
                           : p.has_disclosure() ? &p.disclosure()  // a national total's part
                                                : nullptr);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string SimilarJson(const v1::SimilarCasesAnswer& answer, bool partial,
                        const RegionParts& parts) {
  Json j;
  j.BeginObject().Key("matches").BeginArray();
  int rank = 0;
  for (const v1::CaseMatch& m : answer.matches()) {
    j.BeginObject().Key("rank").Uint(++rank).Key("region").String(m.region());
    j.Key("score").Double(m.score()).Key("phenotype_score").Double(m.phenotype_score());
    j.Key("genotype_score")
        .Double(m.genotype_score())
        .Key("diagnosis_score")
        .Double(m.diagnosis_score());
    j.Key("contradiction").Bool(m.contradiction());
    j.Key("phenotypes").BeginArray();
    for (const v1::PhenotypeMatch& p : m.phenotypes()) {
      j.BeginObject().Key("query_term").String(p.query_term()).Key("exact").Bool(p.exact());
      j.Key("common_term").String(p.common_term()).Key("common_label").String(p.common_label());
      j.Key("information_content").Double(p.information_content()).EndObject();
    }
    j.EndArray().Key("variants").BeginArray();
    for (const v1::VariantMatch& v : m.variants()) {
      j.BeginObject().Key("query_variant").String(v.query_variant()).Key("level").String(v.level());
      j.Key("zygosity");
      if (v.level() == "variant") {
        j.String(vocab::ZygosityName(v.zygosity()));
      } else {
        j.Null();
      }
      j.EndObject();
    }
    j.EndArray().Key("sex").String(vocab::SexCode(m.sex())).Key("age_band").String(m.age_band());
    j.Key("icd10_chapter").String(m.icd10_chapter()).Key("care_unit").String(m.care_unit());
    j.Key("contact").String(m.contact()).Key("case_reference").String(m.case_reference());
    j.Key("reference_expires");
    WriteTime(j, m.reference_expires_unix());
    j.Key("subject_id").String(m.subject_id()).EndObject();
  }
  j.EndArray().Key("notes").BeginArray();
  for (const v1::TermNote& n : answer.notes()) {
    j.BeginObject().Key("id").String(n.id()).Key("problem").String(n.problem());
    WriteStrings(j, "use_instead", n.use_instead());
    j.EndObject();
  }
  j.EndArray();
  WriteStrings(j, "warnings", answer.warnings());
  j.Key("partial").Bool(partial).Key("regions").BeginArray();
  for (const v1::RegionPart& p : parts) {
    BeginPart(j, p);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string TicketJson(const v1::ContactTicket& ticket) {
  Json j;
  j.BeginObject();
  WriteTicketFields(j, ticket);
  j.EndObject();
  return j.str();
}

std::string ContactListJson(const v1::ContactListReply& reply) {
  Json j;
  j.BeginObject().Key("requests").BeginArray();
  for (const v1::ContactView& v : reply.requests()) {
    j.BeginObject();
    WriteTicketFields(j, v.ticket());
    j.Key("requester").String(v.requester()).Key("reason").String(v.reason());
    j.Key("subject_id").String(v.subject_id()).Key("care_unit").String(v.care_unit()).EndObject();
  }
  j.EndArray();
  if (!reply.problem().empty()) j.Key("problem").String(reply.problem());
  j.EndObject();
  return j.str();
}

std::string ErrorJson(const absl::Status& status, std::string_view query) {
  Json j;
  j.BeginObject();
  if (!query.empty()) j.Key("query").String(query);
  j.Key("error").BeginObject().Key("code").String(CodeWord(status.code()));
  j.Key("message").String(std::string(status.message())).EndObject().EndObject();
  return j.str();
}

}  // namespace pmdb::cli
