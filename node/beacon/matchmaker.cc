#include "node/beacon/matchmaker.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>

#include "node/base/strings.h"
#include "node/beacon/json.h"
#include "node/vocab/case_query.h"
#include "node/vocab/codes.h"

namespace pmdb::beacon {
namespace {

using google::protobuf::Value;
using json::Arr;
using json::Field;
using json::Json;
using json::Num;
using json::Obj;
using json::Set;
using json::Str;

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

std::string Message(const std::string& text) { return Json(Obj({{"message", Str(text)}})); }

// A string field, or "" when absent; an error when present and not a string.
absl::StatusOr<std::string> Text(const Value& v, const char* key, const std::string& where) {
  const Value* f = Field(v, key);
  if (f == nullptr || f->has_null_value()) return std::string();
  if (!f->has_string_value()) return Bad(StrCat(where, ".", key, " must be a string"));
  return f->string_value();
}

// MME's assembly ("GRCh38", "GRCh38.p13", "GRCh37.p13") as pmdb's; NCBI36 is not held.
absl::StatusOr<std::string> Assembly(const std::string& text, const std::string& where) {
  const std::string base = text.substr(0, text.find('.'));
  auto a = vocab::NormalizeAssembly(base);
  if (!a.ok()) {
    return Bad(StrCat(where, ".assembly '", ClipUtf8(text, 40),
                      "' is not one pmdb holds (GRCh37 or GRCh38, with or without a patch)"));
  }
  return *a;
}

absl::StatusOr<v1::CaseVariant> GenomicFeature(const Value& g, const std::string& where) {
  v1::CaseVariant v;
  const Value* gene = Field(g, "gene");
  if (gene == nullptr) return Bad(StrCat(where, ".gene is mandatory"));
  auto gene_id = Text(*gene, "id", where + ".gene");
  if (!gene_id.ok()) return gene_id.status();
  if (gene_id->empty()) return Bad(StrCat(where, ".gene.id is mandatory"));
  if (gene_id->starts_with("ENSG") || std::all_of(gene_id->begin(), gene_id->end(), ::isdigit)) {
    // pmdb's gene tables are keyed by HGNC symbol; a symbol may come as a non-standard field.
    auto symbol = Text(*gene, "_geneName", where + ".gene");
    if (!symbol.ok()) return symbol.status();
    if (symbol->empty()) {
      return Bad(StrCat(where, ".gene.id '", ClipUtf8(*gene_id, 40),
                        "': pmdb matches genes by HGNC symbol; give the symbol (or _geneName)"));
    }
    v.set_gene(*symbol);
  } else {
    v.set_gene(*gene_id);
  }
  if (const Value* variant = Field(g, "variant")) {
    const std::string at = where + ".variant";
    auto assembly = Text(*variant, "assembly", at);
    auto chrom = Text(*variant, "referenceName", at);
    auto ref = Text(*variant, "referenceBases", at);
    auto alt = Text(*variant, "alternateBases", at);
    for (const auto* s : {&assembly, &chrom, &ref, &alt}) {
      if (!s->ok()) return s->status();
    }
    const Value* start = Field(*variant, "start");
    if (assembly->empty() || chrom->empty() || start == nullptr ||
        start->kind_case() != Value::kNumberValue || !(start->number_value() >= 0) ||
        start->number_value() >= 2147483647.0 ||
        start->number_value() != std::floor(start->number_value())) {
      return Bad(StrCat(at, " needs assembly, referenceName and start (a 0-based position)"));
    }
    if (ref->empty() || alt->empty()) {
      return Bad(StrCat(at,
                        ": pmdb matches a variant by its alleles; give referenceBases and "
                        "alternateBases (or only the gene)"));
    }
    auto a = Assembly(*assembly, at);
    if (!a.ok()) return a.status();
    v.set_assembly(*a);
    v.set_chrom(*chrom);
    v.set_pos(static_cast<uint32_t>(start->number_value()) + 1);  // MME's start is 0-based
    v.set_ref(*ref);
    v.set_alt(*alt);
  }
  if (const Value* z = Field(g, "zygosity"); z != nullptr && !z->has_null_value()) {
    if (z->kind_case() != Value::kNumberValue ||
        (z->number_value() != 1 && z->number_value() != 2)) {
      return Bad(StrCat(where, ".zygosity is 1 (heterozygous or hemizygous) or 2 (homozygous)"));
    }
    v.set_zygosity(z->number_value() == 2 ? v1::HOMOZYGOUS : v1::HETEROZYGOUS);
  }
  return v;
}

// The matched parts of a case as an MME patient stub. `genes`: the gene the query gave for
// each of its variants, by the variant's canonical form (vocab::FormatCaseVariant).
Value PatientStub(const v1::CaseMatch& m, const std::map<std::string, std::string>& genes) {
  std::vector<Value> features;
  for (const v1::PhenotypeMatch& p : m.phenotypes()) {
    // What the case shares with the query term: the term itself, or their common ancestor.
    features.push_back(Obj({{"id", Str(p.common_term())},
                            {"label", Str(p.common_label())},
                            {"observed", Str("yes")}}));
  }
  std::vector<Value> genomic;
  for (const v1::VariantMatch& v : m.variants()) {
    // query_variant is "GRCh38:7:117559590:ATCT:A" or "gene CFTR" (the query's own words).
    Value feature;
    const std::string& q = v.query_variant();
    auto gene = genes.find(q);
    if (q.starts_with("gene ")) {
      feature = Obj({{"gene", Obj({{"id", Str(q.substr(5))}})}});
    } else if (v.level() != "variant") {
      // The case has a reported variant in the query variant's gene, not that variant: only
      // the gene is named.
      if (gene == genes.end()) continue;
      feature = Obj({{"gene", Obj({{"id", Str(gene->second)}})}});
    } else {
      std::vector<std::string_view> parts = Split(q, ':');
      if (parts.size() < 5) continue;
      uint32_t pos = 0;
      std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), pos);
      const std::string alt(parts[4].substr(0, parts[4].find(',')));
      feature = Obj({{"gene", Obj({{"id", Str(gene == genes.end() ? "" : gene->second)}})},
                     {"variant", Obj({{"assembly", Str(parts[0])},
                                      {"referenceName", Str(parts[1])},
                                      {"start", Num(pos == 0 ? 0 : pos - 1)},
                                      {"referenceBases", Str(parts[3])},
                                      {"alternateBases", Str(alt)}})}});
    }
    if (v.zygosity() == v1::HOMOZYGOUS) Set(&feature, "zygosity", Num(2));
    if (v.zygosity() == v1::HETEROZYGOUS || v.zygosity() == v1::HEMIZYGOUS) {
      Set(&feature, "zygosity", Num(1));
    }
    Set(&feature, "_pmdb_level", Str(v.level()));
    genomic.push_back(std::move(feature));
  }
  const std::string& contact = m.contact();
  const bool email =
      contact.find('@') != std::string::npos && contact.find(' ') == std::string::npos;
  Value stub = Obj(
      {{"id", Str(m.case_reference())},
       {"label", Str(StrCat("pmdb case in region ", m.region()))},
       {"contact", Obj({{"name", Str(contact.empty() ? StrCat("region ", m.region()) : contact)},
                        {"institution", Str(m.care_unit().empty() ? StrCat("region ", m.region())
                                                                  : m.care_unit())},
                        {"href", Str(email ? StrCat("mailto:", contact)
                                           : StrCat("urn:pmdb:contact:", m.case_reference()))},
                        {"roles", Arr({Str("clinician")})}})},
       {"species", Str("NCBITaxon:9606")},
       {"features", Arr(std::move(features))},
       {"genomicFeatures", Arr(std::move(genomic))},
       {"_pmdb_region", Str(m.region())},
       {"_pmdb_reference_expires_unix", Num(static_cast<double>(m.reference_expires_unix()))},
       {"_pmdb_age_band", Str(m.age_band())},
       {"_pmdb_icd10_chapter", Str(m.icd10_chapter())},
       {"_pmdb_contact_request",
        Str(StrCat("pmdb contact request --reference ", m.case_reference()))}});
  if (m.sex() == v1::FEMALE) Set(&stub, "sex", Str("FEMALE"));
  if (m.sex() == v1::MALE) Set(&stub, "sex", Str("MALE"));
  if (m.sex() == v1::OTHER_SEX) Set(&stub, "sex", Str("OTHER"));
  return stub;
}

}  // namespace

absl::StatusOr<v1::SimilarCasesRequest> ParseMatchRequest(std::string_view body) {
  Value doc;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &doc, options)
           .ok() ||
      !doc.has_struct_value()) {
    return Bad("the request body is not a JSON object");
  }
  const Value* patient = Field(doc, "patient");
  if (patient == nullptr || !patient->has_struct_value()) return Bad("patient is mandatory");
  auto id = Text(*patient, "id", "patient");
  if (!id.ok()) return id.status();
  if (id->empty() || id->size() > 255)
    return Bad("patient.id is mandatory (at most 255 characters)");
  const Value* contact = Field(*patient, "contact");
  if (contact == nullptr) return Bad("patient.contact is mandatory");
  for (const char* key : {"name", "href"}) {
    auto v = Text(*contact, key, "patient.contact");
    if (!v.ok()) return v.status();
    if (v->empty()) return Bad(StrCat("patient.contact.", key, " is mandatory"));
  }
  if (auto species = Text(*patient, "species", "patient");
      !species.ok() || (!species->empty() && *species != "NCBITaxon:9606")) {
    return Bad("pmdb holds human patients only (species NCBITaxon:9606)");
  }

  v1::SimilarCasesRequest request;
  v1::CaseQuery* q = request.mutable_patient();
  const Value* features = Field(*patient, "features");
  const Value* genomic = Field(*patient, "genomicFeatures");
  const bool has_features =
      features != nullptr && features->has_list_value() && features->list_value().values_size() > 0;
  const bool has_genomic =
      genomic != nullptr && genomic->has_list_value() && genomic->list_value().values_size() > 0;
  if (!has_features && !has_genomic) {
    return Bad("a patient needs features or genomicFeatures (at least one of them)");
  }
  if (has_features) {
    int i = 0;
    for (const Value& f : features->list_value().values()) {
      const std::string where = StrCat("patient.features[", i++, "]");
      auto term = Text(f, "id", where);
      if (!term.ok()) return term.status();
      if (term->empty()) return Bad(StrCat(where, ".id is mandatory"));
      auto observed = Text(f, "observed", where);
      if (!observed.ok()) return observed.status();
      if (!observed->empty() && *observed != "yes" && *observed != "no") {
        return Bad(StrCat(where, ".observed is \"yes\" or \"no\""));
      }
      (*observed == "no" ? q->add_excluded_phenotypes() : q->add_phenotypes())->assign(*term);
    }
  }
  if (has_genomic) {
    int i = 0;
    for (const Value& g : genomic->list_value().values()) {
      auto v = GenomicFeature(g, StrCat("patient.genomicFeatures[", i++, "]"));
      if (!v.ok()) return v.status();
      *q->add_variants() = *std::move(v);
    }
  }
  if (const Value* disorders = Field(*patient, "disorders"); disorders != nullptr) {
    if (!disorders->has_list_value()) return Bad("patient.disorders must be an array");
    int i = 0;
    for (const Value& d : disorders->list_value().values()) {
      auto disorder = Text(d, "id", StrCat("patient.disorders[", i++, "]"));
      if (!disorder.ok()) return disorder.status();
      std::string did = *disorder;
      // MME writes MIM: and Orphanet:; phenopackets (and pmdb's stores) OMIM: and ORPHA:.
      if (did.starts_with("MIM:")) did = "OMIM:" + did.substr(4);
      if (did.starts_with("Orphanet:")) did = "ORPHA:" + did.substr(9);
      if (!did.empty()) q->add_diagnoses(did);
    }
  }
  request.set_top(10);
  if (const Value* top = Field(doc, "_pmdb_top"); top != nullptr) {
    if (top->kind_case() != Value::kNumberValue || !(top->number_value() >= 1) ||
        top->number_value() > 100 || top->number_value() != std::floor(top->number_value())) {
      return Bad("_pmdb_top is a whole number from 1 to 100");
    }
    request.set_top(static_cast<uint32_t>(top->number_value()));
  }
  return request;
}

MatchmakerApi::MatchmakerApi(BeaconBackend* backend, std::string disclaimer)
    : backend_(backend), disclaimer_(std::move(disclaimer)) {}

void MatchmakerApi::Handle(const call::Credentials& who, const std::string& method,
                           const std::string& path, const std::string& content_type,
                           const std::string& body, std::function<void(MatchReply)> reply) const {
  auto error = [&reply](int status, const std::string& text) {
    reply({.status = status, .body = Message(text)});
  };
  if (path != "/match") return error(404, "the Matchmaker Exchange API here is POST /match");
  if (method != "POST") return error(405, "/match takes POST");
  // application/vnd.ga4gh.matchmaker.vX.Y+json, parameters after ';' ignored.
  const std::string type = ToLower(Trim(content_type.substr(0, content_type.find(';'))));
  const std::string prefix = "application/vnd.ga4gh.matchmaker.v";
  if (!type.starts_with(prefix) || !type.ends_with("+json")) {
    return error(415, StrCat("the Content-Type must be ", kMatchmakerMediaType));
  }
  const std::string version = type.substr(prefix.size(), type.size() - prefix.size() - 5);
  if (!version.starts_with("1.")) {
    return reply({.status = 406,
                  .body = Json(Obj({{"message", Str("unsupported API version")},
                                    {"supportedVersions", Arr({Str("1.0"), Str("1.1")})}}))});
  }
  auto request = ParseMatchRequest(body);
  if (!request.ok()) return error(422, std::string(request.status().message()));
  auto kept = std::make_shared<v1::SimilarCasesRequest>(*std::move(request));
  const std::string disclaimer = disclaimer_;
  // The genes the query named for its variants, to name them again in the matches.
  std::map<std::string, std::string> genes;
  v1::CaseQuery normalized = kept->patient();
  if (vocab::NormalizeCaseQuery(&normalized).ok()) {
    for (const v1::CaseVariant& v : normalized.variants()) {
      if (!v.gene().empty()) genes[vocab::FormatCaseVariant(v)] = v.gene();
    }
  }
  backend_->SimilarCases(
      who, *kept,
      [kept, genes, disclaimer, reply](absl::StatusOr<v1::FederatedSimilarCases> answer) {
        if (!answer.ok()) {
          const int status = HttpStatusOf(answer.status());
          return reply({.status = status == 400 ? 422 : status,
                        .body = Message(CallerMessage(answer.status()))});
        }
        std::vector<Value> results, regions;
        for (const v1::CaseMatch& m : answer->matches()) {
          results.push_back(Obj(
              {{"score", Obj({{"patient", Num(m.score())}})}, {"patient", PatientStub(m, genes)}}));
        }
        for (const v1::RegionPart& part : answer->regions()) {
          regions.push_back(Obj({{"region", Str(part.region())},
                                 {"ok", json::Bool(part.status() == v1::REGION_OK)},
                                 {"detail", Str(part.detail())}}));
        }
        Value doc = Obj({{"disclaimer", Str(disclaimer)},
                         {"results", Arr(std::move(results))},
                         {"_pmdb_partial", json::Bool(answer->partial())},
                         {"_pmdb_regions", Arr(std::move(regions))}});
        reply({.status = 200, .body = Json(doc)});
      });
}

}  // namespace pmdb::beacon
