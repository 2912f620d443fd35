#include "node/beacon/request.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "node/base/strings.h"
#include "node/vocab/codes.h"
#include "query/parser.h"
#include "query/prepare.h"

namespace pmdb::beacon {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// A request parameter as given: one or more values, in order.
using Params = std::map<std::string, std::vector<std::string>>;

struct Filter {
  std::string id;
  std::string op = "=";
  std::optional<std::string> value;
  bool include_descendants = true;
  std::string scope;
};

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

absl::StatusOr<uint32_t> Number(std::string_view name, std::string_view text, uint32_t max) {
  uint64_t v = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || err != std::errc() || end != text.data() + text.size() || v > max) {
    return Bad(StrCat(name, " must be a whole number from 0 to ", max, ", not '",
                      ClipUtf8(text, 40), "'"));
  }
  return static_cast<uint32_t>(v);
}

v1::Criterion Leaf(v1::Sex sex) {
  v1::Criterion c;
  c.set_sex(sex);
  return c;
}

// Age in whole years from "P40Y", "P40Y6M" or "40".
absl::StatusOr<uint32_t> Years(std::string_view text) {
  if (!text.empty() && (text[0] == 'P' || text[0] == 'p')) {
    auto years = vocab::YearsInDuration(text);
    if (!years.ok()) return Bad(StrCat("age: '", ClipUtf8(text, 40), "' is not an ISO 8601 age"));
    if (*years > vocab::kMaxAge) return Bad(StrCat("an age is at most ", vocab::kMaxAge));
    return *years;
  }
  return Number("age", text, vocab::kMaxAge);
}

absl::StatusOr<v1::Criterion> AgeCriterion(const Filter& f) {
  if (!f.value) return Bad("the age filter needs an operator and a value, e.g. >= P40Y");
  auto years = Years(*f.value);
  if (!years.ok()) return years.status();
  const uint32_t y = *years;
  v1::Criterion c;
  v1::AgeCriterion* age = c.mutable_age();
  if (f.op == "=" || f.op == "!") {
    age->set_min(y);
    age->set_max(y);
  } else if (f.op == ">=") {
    age->set_min(y);
  } else if (f.op == ">") {
    age->set_min(y + 1);
  } else if (f.op == "<=") {
    age->set_max(y);
  } else if (f.op == "<") {
    if (y == 0) return Bad("age < 0 matches nobody; ask for age >= 0 or a larger bound");
    age->set_max(y - 1);
  } else {
    return Bad(StrCat("the age filter's operator is one of = ! < <= > >=, not '", f.op, "'"));
  }
  if (f.op == "!") {
    v1::Criterion n;
    *n.mutable_negation() = std::move(c);
    return n;
  }
  return c;
}

absl::StatusOr<v1::Criterion> SexCriterion(std::string_view value) {
  const std::string v = ToLower(value);
  if (v == "female" || v == "f") return Leaf(v1::FEMALE);
  if (v == "male" || v == "m") return Leaf(v1::MALE);
  if (v == "other" || v == "o") return Leaf(v1::OTHER_SEX);
  if (v == "unknown" || v == "u") return Leaf(v1::UNKNOWN_SEX);
  return Bad(StrCat("sex is female, male, other or unknown, not '", ClipUtf8(value, 40), "'"));
}

absl::StatusOr<v1::Criterion> FilterCriterion(const Filter& f) {
  if (!f.scope.empty() && f.scope != "individual" && f.scope != "individuals") {
    return Bad(StrCat("filter '", f.id, "': scope '", f.scope,
                      "' is not answered here (pmdb filters individuals)"));
  }
  const std::string upper = ToUpper(f.id);
  auto ontology_only = [&]() -> absl::Status {
    if (f.value) {
      return Bad(StrCat("filter '", f.id, "' is an ontology term: it takes no operator or value"));
    }
    if (!f.include_descendants) {
      return Bad(StrCat("filter '", f.id,
                        "': pmdb matches a term with the terms under it; includeDescendantTerms "
                        "false is not supported"));
    }
    return absl::OkStatus();
  };
  v1::Criterion c;
  if (upper.starts_with("HP:")) {
    if (absl::Status s = ontology_only(); !s.ok()) return s;
    auto id = vocab::NormalizeHpo(f.id);
    if (!id.ok()) return Bad(StrCat("filter '", ClipUtf8(f.id, 40), "' is not an HPO id"));
    c.set_hpo(*id);
    return c;
  }
  if (upper.starts_with("ICD10:") || upper.starts_with("ICD-10:") ||
      upper.starts_with("ICD10CM:")) {
    if (absl::Status s = ontology_only(); !s.ok()) return s;
    auto code = vocab::NormalizeIcd10(f.id);
    if (!code.ok())
      return Bad(StrCat("filter '", f.id, "': ", std::string(code.status().message())));
    c.set_diagnosis(*code);
    return c;
  }
  if (upper.starts_with("ATC:")) {
    if (absl::Status s = ontology_only(); !s.ok()) return s;
    auto code = vocab::NormalizeAtc(f.id);
    if (!code.ok())
      return Bad(StrCat("filter '", f.id, "': ", std::string(code.status().message())));
    c.set_treatment(*code);
    return c;
  }
  static const std::map<std::string, v1::Sex> kSexTerms = {{"NCIT:C16576", v1::FEMALE},
                                                           {"NCIT:C20197", v1::MALE},
                                                           {"NCIT:C17998", v1::UNKNOWN_SEX},
                                                           {"PATO:0000383", v1::FEMALE},
                                                           {"PATO:0000384", v1::MALE}};
  if (auto it = kSexTerms.find(upper); it != kSexTerms.end()) {
    if (absl::Status s = ontology_only(); !s.ok()) return s;
    return Leaf(it->second);
  }
  if (f.id == "sex") {
    if (!f.value || f.op != "=")
      return Bad("the sex filter is {\"id\": \"sex\", \"value\": \"female\"}");
    return SexCriterion(*f.value);
  }
  if (f.id == "age") return AgeCriterion(f);
  if (f.id == "pmdb:criterion") {
    if (!f.value || f.op != "=") {
      return Bad(
          "pmdb:criterion takes the question as its value, e.g. "
          "{\"id\": \"pmdb:criterion\", \"operator\": \"=\", \"value\": \"dx(C50) OR dx(C34)\"}");
    }
    auto parsed = query::ParseCriterion(*f.value);
    if (!parsed.ok()) {
      return Bad(StrCat("pmdb:criterion: ", query::FormatParseError(*f.value, parsed.status())));
    }
    return *parsed;
  }
  return Bad(StrCat("filter '", ClipUtf8(f.id, 80),
                    "' is not one pmdb answers: it takes HP:, ICD10: and ATC: terms, sex "
                    "(NCIT:C16576, NCIT:C20197, or id \"sex\"), age (id \"age\" with = ! < <= > "
                    ">=) and pmdb:criterion"));
}

// The genomic request parameters: one variant, one range, or a gene.
absl::StatusOr<std::optional<v1::Criterion>> GenomicCriterion(const Params& p, Struct* echo) {
  auto one = [&](const char* key) -> std::optional<std::string> {
    auto it = p.find(key);
    if (it == p.end() || it->second.empty()) return std::nullopt;
    return it->second.front();
  };
  for (const auto& [key, values] : p) {
    static const std::set<std::string> kKnown = {"assemblyId", "referenceName",  "start",
                                                 "end",        "referenceBases", "alternateBases",
                                                 "geneId",     "geneid"};
    if (!kKnown.contains(key)) {
      return Bad(StrCat("request parameter '", ClipUtf8(key, 40),
                        "' is not supported (pmdb answers a variant, a range or a gene)"));
    }
    Value& v = (*echo->mutable_fields())[key == "geneid" ? "geneId" : key];
    if (key == "start" || key == "end") {
      for (const std::string& s : values) {
        auto n = Number(key, s, 1u << 31);
        if (!n.ok()) return n.status();
        v.mutable_list_value()->add_values()->set_number_value(*n);
      }
    } else {
      if (values.size() != 1) return Bad(StrCat("request parameter '", key, "' takes one value"));
      v.set_string_value(values.front());
    }
  }
  std::optional<std::string> gene = one("geneId");
  if (!gene) gene = one("geneid");
  const bool positional = p.contains("start") || p.contains("end") || p.contains("referenceName") ||
                          p.contains("referenceBases") || p.contains("alternateBases");
  if (gene && positional) {
    return Bad("give geneId or a position (referenceName, start, ...), not both");
  }
  v1::Criterion c;
  if (gene) {
    if (!query::IsChromName(*gene)) {
      return Bad("geneId is an HGNC symbol: letters, digits, '_', '.' and '-'");
    }
    c.mutable_gene()->set_symbol(*gene);
    return std::optional<v1::Criterion>(std::move(c));
  }
  if (!positional) return std::optional<v1::Criterion>();
  std::optional<std::string> assembly = one("assemblyId");
  std::optional<std::string> chrom = one("referenceName");
  if (!assembly || !chrom) {
    return Bad("a genomic query needs assemblyId (GRCh37 or GRCh38) and referenceName");
  }
  auto normalized = vocab::NormalizeAssembly(assembly->substr(0, assembly->find('.')));
  if (!normalized.ok()) return Bad("assemblyId is GRCh37 or GRCh38 (with or without a patch)");
  *assembly = *normalized;
  if (!query::IsChromName(*chrom)) {
    return Bad("referenceName is a chromosome name: letters, digits, '_', '.' and '-'");
  }
  const std::vector<std::string> none;
  const auto& starts = p.contains("start") ? p.at("start") : none;
  const auto& ends = p.contains("end") ? p.at("end") : none;
  if (starts.size() != 1 || ends.size() > 1) {
    return Bad(starts.empty() ? "a genomic query needs start (0-based)"
                              : "bracket queries (two values of start or end) are not supported");
  }
  const uint32_t start = *Number("start", starts[0], 1u << 31);
  std::optional<std::string> ref = one("referenceBases");
  std::optional<std::string> alt = one("alternateBases");
  for (const auto* bases : {&ref, &alt}) {
    if (*bases && !query::IsAllele(**bases)) {
      return Bad("referenceBases and alternateBases are bases (A, C, G, T, N)");
    }
  }
  if (ends.empty()) {
    if (!alt || !ref) {
      return Bad(
          "a variant is asked with start, referenceBases and alternateBases (pmdb "
          "matches a variant by both alleles); for a region give start and end");
    }
    v1::VariantCriterion* v = c.mutable_variant();
    v->set_assembly(*assembly);
    v->set_chrom(*chrom);
    v->set_pos(start + 1);  // Beacon's start is 0-based
    v->set_ref(*ref);
    v->set_alt(*alt);
    return std::optional<v1::Criterion>(std::move(c));
  }
  if (ref || alt) {
    return Bad(
        "referenceBases and alternateBases with start and end (a range narrowed to "
        "alleles) are not supported: ask for the variant with start alone");
  }
  const uint32_t end = *Number("end", ends[0], 1u << 31);
  if (end <= start) return Bad("end must be greater than start (0-based, half-open)");
  v1::RangeCriterion* r = c.mutable_range();
  r->set_assembly(*assembly);
  r->set_chrom(*chrom);
  r->set_start(start + 1);
  r->set_end(end);
  return std::optional<v1::Criterion>(std::move(c));
}

absl::StatusOr<Granularity> ParseGranularity(std::string_view g) {
  if (g == "boolean") return Granularity::kBoolean;
  if (g == "count") return Granularity::kCount;
  if (g == "record") return Granularity::kRecord;
  return Bad(
      StrCat("requestedGranularity is boolean, count or record, not '", ClipUtf8(g, 40), "'"));
}

absl::Status ParseIncludeResultsets(std::string_view v, BeaconQuery* q) {
  if (v != "ALL" && v != "HIT" && v != "MISS" && v != "NONE") {
    return Bad("includeResultsetResponses is ALL, HIT, MISS or NONE");
  }
  q->include_resultset_responses = std::string(v);
  return absl::OkStatus();
}

// Joins the filters and the genomic criterion into q->criterion.
// Genomic parameters are read for individuals too: the individuals carrying the variant, or a
// variant in the range.
absl::Status Finish(const std::vector<Filter>& filters, const Params& genomic, BeaconQuery* q) {
  std::vector<v1::Criterion> parts;
  for (const Filter& f : filters) {
    auto c = FilterCriterion(f);
    if (!c.ok()) return c.status();
    parts.push_back(*std::move(c));
    q->filter_ids.push_back(f.id);
  }
  Struct echo;
  auto g = GenomicCriterion(genomic, &echo);
  if (!g.ok()) return g.status();
  if (*g) {
    q->genomic = (*g)->kind_case();
    parts.push_back(**std::move(g));
  }
  if (!echo.fields().empty()) {
    *(*q->request_parameters.mutable_fields())["g_variant"].mutable_struct_value() = echo;
  }
  if (parts.size() == 1) {
    q->criterion = std::move(parts.front());
  } else if (parts.size() > 1) {
    for (v1::Criterion& c : parts) *q->criterion.mutable_all_of()->add_items() = std::move(c);
  }
  // The checks the hub makes before it records a question, made here so that a request that
  // fails them is a 400 naming why.
  if (q->criterion.kind_case() != v1::Criterion::KIND_NOT_SET)
    return query::CheckLimits(q->criterion);
  return absl::OkStatus();
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view part : Split(s, ',')) {
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

// A JSON value as the parameter's text: strings as they are, whole numbers without a fraction.
absl::StatusOr<std::vector<std::string>> ParamValues(const std::string& key, const Value& v) {
  std::vector<std::string> out;
  auto scalar = [&](const Value& x) -> absl::Status {
    if (x.has_string_value()) {
      out.push_back(x.string_value());
    } else if (x.kind_case() == Value::kNumberValue && x.number_value() >= 0 &&
               x.number_value() == std::floor(x.number_value()) && x.number_value() < 4e9) {
      out.push_back(std::to_string(static_cast<uint64_t>(x.number_value())));
    } else {
      return Bad(StrCat("request parameter '", key, "' must be a string or a whole number"));
    }
    return absl::OkStatus();
  };
  if (v.has_list_value()) {
    for (const Value& x : v.list_value().values()) {
      if (absl::Status s = scalar(x); !s.ok()) return s;
    }
  } else if (absl::Status s = scalar(v); !s.ok()) {
    return s;
  }
  return out;
}

}  // namespace

std::string GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kBoolean:
      return "boolean";
    case Granularity::kCount:
      return "count";
    case Granularity::kRecord:
      return "record";
  }
  return "boolean";
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::StatusOr<BeaconQuery> ParseGetQuery(std::string_view query) {
  BeaconQuery q;
  std::vector<Filter> filters;
  Params genomic;
  for (std::string_view pair : Split(query, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = PercentDecode(pair.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    // Every term, code, name and allele of a question is printable ASCII.
    for (const std::string* s : {&key, &value}) {
      if (std::any_of(s->begin(), s->end(), [](char c) { return c < ' ' || c > '~'; })) {
        return Bad("query parameters are printable ASCII (after percent-decoding)");
      }
    }
    if (key == "filters") {
      for (std::string& id : SplitList(value)) filters.push_back({.id = std::move(id)});
    } else if (key == "pmdb_criterion") {
      filters.push_back({.id = "pmdb:criterion", .value = value});
    } else if (key == "requestedGranularity") {
      auto g = ParseGranularity(value);
      if (!g.ok()) return g.status();
      q.granularity = *g;
    } else if (key == "skip" || key == "limit") {
      auto n = Number(key, value, 1'000'000);
      if (!n.ok()) return n.status();
      (key == "skip" ? q.skip : q.limit) = *n;
    } else if (key == "includeResultsetResponses") {
      if (absl::Status s = ParseIncludeResultsets(value, &q); !s.ok()) return s;
    } else if (key == "testMode") {
      q.test_mode = value == "true";
    } else if (key == "requestedSchema") {
      q.requested_schemas.push_back(value);
    } else if (key == "start" || key == "end") {
      for (std::string& v : SplitList(value)) genomic[key].push_back(std::move(v));
    } else {
      genomic[key].push_back(value);
    }
  }
  if (absl::Status s = Finish(filters, genomic, &q); !s.ok()) return s;
  return q;
}

absl::StatusOr<BeaconQuery> ParsePostBody(std::string_view body) {
  Struct doc;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &doc, options);
  if (!parsed.ok()) return Bad("the request body is not a JSON object (a beaconRequestBody)");
  BeaconQuery q;
  const auto& top = doc.fields();
  if (auto meta = top.find("meta"); meta != top.end() && meta->second.has_struct_value()) {
    const auto& m = meta->second.struct_value().fields();
    if (auto rs = m.find("requestedSchemas"); rs != m.end() && rs->second.has_list_value()) {
      for (const Value& s : rs->second.list_value().values()) {
        if (s.has_string_value()) q.requested_schemas.push_back(s.string_value());
        if (s.has_struct_value()) {
          auto it = s.struct_value().fields().find("schema");
          if (it != s.struct_value().fields().end()) {
            q.requested_schemas.push_back(it->second.string_value());
          }
        }
      }
    }
  }
  std::vector<Filter> filters;
  Params genomic;
  auto query_it = top.find("query");
  if (query_it != top.end()) {
    if (!query_it->second.has_struct_value()) return Bad("query must be an object");
    const auto& qf = query_it->second.struct_value().fields();
    for (const auto& [key, v] : qf) {
      if (key == "requestedGranularity") {
        auto g = ParseGranularity(v.string_value());
        if (!g.ok()) return g.status();
        q.granularity = *g;
      } else if (key == "includeResultsetResponses") {
        if (absl::Status s = ParseIncludeResultsets(v.string_value(), &q); !s.ok()) return s;
      } else if (key == "testMode") {
        q.test_mode = v.bool_value();
      } else if (key == "pagination") {
        for (const char* k : {"skip", "limit"}) {
          auto it = v.struct_value().fields().find(k);
          if (it == v.struct_value().fields().end()) continue;
          auto values = ParamValues(k, it->second);
          if (!values.ok()) return values.status();
          if (values->size() != 1) return Bad(StrCat("pagination.", k, " is a whole number"));
          auto n = Number(k, values->front(), 1'000'000);
          if (!n.ok()) return n.status();
          (std::string_view(k) == "skip" ? q.skip : q.limit) = *n;
        }
      } else if (key == "filters") {
        if (!v.has_list_value()) return Bad("query.filters must be an array");
        for (const Value& item : v.list_value().values()) {
          Filter f;
          if (item.has_string_value()) {
            f.id = item.string_value();
          } else if (item.has_struct_value()) {
            const auto& ff = item.struct_value().fields();
            auto get = [&](const char* k) -> const Value* {
              auto it = ff.find(k);
              return it == ff.end() ? nullptr : &it->second;
            };
            if (const Value* id = get("id"); id != nullptr && id->has_string_value()) {
              f.id = id->string_value();
            }
            if (f.id.empty()) return Bad("every filter needs an id");
            if (const Value* op = get("operator")) f.op = op->string_value();
            if (const Value* value = get("value")) {
              if (value->has_string_value()) {
                f.value = value->string_value();
              } else if (value->kind_case() == Value::kNumberValue && value->number_value() >= 0 &&
                         value->number_value() <= 1e6 &&
                         value->number_value() == std::floor(value->number_value())) {
                f.value = std::to_string(static_cast<int64_t>(value->number_value()));
              } else {
                return Bad(StrCat("filter '", ClipUtf8(f.id, 80),
                                  "': value must be a string (or a whole number)"));
              }
            }
            if (const Value* d = get("includeDescendantTerms"))
              f.include_descendants = d->bool_value();
            if (const Value* s = get("scope")) f.scope = s->string_value();
            if (const Value* sim = get("similarity");
                sim != nullptr && sim->string_value() != "exact") {
              return Bad(StrCat("filter '", f.id, "': only similarity \"exact\" is supported"));
            }
          } else {
            return Bad("a filter is an object with an id, or an id string");
          }
          filters.push_back(std::move(f));
        }
      } else if (key == "requestParameters") {
        if (!v.has_struct_value()) return Bad("query.requestParameters must be an object");
        const Struct* params = &v.struct_value();
        // The schema's form nests the parameters under "g_variant"; the flat form older
        // clients send is read too.
        if (auto it = params->fields().find("g_variant");
            it != params->fields().end() && it->second.has_struct_value()) {
          if (params->fields().size() != 1) {
            return Bad("requestParameters holds either g_variant or flat parameters, not both");
          }
          params = &it->second.struct_value();
        }
        for (const auto& [pk, pv] : params->fields()) {
          auto values = ParamValues(pk, pv);
          if (!values.ok()) return values.status();
          genomic[pk] = *std::move(values);
        }
      }
      // Other keys of the query object are left to later versions of the specification.
    }
  }
  if (absl::Status s = Finish(filters, genomic, &q); !s.ok()) return s;
  return q;
}

}  // namespace pmdb::beacon
