#include "node/vocab/case_query.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/vocab/codes.h"

namespace pmdb::vocab {
namespace {

bool IsBases(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u != 'A' && u != 'C' && u != 'G' && u != 'T' && u != 'N') return false;
  }
  return true;
}

bool IsIcd10Id(std::string_view id) {
  std::string upper = ToUpper(id);
  return upper.starts_with("ICD10") || upper.starts_with("ICD-10");
}

}  // namespace

absl::StatusOr<v1::Zygosity> ZygosityOfAllelicState(const v1::OntologyClass& state) {
  if (state.id().empty() && state.label().empty()) return v1::ANY_ZYGOSITY;
  std::string id = ToUpper(Trim(state.id()));
  std::string label = ToLower(Trim(state.label()));
  if (id == "GENO:0000135" || (id.empty() && label == "heterozygous")) return v1::HETEROZYGOUS;
  if (id == "GENO:0000136" || (id.empty() && label == "homozygous")) return v1::HOMOZYGOUS;
  if (id == "GENO:0000134" || (id.empty() && label == "hemizygous")) return v1::HEMIZYGOUS;
  return absl::InvalidArgumentError(
      StrCat("allelic state '", state.id().empty() ? state.label() : state.id(),
             "' is not one pmdb indexes (GENO:0000135 heterozygous, GENO:0000136 homozygous, "
             "GENO:0000134 hemizygous)"));
}

absl::StatusOr<std::vector<InterpretedCall>> InterpretedCalls(
    const v1::Phenopacket& packet, std::map<std::string, uint64_t>* notes) {
  std::vector<InterpretedCall> calls;
  for (int i = 0; i < packet.interpretations_size(); ++i) {
    const v1::Diagnosis& dx = packet.interpretations(i).diagnosis();
    for (int j = 0; j < dx.genomic_interpretations_size(); ++j) {
      const v1::GenomicInterpretation& gi = dx.genomic_interpretations(j);
      std::string path =
          StrCat("interpretations[", i, "].diagnosis.genomicInterpretations[", j, "]");
      if (ToUpper(gi.interpretation_status()) == "REJECTED") {
        ++(*notes)["genomic interpretations REJECTED (not indexed)"];
        continue;
      }
      InterpretedCall call;
      if (gi.has_gene()) {
        call.gene = ToUpper(Trim(gi.gene().symbol()));
        if (call.gene.empty()) {
          return absl::InvalidArgumentError(
              StrCat(path, ".gene.symbol: missing; a gene-only call needs the gene symbol"));
        }
        calls.push_back(std::move(call));
        continue;
      }
      if (!gi.has_variant_interpretation()) {
        ++(*notes)["genomic interpretations without gene or variant (not indexed)"];
        continue;
      }
      const v1::VariationDescriptor& vd = gi.variant_interpretation().variation_descriptor();
      std::string vpath = StrCat(path, ".variantInterpretation.variationDescriptor");
      call.gene = ToUpper(Trim(vd.gene_context().symbol()));
      auto zygosity = ZygosityOfAllelicState(vd.allelic_state());
      if (!zygosity.ok()) {
        return absl::InvalidArgumentError(
            StrCat(vpath, ".allelicState: ", std::string(zygosity.status().message())));
      }
      call.zygosity = *zygosity;
      if (!vd.has_vcf_record()) {
        if (call.gene.empty()) {
          ++(*notes)["variant interpretations without vcfRecord or geneContext (not indexed)"];
          continue;
        }
        ++(*notes)["variant interpretations without vcfRecord (kept as gene-level calls)"];
        calls.push_back(std::move(call));
        continue;
      }
      const v1::VcfRecord& vcf = vd.vcf_record();
      std::string rpath = StrCat(vpath, ".vcfRecord");
      auto assembly = NormalizeAssembly(vcf.genome_assembly());
      if (!assembly.ok()) {
        return absl::InvalidArgumentError(
            StrCat(rpath, ".genomeAssembly: ", std::string(assembly.status().message())));
      }
      if (Trim(vcf.chrom()).empty()) {
        return absl::InvalidArgumentError(StrCat(rpath, ".chrom: missing"));
      }
      if (vcf.pos() == 0 || vcf.pos() > UINT32_MAX) {
        return absl::InvalidArgumentError(
            StrCat(rpath, ".pos: ", vcf.pos(), " is not a 1-based position"));
      }
      if (!IsBases(vcf.ref())) {
        return absl::InvalidArgumentError(
            StrCat(rpath, ".ref: '", vcf.ref(), "' is not a sequence of A, C, G, T, N"));
      }
      if (!IsBases(vcf.alt())) {
        return absl::InvalidArgumentError(
            StrCat(rpath, ".alt: '", vcf.alt(),
                   "' is not a sequence of A, C, G, T, N (symbolic alleles are not indexed)"));
      }
      if (ToUpper(vcf.ref()) == ToUpper(vcf.alt())) {
        return absl::InvalidArgumentError(StrCat(rpath, ".alt: equals ref"));
      }
      Allele trimmed = TrimAlleles(static_cast<uint32_t>(vcf.pos()), vcf.ref(), vcf.alt());
      call.assembly = *assembly;
      call.chrom = NormalizeChrom(Trim(vcf.chrom()));
      call.pos = trimmed.pos;
      call.ref = std::move(trimmed.ref);
      call.alt = std::move(trimmed.alt);
      calls.push_back(std::move(call));
    }
  }
  return calls;
}

std::vector<std::string> DiseaseIds(const v1::Phenopacket& packet) {
  std::vector<std::string> out;
  auto add = [&](const std::string& id) {
    if (Trim(id).empty()) return;
    std::string normalized(Trim(id));
    if (IsIcd10Id(id)) {
      auto code = NormalizeIcd10(id);
      if (!code.ok()) return;
      normalized = *code;
    }
    if (std::find(out.begin(), out.end(), normalized) == out.end()) out.push_back(normalized);
  };
  for (const v1::Disease& d : packet.diseases()) {
    if (!d.excluded()) add(d.term().id());
  }
  for (const v1::Interpretation& i : packet.interpretations()) add(i.diagnosis().disease().id());
  return out;
}

absl::StatusOr<v1::CaseQuery> CaseQueryFromPhenopacket(const v1::Phenopacket& packet) {
  v1::CaseQuery q;
  for (int i = 0; i < packet.phenotypic_features_size(); ++i) {
    const v1::PhenotypicFeature& f = packet.phenotypic_features(i);
    auto id = NormalizeHpo(f.type().id());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          StrCat("phenotypicFeatures[", i, "].type.id: ", std::string(id.status().message())));
    }
    if (f.excluded()) {
      q.add_excluded_phenotypes(*id);
    } else {
      q.add_phenotypes(*id);
    }
  }
  std::map<std::string, uint64_t> notes;
  auto calls = InterpretedCalls(packet, &notes);
  if (!calls.ok()) return calls.status();
  for (const InterpretedCall& c : *calls) {
    v1::CaseVariant* v = q.add_variants();
    v->set_assembly(c.assembly);
    v->set_chrom(c.chrom);
    v->set_pos(c.pos);
    v->set_ref(c.ref);
    v->set_alt(c.alt);
    v->set_gene(c.gene);
    v->set_zygosity(c.zygosity);
  }
  for (const std::string& d : DiseaseIds(packet)) q.add_diagnoses(d);
  if (q.phenotypes_size() == 0 && q.variants_size() == 0 && q.diagnoses_size() == 0) {
    return absl::InvalidArgumentError(
        "the case has no observed phenotypes, no interpreted variants or genes and no diseases; "
        "there is nothing to compare");
  }
  return q;
}

absl::Status NormalizeCaseQuery(v1::CaseQuery* q) {
  if (q->phenotypes_size() + q->excluded_phenotypes_size() > kMaxCaseTerms) {
    return absl::InvalidArgumentError(
        StrCat("the case has more than ", kMaxCaseTerms, " phenotype terms"));
  }
  if (q->variants_size() > kMaxCaseCalls) {
    return absl::InvalidArgumentError(StrCat("the case has more than ", kMaxCaseCalls, " variants"));
  }
  if (q->diagnoses_size() > kMaxCaseDiagnoses) {
    return absl::InvalidArgumentError(
        StrCat("the case has more than ", kMaxCaseDiagnoses, " diagnoses"));
  }
  for (auto* field : {q->mutable_phenotypes(), q->mutable_excluded_phenotypes()}) {
    for (std::string& id : *field) {
      auto n = NormalizeHpo(id);
      if (!n.ok()) return absl::InvalidArgumentError(std::string(n.status().message()));
      id = *n;
    }
  }
  for (int i = 0; i < q->variants_size(); ++i) {
    v1::CaseVariant* v = q->mutable_variants(i);
    v->set_gene(ToUpper(Trim(v->gene())));
    if (v->pos() == 0) {
      if (v->gene().empty()) {
        return absl::InvalidArgumentError(
            StrCat("variants[", i, "]: neither an allele (pos, ref, alt) nor a gene"));
      }
      v->clear_assembly();
      v->clear_chrom();
      v->clear_ref();
      v->clear_alt();
      continue;
    }
    auto assembly = NormalizeAssembly(v->assembly());
    if (!assembly.ok()) {
      return absl::InvalidArgumentError(
          StrCat("variants[", i, "].assembly: ", std::string(assembly.status().message())));
    }
    if (!IsBases(v->ref()) || !IsBases(v->alt()) || ToUpper(v->ref()) == ToUpper(v->alt()) ||
        Trim(v->chrom()).empty()) {
      return absl::InvalidArgumentError(
          StrCat("variants[", i, "]: needs chrom, pos and differing ref and alt of A, C, G, T, N"));
    }
    Allele a = TrimAlleles(v->pos(), v->ref(), v->alt());
    v->set_assembly(*assembly);
    v->set_chrom(NormalizeChrom(Trim(v->chrom())));
    v->set_pos(a.pos);
    v->set_ref(a.ref);
    v->set_alt(a.alt);
  }
  for (std::string& d : *q->mutable_diagnoses()) {
    if (d.find(':') != std::string::npos && !IsIcd10Id(d)) continue;
    auto code = NormalizeIcd10(d);
    if (!code.ok()) {
      return absl::InvalidArgumentError(StrCat("diagnosis ", std::string(code.status().message())));
    }
    d = *code;
  }
  if (q->phenotypes_size() == 0 && q->variants_size() == 0 && q->diagnoses_size() == 0) {
    return absl::InvalidArgumentError(
        "the case has no observed phenotypes, no variants or genes and no diagnoses; there is "
        "nothing to compare");
  }
  return absl::OkStatus();
}

std::string FormatCaseVariant(const v1::CaseVariant& v) {
  if (v.pos() == 0) return StrCat("gene ", v.gene());
  if (v.zygosity() == v1::ANY_ZYGOSITY) {
    return StrCat(v.assembly(), ":", v.chrom(), ":", v.pos(), ":", v.ref(), ":", v.alt());
  }
  return StrCat(v.assembly(), ":", v.chrom(), ":", v.pos(), ":", v.ref(), ":", v.alt(), ",",
                ZygosityName(v.zygosity()));
}

std::string FormatCaseQuery(const v1::CaseQuery& q) {
  auto sorted = [](const auto& field) {
    std::set<std::string> s(field.begin(), field.end());
    std::string out;
    for (const std::string& x : s) StrAppend(&out, out.empty() ? "" : ",", x);
    return out;
  };
  std::set<std::string> variants;
  for (const v1::CaseVariant& v : q.variants()) variants.insert(FormatCaseVariant(v));
  std::string vs;
  for (const std::string& v : variants) StrAppend(&vs, vs.empty() ? "" : ";", v);
  return StrCat("similar hpo=[", sorted(q.phenotypes()), "] not=[", sorted(q.excluded_phenotypes()),
                "] variants=[", vs, "] dx=[", sorted(q.diagnoses()), "]");
}

std::string Icd10Chapter(std::string_view code) {
  if (code.size() < 3) return "";
  struct Chapter {
    const char* first;
    const char* last;
    const char* name;
  };
  static constexpr Chapter kChapters[] = {
      {"A00", "B99", "I Certain infectious and parasitic diseases"},
      {"C00", "D48", "II Neoplasms"},
      {"D50", "D89", "III Diseases of the blood and blood-forming organs and certain disorders "
                     "involving the immune mechanism"},
      {"E00", "E90", "IV Endocrine, nutritional and metabolic diseases"},
      {"F00", "F99", "V Mental and behavioural disorders"},
      {"G00", "G99", "VI Diseases of the nervous system"},
      {"H00", "H59", "VII Diseases of the eye and adnexa"},
      {"H60", "H95", "VIII Diseases of the ear and mastoid process"},
      {"I00", "I99", "IX Diseases of the circulatory system"},
      {"J00", "J99", "X Diseases of the respiratory system"},
      {"K00", "K93", "XI Diseases of the digestive system"},
      {"L00", "L99", "XII Diseases of the skin and subcutaneous tissue"},
      {"M00", "M99", "XIII Diseases of the musculoskeletal system and connective tissue"},
      {"N00", "N99", "XIV Diseases of the genitourinary system"},
      {"O00", "O99", "XV Pregnancy, childbirth and the puerperium"},
      {"P00", "P96", "XVI Certain conditions originating in the perinatal period"},
      {"Q00", "Q99", "XVII Congenital malformations, deformations and chromosomal abnormalities"},
      {"R00", "R99", "XVIII Symptoms, signs and abnormal clinical and laboratory findings, not "
                     "elsewhere classified"},
      {"S00", "T98", "XIX Injury, poisoning and certain other consequences of external causes"},
      {"V01", "Y98", "XX External causes of morbidity and mortality"},
      {"Z00", "Z99", "XXI Factors influencing health status and contact with health services"},
      {"U00", "U99", "XXII Codes for special purposes"},
  };
  std::string_view category = code.substr(0, 3);
  for (const Chapter& c : kChapters) {
    if (category >= c.first && category <= c.last) return c.name;
  }
  return "";
}

}  // namespace pmdb::vocab
