#include "node/beacon/beacon_api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "node/base/strings.h"
#include "node/beacon/json.h"
#include "node/beacon/request.h"
#include "node/call/released.h"
#include "query/parser.h"
#include "security/released.h"

namespace pmdb::beacon {
namespace {

using google::protobuf::Value;

using json::Arr;
using json::Bool;
using json::Json;
using json::Null;
using json::Num;
using json::Obj;
using json::Set;
using json::Str;

const char* const kSpecBase = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/";

Value EntryTypesObject(bool public_tier) {
  Value all = Obj(
      {{"individual",
        Obj({{"id", Str("individual")},
             {"name", Str("Individual")},
             {"partOfSpecification", Str("Beacon v2.0.0")},
             {"description", Str("A person whose records a region holds; answered as counts "
                                 "of individuals, never as records")},
             {"ontologyTermForThisType",
              Obj({{"id", Str("NCIT:C25190")}, {"label", Str("Person")}})},
             {"defaultSchema", Obj({{"id", Str("ga4gh-beacon-individual-v2.0.0")},
                                    {"name", Str("Default schema for an individual")},
                                    {"referenceToSchemaDefinition",
                                     Str(StrCat(kSpecBase,
                                                "models/json/beacon-v2-default-model/individuals/"
                                                "defaultSchema.json"))},
                                    {"schemaVersion", Str("v2.0.0")}})}})},
       {"genomicVariant",
        Obj({{"id", Str("genomicVariant")},
             {"name", Str("Genomic variant")},
             {"partOfSpecification", Str("Beacon v2.0.0")},
             {"description", Str("A variant asked by its alleles; answered with its allele "
                                 "count, number and frequency per region and nationally, never "
                                 "with the individuals carrying it")},
             {"ontologyTermForThisType",
              Obj({{"id", Str("ENSGLOSSARY:0000092")}, {"label", Str("Variant")}})},
             {"defaultSchema",
              Obj({{"id", Str("ga4gh-beacon-variant-v2.0.0")},
                   {"name", Str("Default schema for a genomic variation")},
                   {"referenceToSchemaDefinition",
                    Str(StrCat(kSpecBase,
                               "models/json/beacon-v2-default-model/genomicVariations/"
                               "defaultSchema.json"))},
                   {"schemaVersion", Str("v2.0.0")}})}})},
       {"dataset",
        Obj({{"id", Str("dataset")},
             {"name", Str("Dataset")},
             {"partOfSpecification", Str("Beacon v2.0.0")},
             {"description", Str("A region's set of genotypes from one source and assembly, "
                                 "described by its name and assembly only")},
             {"ontologyTermForThisType",
              Obj({{"id", Str("NCIT:C47824")}, {"label", Str("Data set")}})},
             {"defaultSchema",
              Obj({{"id", Str("ga4gh-beacon-dataset-v2.0.0")},
                   {"name", Str("Default schema for datasets")},
                   {"referenceToSchemaDefinition",
                    Str(StrCat(kSpecBase,
                               "models/json/beacon-v2-default-model/datasets/defaultSchema.json"))},
                   {"schemaVersion", Str("v2.0.0")}})}})}});
  if (!public_tier) return all;
  // The public tier answers about variants only.
  return Obj({{"genomicVariant", all.struct_value().fields().at("genomicVariant")}});
}

// A released number as docs/json.md writes it.
Value Released(const v1::ReleasedCount& c) {
  const bool unbounded = c.high() == UINT64_MAX;
  return Obj(
      {{"low", Num(static_cast<double>(c.low()))},
       {"high", unbounded ? Null() : Num(static_cast<double>(c.high()))},
       {"noise_sd", Num(c.noise_sd())},
       {"noised", c.has_noised() ? Num(static_cast<double>(c.noised())) : Null()},
       {"ci95",
        Arr({Num(static_cast<double>(c.ci95_low())),
             c.ci95_high() == UINT64_MAX ? Null() : Num(static_cast<double>(c.ci95_high()))})},
       {"exact", Bool(c.low() == c.high() && c.noise_sd() == 0)}});
}

Value Disclosure(const v1::DisclosureApplied& d) {
  std::vector<Value> budgets;
  for (const v1::BudgetState& b : d.budgets()) {
    budgets.push_back(Obj({{"name", Str(b.name())},
                           {"spent_rho", Num(b.spent_rho())},
                           {"limit_rho", Num(b.limit_rho())},
                           {"period_days", Num(b.period_days())}}));
  }
  return Obj({{"mechanism", Str(d.mechanism())},
              {"description", Str(d.description())},
              {"min_count", Num(d.min_count())},
              {"sigma", Num(d.sigma())},
              {"rho", Num(d.rho())},
              {"project", Str(d.project())},
              {"budgets", Arr(std::move(budgets))}});
}

// meta of a query's answer: what was asked (receivedRequestSummary) and what is returned.
Value QueryMeta(const std::string& beacon_id, const char* entity, const char* schema,
                Granularity returned, const BeaconQuery& q) {
  Value received = Obj({{"apiVersion", Str(kBeaconApiVersion)},
                        {"requestedSchemas", Arr({})},
                        {"pagination", Obj({{"skip", Num(q.skip)}, {"limit", Num(q.limit)}})},
                        {"requestedGranularity", Str(GranularityName(q.granularity))},
                        {"includeResultsetResponses", Str(q.include_resultset_responses)},
                        {"testMode", Bool(q.test_mode)}});
  if (!q.filter_ids.empty()) {
    std::vector<Value> ids;
    for (const std::string& id : q.filter_ids) ids.push_back(Str(id));
    Set(&received, "filters", Arr(std::move(ids)));
  }
  if (!q.request_parameters.fields().empty()) {
    Value params;
    *params.mutable_struct_value() = q.request_parameters;
    Set(&received, "requestParameters", std::move(params));
  }
  return Obj(
      {{"beaconId", Str(beacon_id)},
       {"apiVersion", Str(kBeaconApiVersion)},
       {"returnedSchemas", Arr({Obj({{"entityType", Str(entity)}, {"schema", Str(schema)}})})},
       {"returnedGranularity", Str(GranularityName(returned))},
       {"receivedRequestSummary", std::move(received)}});
}

// Whether a result set is listed under includeResultsetResponses.
bool Listed(const std::string& include, bool exists) {
  return include == "ALL" || (include == "HIT" && exists) || (include == "MISS" && !exists);
}

// Why no region gave a number, one clause per region.
std::string Statuses(const google::protobuf::RepeatedPtrField<v1::RegionPart>& parts) {
  std::string why;
  for (const v1::RegionPart& part : parts) {
    StrAppend(&why, why.empty() ? "" : "; ", part.region(), ": ",
              call::RegionStatusWord(part.status()),
              part.detail().empty() ? "" : StrCat(" (", part.detail(), ")"));
  }
  return why;
}

// A released count is a number a Beacon may show when it is one number; a range (a count
// below the threshold, or a sum that includes one) is not.
bool IsOneNumber(const v1::ReleasedCount& c) { return c.low() == c.high(); }

// AC/AN when both are one number and AN is above zero: a frequency a Beacon may show.
std::optional<double> PointFrequency(const v1::ReleasedCount& ac, const v1::ReleasedCount& an) {
  if (!IsOneNumber(ac) || !IsOneNumber(an) || an.low() == 0) return std::nullopt;
  return std::min(1.0, static_cast<double>(ac.low()) / static_cast<double>(an.low()));
}

Value ReleasedFrequency(const v1::ReleasedCount& ac, const v1::ReleasedCount& an) {
  std::optional<double> af = PointFrequency(ac, an);
  auto [lo, hi] = security::FrequencyInterval(ac, an);
  return Obj({{"ac", Released(ac)},
              {"an", Released(an)},
              {"af", af ? Num(*af) : Null()},
              {"af_ci95", Arr({Num(lo), Num(hi)})}});
}

const char* const kAtcMainGroups[][2] = {
    {"A", "Alimentary tract and metabolism"},
    {"B", "Blood and blood forming organs"},
    {"C", "Cardiovascular system"},
    {"D", "Dermatologicals"},
    {"G", "Genito-urinary system and sex hormones"},
    {"H", "Systemic hormonal preparations, excluding sex hormones and insulins"},
    {"J", "Antiinfectives for systemic use"},
    {"L", "Antineoplastic and immunomodulating agents"},
    {"M", "Musculo-skeletal system"},
    {"N", "Nervous system"},
    {"P", "Antiparasitic products, insecticides and repellents"},
    {"R", "Respiratory system"},
    {"S", "Sensory organs"},
    {"V", "Various"}};

}  // namespace

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string CallerMessage(const absl::Status& status) {
  return HttpStatusOf(status) == 500 ? "the server could not answer; try again later"
                                     : std::string(status.message());
}

BeaconApi::BeaconApi(BeaconIdentity identity, BeaconBackend* backend, bool public_tier)
    : identity_(std::move(identity)), backend_(backend), public_tier_(public_tier) {
  BuildTerms();
}

std::string BeaconApi::ErrorBody(int status, const std::string& message) const {
  Value doc = Obj(
      {{"meta", Obj({{"beaconId", Str(identity_.id)},
                     {"apiVersion", Str(kBeaconApiVersion)},
                     {"returnedSchemas", Arr({})},
                     {"returnedGranularity", Str("boolean")},
                     {"receivedRequestSummary", Obj({{"apiVersion", Str(kBeaconApiVersion)},
                                                     {"requestedSchemas", Arr({})},
                                                     {"pagination", Obj({})},
                                                     {"requestedGranularity", Str("boolean")}})}})},
       {"error", Obj({{"errorCode", Num(status)}, {"errorMessage", Str(message)}})}});
  return Json(doc);
}

BeaconHttpReply BeaconApi::Error(int status, const std::string& message) const {
  return {.status = status, .body = ErrorBody(status, message)};
}

namespace {
Value InformationalMeta(const std::string& beacon_id, const char* entity, const char* schema) {
  return Obj(
      {{"beaconId", Str(beacon_id)},
       {"apiVersion", Str(kBeaconApiVersion)},
       {"returnedSchemas", Arr({Obj({{"entityType", Str(entity)}, {"schema", Str(schema)}})})}});
}
}  // namespace

BeaconHttpReply BeaconApi::Info() const {
  Value response =
      Obj({{"id", Str(identity_.id)},
           {"name", Str(identity_.name)},
           {"apiVersion", Str(kBeaconApiVersion)},
           {"environment", Str(identity_.environment)},
           {"organization",
            Obj({{"id", Str(identity_.organization)}, {"name", Str(identity_.organization)}})},
           {"description", Str(identity_.description)},
           {"version", Str(identity_.version)}});
  if (!identity_.contact.empty()) {
    Set(&(*response.mutable_struct_value()->mutable_fields())["organization"], "contactUrl",
        Str(identity_.contact));
  }
  Value doc = Obj({{"meta", InformationalMeta(identity_.id, "info", "beacon-info-v2.0.0")},
                   {"response", response}});
  return {.status = 200, .body = Json(doc), .cacheable = true};
}

BeaconHttpReply BeaconApi::ServiceInfo(const std::string& base_url) const {
  Value doc =
      Obj({{"id", Str(identity_.id)},
           {"name", Str(identity_.name)},
           {"type", Obj({{"group", Str("org.ga4gh")},
                         {"artifact", Str("beacon")},
                         {"version", Str(kBeaconApiVersion)}})},
           {"description", Str(identity_.description)},
           {"organization", Obj({{"name", Str(identity_.organization)},
                                 {"url", Str(identity_.url.empty() ? base_url : identity_.url)}})},
           {"environment", Str(identity_.environment)},
           {"version", Str(identity_.version)}});
  if (!identity_.contact.empty()) Set(&doc, "contactUrl", Str(identity_.contact));
  return {.status = 200, .body = Json(doc), .cacheable = true};
}

BeaconHttpReply BeaconApi::Configuration() const {
  Value doc = Obj(
      {{"meta", InformationalMeta(identity_.id, "configuration", "beacon-configuration-v2.0.0")},
       {"response",
        Obj({{"$schema",
              Str(StrCat(kSpecBase,
                         "framework/json/configuration/beaconConfigurationSchema.json"))},
             {"maturityAttributes",
              Obj({{"productionStatus", Str(identity_.environment == "prod"   ? "PROD"
                                            : identity_.environment == "test" ? "TEST"
                                                                              : "DEV")}})},
             {"securityAttributes",
              Obj({{"defaultGranularity", Str("boolean")},
                   {"securityLevels", Arr({Str(public_tier_ ? "PUBLIC" : "CONTROLLED")})}})},
             {"entryTypes", EntryTypesObject(public_tier_)}})}});
  return {.status = 200, .body = Json(doc), .cacheable = true};
}

BeaconHttpReply BeaconApi::Map(const std::string& base_url) const {
  if (public_tier_) {
    Value doc =
        Obj({{"meta", InformationalMeta(identity_.id, "map", "beacon-map-v2.0.0")},
             {"response",
              Obj({{"$schema",
                    Str(StrCat(kSpecBase, "framework/json/configuration/beaconMapSchema.json"))},
                   {"endpointSets",
                    Obj({{"genomicVariant",
                          Obj({{"entryType", Str("genomicVariant")},
                               {"rootUrl", Str(StrCat(base_url, "/g_variants"))},
                               {"filteringTermsUrl",
                                Str(StrCat(base_url, "/g_variants/filtering_terms"))}})}})}})}});
    return {.status = 200, .body = Json(doc), .cacheable = true};
  }
  Value doc = Obj(
      {{"meta", InformationalMeta(identity_.id, "map", "beacon-map-v2.0.0")},
       {"response",
        Obj({{"$schema",
              Str(StrCat(kSpecBase, "framework/json/configuration/beaconMapSchema.json"))},
             {"endpointSets",
              Obj({{"individual", Obj({{"entryType", Str("individual")},
                                       {"rootUrl", Str(StrCat(base_url, "/individuals"))},
                                       {"filteringTermsUrl",
                                        Str(StrCat(base_url, "/individuals/filtering_terms"))}})},
                   {"genomicVariant",
                    Obj({{"entryType", Str("genomicVariant")},
                         {"rootUrl", Str(StrCat(base_url, "/g_variants"))},
                         {"filteringTermsUrl",
                          Str(StrCat(base_url, "/g_variants/filtering_terms"))}})},
                   {"dataset",
                    Obj({{"entryType", Str("dataset")},
                         {"rootUrl", Str(StrCat(base_url, "/datasets"))},
                         {"singleEntryUrl", Str(StrCat(base_url, "/datasets/{id}"))}})}})}})}});
  return {.status = 200, .body = Json(doc), .cacheable = true};
}

BeaconHttpReply BeaconApi::EntryTypes() const {
  Value doc =
      Obj({{"meta", InformationalMeta(identity_.id, "entryType", "beacon-entry-types-v2.0.0")},
           {"response", Obj({{"entryTypes", EntryTypesObject(public_tier_)}})}});
  return {.status = 200, .body = Json(doc), .cacheable = true};
}

BeaconHttpReply BeaconApi::FilteringTerms(const std::string& query) const {
  // skip and limit page through the terms; without limit every term is listed (clients fetch
  // the list once, to offer codes as the user types).
  uint64_t skip = 0, limit = UINT64_MAX;
  for (std::string_view pair : Split(query, '&')) {
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key(pair.substr(0, eq));
    const std::string value = PercentDecode(pair.substr(eq + 1));
    if (key != "skip" && key != "limit") continue;
    uint64_t n = 0;
    auto [end, err] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || err != std::errc() || end != value.data() + value.size()) {
      return Error(400, StrCat(key, " must be a whole number"));
    }
    if (key == "skip") skip = n;
    if (key == "limit" && n > 0) limit = n;
  }
  // The public tier takes no filters, so it offers none.
  if (public_tier_) return {.status = 200, .body = Json(TermsDocument({})), .cacheable = true};
  if (skip == 0 && limit == UINT64_MAX) {
    return {.status = 200, .body = all_terms_body_, .cacheable = true};
  }
  std::vector<Value> page;
  for (uint64_t i = skip; i < terms_.size() && page.size() < limit; ++i) page.push_back(terms_[i]);
  return {.status = 200, .body = Json(TermsDocument(std::move(page))), .cacheable = true};
}

Value BeaconApi::TermsDocument(std::vector<Value> terms) const {
  return Obj(
      {{"meta", InformationalMeta(identity_.id, "filteringTerm", "beacon-filtering-terms-v2.0.0")},
       {"response", Obj({{"filteringTerms", Arr(std::move(terms))}, {"resources", resources_}})}});
}

void BeaconApi::BuildTerms() {
  auto add = [this](Value term) { terms_.push_back(std::move(term)); };
  const Value scopes = Arr({Str("individual"), Str("genomicVariant")});
  add(Obj({{"type", Str("alphanumeric")},
           {"id", Str("sex")},
           {"label", Str("Sex")},
           {"scopes", scopes},
           {"values", Arr({Str("female"), Str("male"), Str("other"), Str("unknown")})}}));
  add(Obj({{"type", Str("alphanumeric")},
           {"id", Str("age")},
           {"label", Str("Age in whole years (= ! < <= > >=; 40 or P40Y)")},
           {"scopes", scopes}}));
  add(Obj({{"type", Str("alphanumeric")},
           {"id", Str("pmdb:criterion")},
           {"label", Str("A question in pmdb's language, with AND, OR and NOT")},
           {"scopes", scopes}}));
  add(Obj({{"type", Str("ontologyTerm")},
           {"id", Str("NCIT:C16576")},
           {"label", Str("Female")},
           {"scopes", scopes}}));
  add(Obj({{"type", Str("ontologyTerm")},
           {"id", Str("NCIT:C20197")},
           {"label", Str("Male")},
           {"scopes", scopes}}));
  for (const auto& [code, label] : kAtcMainGroups) {
    add(Obj({{"type", Str("ontologyTerm")},
             {"id", Str(StrCat("ATC:", code))},
             {"label", Str(label)},
             {"scopes", scopes}}));
  }
  std::vector<Value> resources = {
      Obj({{"id", Str("ncit")},
           {"name", Str("NCI Thesaurus")},
           {"nameSpacePrefix", Str("NCIT")},
           {"iriPrefix", Str("http://purl.obolibrary.org/obo/NCIT_")}}),
      Obj({{"id", Str("atc")},
           {"name", Str("Anatomical Therapeutic Chemical classification")},
           {"nameSpacePrefix", Str("ATC")}}),
      Obj({{"id", Str("icd10")}, {"name", Str("ICD-10")}, {"nameSpacePrefix", Str("ICD10")}})};
  if (const vocab::Ontology* hpo = backend_->ontology()) {
    resources.push_back(Obj({{"id", Str("hp")},
                             {"name", Str("Human Phenotype Ontology")},
                             {"nameSpacePrefix", Str("HP")},
                             {"iriPrefix", Str("http://purl.obolibrary.org/obo/HP_")},
                             {"version", Str(hpo->version())}}));
    for (uint32_t i = 0; i < hpo->size(); ++i) {
      const vocab::Ontology::Term& t = hpo->term(i);
      if (t.obsolete) continue;
      add(Obj({{"type", Str("ontologyTerm")},
               {"id", Str(t.id)},
               {"label", Str(t.name)},
               {"scopes", scopes}}));
    }
  }
  if (const vocab::CodeList* icd10 = backend_->icd10()) {
    for (const std::string& code : icd10->codes()) {
      add(Obj({{"type", Str("ontologyTerm")},
               {"id", Str(StrCat("ICD10:", code))},
               {"scopes", scopes}}));
    }
  }
  resources_ = Arr(std::move(resources));
  all_terms_body_ = Json(TermsDocument(terms_));
}

void BeaconApi::Individuals(const call::Credentials& who, const BeaconHttpRequest& request,
                            std::function<void(BeaconHttpReply)> reply) const {
  auto q = request.method == "POST" ? ParsePostBody(request.body) : ParseGetQuery(request.query);
  if (!q.ok()) return reply(Error(400, std::string(q.status().message())));
  if (q->granularity == Granularity::kRecord) {
    return reply(Error(403, "records never leave a region: ask for granularity boolean or count"));
  }
  if (q->criterion.kind_case() == v1::Criterion::KIND_NOT_SET) {
    return reply(Error(400,
                       "name at least one filter or request parameter (pmdb counts individuals "
                       "who match a condition)"));
  }
  auto count = std::make_shared<v1::CountRequest>();
  *count->mutable_criterion() = q->criterion;
  count->set_per_region(true);  // a result set per region (a national total has none)
  auto query = std::make_shared<BeaconQuery>(*std::move(q));
  const BeaconIdentity* identity = &identity_;
  const BeaconApi* self = this;
  backend_->Count(
      who, *count,
      [count, query, identity, self, reply](absl::StatusOr<v1::FederatedCount> answer) {
        if (!answer.ok()) {
          return reply(self->Error(HttpStatusOf(answer.status()), CallerMessage(answer.status())));
        }
        const v1::FederatedCount& f = *answer;
        std::vector<Value> regions, sets, warnings;
        for (const v1::RegionPart& part : f.regions()) {
          const bool answered =
              part.status() == v1::REGION_OK && part.has_count() && part.count().has_count();
          regions.push_back(Obj({{"region", Str(part.region())},
                                 {"status", Str(call::RegionStatusWord(part.status()))},
                                 {"detail", Str(part.detail())},
                                 {"count", answered ? Released(part.count().count()) : Null()}}));
          for (const std::string& w : part.count().warnings()) {
            warnings.push_back(Str(StrCat(part.region(), ": ", w)));
          }
          // A result set per region that released one number; the others are in info.
          if (!answered || !IsOneNumber(part.count().count())) continue;
          const uint64_t n = part.count().count().low();
          if (!Listed(query->include_resultset_responses, n > 0)) continue;
          sets.push_back(Obj({{"id", Str(part.region())},
                              {"setType", Str("individual")},
                              {"exists", Bool(n > 0)},
                              {"resultsCount", Num(static_cast<double>(n))},
                              {"results", Arr({})},
                              {"info", Obj({{"count", Released(part.count().count())}})}}));
        }
        if (!f.has_total()) {
          return reply(self->Error(
              503, StrCat("no region answered, so there is no number: ", Statuses(f.regions()))));
        }
        const v1::ReleasedCount& total = f.total();
        // One number: shown as asked. A range (below the threshold) is no number: the answer is
        // boolean, not found, and info says what the range is.
        const bool one = IsOneNumber(total);
        const Granularity returned = one ? query->granularity : Granularity::kBoolean;
        const bool exists = one && total.low() > 0;
        Value summary = Obj({{"exists", Bool(exists)}});
        if (returned == Granularity::kCount) {
          Set(&summary, "numTotalResults", Num(static_cast<double>(total.low())));
        }
        Value meta = QueryMeta(identity->id, "individual", "ga4gh-beacon-individual-v2.0.0",
                               returned, *query);
        std::string note =
            one ? "Every number passed the regions' disclosure control; see disclosure and each "
                  "region's count for the noise and a 95 % interval of the true value."
                : "The national count is a range below the disclosure threshold, so no number is "
                  "shown: exists is false because nothing can be said above the threshold.";
        Value info =
            Obj({{"pmdb", Obj({{"criterion", Str(query::FormatCriterion(count->criterion()))},
                               {"total", Released(total)},
                               {"partial", Bool(f.partial())},
                               {"disclosure", Disclosure(f.disclosure())},
                               {"regions", Arr(std::move(regions))},
                               {"warnings", Arr(std::move(warnings))},
                               {"note", Str(note)}})}});
        Value doc = Obj({{"meta", std::move(meta)},
                         {"responseSummary", std::move(summary)},
                         {"response", Obj({{"resultSets", Arr(std::move(sets))}})},
                         {"info", std::move(info)}});
        reply({.status = 200, .body = Json(doc)});
      });
}

void BeaconApi::GenomicVariants(const call::Credentials& who, const BeaconHttpRequest& request,
                                std::function<void(BeaconHttpReply)> reply) const {
  auto q = request.method == "POST" ? ParsePostBody(request.body) : ParseGetQuery(request.query);
  if (!q.ok()) return reply(Error(400, std::string(q.status().message())));
  if (q->granularity == Granularity::kRecord) {
    return reply(Error(403,
                       "pmdb answers a variant with its frequencies, not with records: ask "
                       "for granularity boolean or count"));
  }
  if (q->genomic != v1::Criterion::kVariant) {
    // A list of the variants in a range or a gene would be read from the data: which rare
    // variants a region's patients carry. One variant, named by its alleles, is a question.
    return reply(Error(400,
                       "g_variants answers one variant at a time: give assemblyId, "
                       "referenceName, start, referenceBases and alternateBases (filters "
                       "choose the cohort)"));
  }
  auto frequency = std::make_shared<v1::FrequencyRequest>();
  *frequency->mutable_criterion() = q->criterion;
  frequency->set_per_region(true);  // a frequency per region (a national total has none)
  auto query = std::make_shared<BeaconQuery>(*std::move(q));
  const BeaconIdentity* identity = &identity_;
  const BeaconApi* self = this;
  const std::string source = request.base_url;
  backend_->Frequency(
      who, *frequency,
      [frequency, query, identity, self, source,
       reply](absl::StatusOr<v1::FederatedFrequency> answer) {
        if (!answer.ok()) {
          return reply(self->Error(HttpStatusOf(answer.status()), CallerMessage(answer.status())));
        }
        const v1::FederatedFrequency& f = *answer;
        if (!f.has_ac() || !f.has_an()) {
          return reply(self->Error(
              503, StrCat("no region answered, so there is no number: ", Statuses(f.regions()))));
        }
        std::vector<Value> regions, sets, populations, warnings;
        for (const v1::RegionPart& part : f.regions()) {
          const bool answered = part.status() == v1::REGION_OK && part.has_frequency() &&
                                part.frequency().has_ac() && part.frequency().has_an();
          Value entry = Obj({{"region", Str(part.region())},
                             {"status", Str(call::RegionStatusWord(part.status()))},
                             {"detail", Str(part.detail())}});
          Set(&entry, "frequency",
              answered ? ReleasedFrequency(part.frequency().ac(), part.frequency().an()) : Null());
          regions.push_back(std::move(entry));
          for (const std::string& w : part.frequency().warnings()) {
            warnings.push_back(Str(StrCat(part.region(), ": ", w)));
          }
          if (!answered) continue;
          const v1::ReleasedCount& ac = part.frequency().ac();
          if (std::optional<double> af = PointFrequency(ac, part.frequency().an())) {
            populations.push_back(
                Obj({{"population", Str(part.region())}, {"alleleFrequency", Num(*af)}}));
          }
          if (!IsOneNumber(ac)) continue;
          const bool seen = ac.low() > 0;
          if (!Listed(query->include_resultset_responses, seen)) continue;
          sets.push_back(Obj({{"id", Str(part.region())},
                              {"setType", Str("genomicVariant")},
                              {"exists", Bool(seen)},
                              {"resultsCount", Num(seen ? 1 : 0)},
                              {"results", Arr({})},
                              {"info", ReleasedFrequency(ac, part.frequency().an())}}));
        }
        std::optional<double> national = PointFrequency(f.ac(), f.an());
        if (national) {
          populations.push_back(
              Obj({{"population", Str("national")}, {"alleleFrequency", Num(*national)}}));
        }
        const bool one = IsOneNumber(f.ac());
        const Granularity returned = one ? query->granularity : Granularity::kBoolean;
        const bool exists = one && f.ac().low() > 0;
        Value summary = Obj({{"exists", Bool(exists)}});
        if (returned == Granularity::kCount) Set(&summary, "numTotalResults", Num(exists ? 1 : 0));
        Value pmdb = Obj({{"criterion", Str(query::FormatCriterion(frequency->criterion()))},
                          {"frequency", ReleasedFrequency(f.ac(), f.an())},
                          {"partial", Bool(f.partial())},
                          {"disclosure", Disclosure(f.disclosure())},
                          {"regions", Arr(std::move(regions))},
                          {"warnings", Arr(std::move(warnings))},
                          {"note", Str(one ? "AC and AN passed each region's disclosure control; "
                                             "af_ci95 holds with at least 95 %."
                                           : "The national allele count is a range below the "
                                             "disclosure threshold, so no number is shown.")}});
        // The model's frequencyInPopulations: one population per region whose frequency is one
        // number, and the nation.
        if (!populations.empty()) {
          Set(&pmdb, "frequencyInPopulations",
              Arr({Obj({{"source", Str("pmdb federation")},
                        {"sourceReference", Str(source)},
                        {"frequencies", Arr(std::move(populations))}})}));
        }
        Value doc = Obj({{"meta", QueryMeta(identity->id, "genomicVariant",
                                            "ga4gh-beacon-variant-v2.0.0", returned, *query)},
                         {"responseSummary", std::move(summary)},
                         {"response", Obj({{"resultSets", Arr(std::move(sets))}})},
                         {"info", Obj({{"pmdb", std::move(pmdb)}})}});
        reply({.status = 200, .body = Json(doc)});
      });
}

void BeaconApi::PublicVariant(const BeaconHttpRequest& request,
                              std::function<void(BeaconHttpReply)> reply) const {
  auto q = request.method == "POST" ? ParsePostBody(request.body) : ParseGetQuery(request.query);
  if (!q.ok()) return reply(Error(400, std::string(q.status().message())));
  if (q->genomic != v1::Criterion::kVariant || !q->criterion.has_variant() ||
      !q->filter_ids.empty()) {
    return reply(Error(400,
                       "the public tier answers one variant, without filters: give assemblyId, "
                       "referenceName, start, referenceBases and alternateBases"));
  }
  auto query = std::make_shared<BeaconQuery>(*std::move(q));
  const BeaconApi* self = this;
  backend_->Exists(query->criterion, [query, self, reply](absl::StatusOr<v1::PublicAnswer> answer) {
    if (!answer.ok()) {
      return reply(self->Error(HttpStatusOf(answer.status()), CallerMessage(answer.status())));
    }
    std::vector<Value> warnings;
    for (const std::string& w : answer->warnings()) warnings.push_back(Str(w));
    // Whatever was asked, a boolean is what the public tier returns.
    Value doc =
        Obj({{"meta", QueryMeta(self->identity_.id, "genomicVariant", "ga4gh-beacon-variant-v2.0.0",
                                Granularity::kBoolean, *query)},
             {"responseSummary", Obj({{"exists", Bool(answer->exists())}})},
             {"info",
              Obj({{"pmdb",
                    Obj({{"criterion", Str(query::FormatCriterion(query->criterion))},
                         {"warnings", Arr(std::move(warnings))},
                         {"note",
                          Str(StrCat("exists means that the region's count of people carrying the "
                                     "variant, with noise of sd ",
                                     answer->noise_sd(), " (differential privacy), reached ",
                                     answer->threshold(),
                                     "; a variant carried by fewer people is usually answered "
                                     "false, and an answer may be wrong either way"))}})}})}});
    reply({.status = 200, .body = Json(doc)});
  });
}

void BeaconApi::Datasets(const call::Credentials& who, const BeaconHttpRequest& request,
                         const std::string& id, std::function<void(BeaconHttpReply)> reply) const {
  // Pagination only: datasets are listed whole, not chosen by filters.
  uint64_t skip = 0, limit = 10;
  for (std::string_view pair : Split(request.query, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key(pair.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    if (key == "requestedGranularity" || key == "testMode") continue;
    if (key != "skip" && key != "limit") {
      return reply(Error(400, StrCat("/datasets takes skip and limit only, not ", ClipUtf8(key, 40),
                                     "; every region's datasets are listed")));
    }
    uint64_t n = 0;
    auto [end, err] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || err != std::errc() || end != value.data() + value.size()) {
      return reply(Error(400, StrCat(key, " must be a whole number")));
    }
    (key == "skip" ? skip : limit) = n;
  }
  if (limit == 0) limit = 10;
  backend_->Info(who, [this, id, skip, limit,
                       reply = std::move(reply)](absl::StatusOr<v1::FederationInfo> info) {
    if (!info.ok()) return reply(Error(HttpStatusOf(info.status()), CallerMessage(info.status())));
    std::vector<Value> collections, regions, described;
    uint64_t seen = 0, total = 0;
    bool partial = false;  // a region that did not answer: its datasets are missing
    for (const v1::RegionPart& part : info->regions()) {
      partial = partial || part.status() != v1::REGION_OK;
      regions.push_back(Obj({{"region", Str(part.region())},
                             {"status", Str(call::RegionStatusWord(part.status()))}}));
      if (!part.has_info()) continue;
      for (const v1::DatasetName& d : part.info().datasets()) {
        const std::string name = StrCat(part.region(), ":", d.id());
        if (!id.empty() && name != id) continue;
        ++total;
        if (seen++ < skip || collections.size() >= limit) continue;
        // The model's dataset (its own `info` refers to a schema the specification lacks, so
        // pmdb's details go in the response's info, in the same order).
        collections.push_back(
            Obj({{"id", Str(name)},
                 {"name", Str(StrCat(d.id(), " (region ", part.region(), ")"))},
                 {"description",
                  Str(StrCat("genotypes of region ", part.region(), ", ",
                             d.assembly().empty() ? "assembly not given" : d.assembly()))}}));
        described.push_back(Obj({{"id", Str(name)},
                                 {"region", Str(part.region())},
                                 {"dataset", Str(d.id())},
                                 {"assembly", Str(d.assembly())}}));
      }
    }
    if (!id.empty() && total == 0) {
      return reply(Error(404, StrCat("no dataset ", ClipUtf8(id, 80),
                                     " in the regions that answered; /datasets lists them")));
    }
    BeaconQuery q;
    q.granularity = Granularity::kRecord;
    q.skip = static_cast<uint32_t>(std::min<uint64_t>(skip, UINT32_MAX));
    q.limit = static_cast<uint32_t>(std::min<uint64_t>(limit, UINT32_MAX));
    Value doc = Obj(
        {{"meta", QueryMeta(identity_.id, "dataset", "ga4gh-beacon-dataset-v2.0.0",
                            Granularity::kRecord, q)},
         {"responseSummary",
          Obj({{"exists", Bool(total > 0)}, {"numTotalResults", Num(static_cast<double>(total))}})},
         {"response", Obj({{"collections", Arr(std::move(collections))}})},
         {"info", Obj({{"pmdb", Obj({{"datasets", Arr(std::move(described))},
                                     {"regions", Arr(std::move(regions))},
                                     {"partial", Bool(partial)}})}})}});
    reply({.status = 200, .body = Json(doc)});
  });
}

void BeaconApi::Handle(const call::Credentials& who, const BeaconHttpRequest& request,
                       std::function<void(BeaconHttpReply)> reply) const {
  std::string path = request.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  if (public_tier_) {
    if (path == "/g_variants") {
      if (request.method != "GET" && !post)
        return reply(Error(405, "/g_variants takes GET or POST"));
      if (post && !ToLower(request.content_type).starts_with("application/json")) {
        return reply(Error(415,
                           "a POSTed query is a JSON beaconRequestBody (Content-Type: "
                           "application/json)"));
      }
      return PublicVariant(request, std::move(reply));
    }
    if (path.starts_with("/individuals") || path.starts_with("/datasets") ||
        (path.starts_with("/g_variants/") && path != "/g_variants/filtering_terms")) {
      return reply(Error(403,
                         "the public tier answers only whether one variant is seen "
                         "(/g_variants); the federation's researchers ask more at the hub"));
    }
  } else if (!who.peer.ok()) {
    return reply(Error(401, "a client certificate of the federation is needed"));
  }
  if (path == "/individuals" || path == "/g_variants") {
    // A question is asked with GET or with a JSON body (a form or plain-text POST, which a page
    // of another site could send, is not taken).
    if (request.method != "GET" && !post) return reply(Error(405, path + " takes GET or POST"));
    if (post && !ToLower(request.content_type).starts_with("application/json")) {
      return reply(Error(415,
                         "a POSTed query is a JSON beaconRequestBody (Content-Type: "
                         "application/json)"));
    }
    if (path == "/individuals") return Individuals(who, request, std::move(reply));
    return GenomicVariants(who, request, std::move(reply));
  }
  if (!get) return reply(Error(405, StrCat(path.empty() ? "/" : path, " takes GET")));
  if (path.empty() || path == "/" || path == "/info") return reply(Info());
  if (path == "/service-info") return reply(ServiceInfo(request.base_url));
  if (path == "/configuration") return reply(Configuration());
  if (path == "/map") return reply(Map(request.base_url));
  if (path == "/entry_types") return reply(EntryTypes());
  if (path == "/datasets") return Datasets(who, request, "", std::move(reply));
  if (path.starts_with("/datasets/")) {
    const std::string id = PercentDecode(path.substr(std::string("/datasets/").size()));
    if (id.find('/') != std::string::npos) {
      return reply(Error(403,
                         "pmdb answers questions about a dataset's people at /individuals and "
                         "/g_variants (the pmdb:criterion filter dataset(NAME)), not under "
                         "/datasets"));
    }
    return Datasets(who, request, id, std::move(reply));
  }
  if (path == "/filtering_terms" || path == "/individuals/filtering_terms" ||
      path == "/g_variants/filtering_terms") {
    return reply(FilteringTerms(request.query));
  }
  if (path.starts_with("/individuals/")) {
    return reply(Error(403,
                       "records never leave a region: there is no single-individual "
                       "endpoint; ask /individuals for a count"));
  }
  if (path.starts_with("/g_variants/")) {
    return reply(Error(403,
                       "pmdb answers a variant's frequencies at /g_variants; there are "
                       "no single-variant records or lists of carriers"));
  }
  return reply(
      Error(404, StrCat("no Beacon endpoint ", ClipUtf8(path, 80), "; /map lists the endpoints")));
}

}  // namespace pmdb::beacon
