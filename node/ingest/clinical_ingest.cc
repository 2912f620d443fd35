#include "node/ingest/clinical_ingest.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "node/ingest/phenopacket_reader.h"
#include "node/ingest/subjects.h"
#include "node/storage/keys.h"
#include "node/vocab/case_query.h"
#include "node/vocab/catalog.h"
#include "node/vocab/codes.h"

namespace pmdb::ingest {
namespace {

namespace keys = storage::keys;

struct Clinical {
  std::string location;
  v1::IndividualRecord fields;  // everything but the subject id and the clinical keys
  std::vector<std::string> keys;
  // Interpreted alleles: variant key and the zygosity to index (VCF-style genotype bits).
  std::vector<std::pair<std::string, v1::Zygosity>> alleles;
};

// The genotype bitmaps an interpreted allele sets, as a VCF genotype of that zygosity would.
std::vector<std::string> GenotypeKeys(const std::string& vkey, v1::Zygosity zygosity) {
  std::vector<std::string> out = {keys::Genotype(vkey, keys::kGenotyped)};
  switch (zygosity) {
    case v1::HOMOZYGOUS:
      out.push_back(keys::Genotype(vkey, keys::kHom));
      break;
    case v1::HEMIZYGOUS:
      out.push_back(keys::Genotype(vkey, keys::kHemi));
      out.push_back(keys::Genotype(vkey, keys::AlleleNumberKind(1)));
      break;
    default:
      out.push_back(keys::Genotype(vkey, keys::kHet));
  }
  return out;
}

int64_t YearsBetween(int64_t from_seconds, int64_t to_seconds) {
  return (to_seconds - from_seconds) / static_cast<int64_t>(365.2425 * 24 * 3600);
}

// Turns one phenopacket into the record fields and index keys it implies.
absl::StatusOr<Clinical> Interpret(const ReadPacket& in, const vocab::Ontology* ontology,
                                   const vocab::CodeList* icd10,
                                   std::map<std::string, uint64_t>& notes) {
  const v1::Phenopacket& p = in.packet;
  Clinical c;
  c.location = in.location;
  v1::IndividualRecord& r = c.fields;
  auto fail = [&](std::string_view field, std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat(in.location, ": ", field, field.empty() ? "" : ": ", why));
  };
  if (p.subject().id().empty()) return fail("subject.id", "missing; every phenopacket needs one");

  r.set_sex(p.subject().sex());
  c.keys.push_back(keys::Sex(vocab::SexCode(p.subject().sex())[0]));

  const auto& last = p.subject().time_at_last_encounter();
  if (last.has_age() && !last.age().iso8601duration().empty()) {
    auto years = vocab::YearsInDuration(last.age().iso8601duration());
    if (!years.ok()) {
      return fail("subject.timeAtLastEncounter.age.iso8601duration",
                  std::string(years.status().message()));
    }
    r.set_age_years(*years);
  } else if (p.subject().has_date_of_birth()) {
    int64_t born = p.subject().date_of_birth().seconds();
    int64_t at = p.meta_data().has_created() ? p.meta_data().created().seconds()
                                             : static_cast<int64_t>(std::time(nullptr));
    int64_t years = YearsBetween(born, at);
    if (years < 0 || years > vocab::kMaxAge) {
      return fail("subject.dateOfBirth", "gives an age outside 0-150 years");
    }
    r.set_age_years(static_cast<uint32_t>(years));
    ++notes["ages computed from dateOfBirth"];
  }
  if (r.has_age_years()) {
    c.keys.push_back(keys::AgeYear(r.age_years()));
    c.keys.push_back(keys::AgeBand(vocab::AgeBandStart(r.age_years())));
  }

  for (int i = 0; i < p.phenotypic_features_size(); ++i) {
    const auto& f = p.phenotypic_features(i);
    std::string field = StrCat("phenotypicFeatures[", i, "].type.id");
    auto id = vocab::NormalizeHpo(f.type().id());
    if (!id.ok()) return fail(field, std::string(id.status().message()));
    std::string term = *id;
    std::vector<std::string> closure = {term};
    if (ontology != nullptr) {
      vocab::Ontology::Resolution res = ontology->Resolve(term);
      if (res.term.has_value()) {
        if (res.match != vocab::Ontology::Match::kExact) ++notes["HPO ids mapped to current terms"];
        term = ontology->term(*res.term).id;
        closure.clear();
        for (uint32_t t : ontology->AncestorsInclusive(*res.term)) {
          closure.push_back(ontology->term(t).id);
        }
      } else {
        ++notes["HPO ids not in the ontology (indexed as given)"];
      }
    }
    if (f.excluded()) {
      r.add_excluded_phenotypes(term);
      c.keys.push_back(keys::ExcludedPhenotype(term));
    } else {
      r.add_phenotypes(term);
      for (const std::string& t : closure) c.keys.push_back(keys::Phenotype(t));
    }
  }

  auto add_disease = [&](const std::string& id, const std::string& field) -> absl::Status {
    if (id.empty()) return absl::OkStatus();
    std::string upper = ToUpper(id);
    if (!(upper.starts_with("ICD10") || upper.starts_with("ICD-10"))) {
      if (std::find(r.other_diseases().begin(), r.other_diseases().end(), id) ==
          r.other_diseases().end()) {
        r.add_other_diseases(id);
        ++notes["diseases not coded in ICD-10 (kept, not indexed)"];
      }
      return absl::OkStatus();
    }
    auto code = vocab::NormalizeIcd10(id);
    if (!code.ok()) return fail(field, std::string(code.status().message()));
    if (std::find(r.diagnoses().begin(), r.diagnoses().end(), *code) != r.diagnoses().end()) {
      return absl::OkStatus();
    }
    r.add_diagnoses(*code);
    if (icd10 != nullptr && !icd10->Covers(*code)) {
      ++notes["ICD-10 codes not in the region's code list (indexed as given)"];
    }
    for (const std::string& prefix : vocab::Icd10Prefixes(*code)) {
      c.keys.push_back(keys::Diagnosis(prefix));
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < p.diseases_size(); ++i) {
    const auto& d = p.diseases(i);
    if (d.excluded()) continue;
    absl::Status s = add_disease(d.term().id(), StrCat("diseases[", i, "].term.id"));
    if (!s.ok()) return s;
  }
  for (int i = 0; i < p.interpretations_size(); ++i) {
    absl::Status s = add_disease(p.interpretations(i).diagnosis().disease().id(),
                                 StrCat("interpretations[", i, "].diagnosis.disease.id"));
    if (!s.ok()) return s;
  }

  auto calls = vocab::InterpretedCalls(p, &notes);
  if (!calls.ok()) return fail("", std::string(calls.status().message()));
  for (const vocab::InterpretedCall& call : *calls) {
    v1::ReportedVariant* reported = r.add_reported();
    reported->set_gene(call.gene);
    if (!call.has_allele()) continue;
    v1::Zygosity zygosity = call.zygosity;
    if (zygosity == v1::ANY_ZYGOSITY) {
      zygosity = v1::HETEROZYGOUS;
      ++notes["interpreted variants without allelicState (indexed as heterozygous)"];
    }
    std::string vkey = keys::Variant({call.assembly, call.chrom, call.pos, call.ref, call.alt});
    reported->set_variant_key(vkey);
    reported->set_zygosity(zygosity);
    c.alleles.emplace_back(std::move(vkey), zygosity);
  }
  r.set_care_unit(p.meta_data().submitted_by());

  for (int i = 0; i < p.medical_actions_size(); ++i) {
    const auto& a = p.medical_actions(i);
    if (!a.has_treatment()) continue;
    const std::string& id = a.treatment().agent().id();
    if (!ToUpper(id).starts_with("ATC:")) {
      ++notes["treatments not coded in ATC (not indexed)"];
      continue;
    }
    auto code = vocab::NormalizeAtc(id);
    if (!code.ok()) {
      return fail(StrCat("medicalActions[", i, "].treatment.agent.id"),
                  std::string(code.status().message()));
    }
    r.add_treatments(*code);
    for (const std::string& level : vocab::AtcLevels(*code)) {
      c.keys.push_back(keys::Treatment(level));
    }
  }
  r.set_biosample_count(p.biosamples_size());
  return c;
}

}  // namespace

absl::StatusOr<IngestSummary> IngestPhenopackets(storage::Store& store, const std::string& path,
                                                 const ProgressFn& progress,
                                                 size_t subjects_per_part) {
  auto started = std::chrono::steady_clock::now();
  IngestSummary summary;
  summary.kind = "phenopackets";
  summary.source = path;
  subjects_per_part = std::max<size_t>(subjects_per_part, 1);

  auto lock = store.WriteLock();
  auto view = store.Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return catalog.status();
  const vocab::Ontology* ontology = (*catalog)->ontology();
  auto registry = SubjectRegistry::Load(*view);
  if (!registry.ok()) return registry.status();
  // A part at a time: the packets of up to subjects_per_part subjects are interpreted, turned
  // into records and bitmap changes, and staged; the caller sees all parts at once or none.
  storage::StagedWrite staged = store.BeginStaged();
  registry->ReadFlushedFrom(&staged);
  storage::WriteBatch batch = store.NewBatch();
  BitAccumulator bits;

  std::map<std::string, Clinical> pending;  // subject id -> newest packet, this part
  auto stage_pending = [&]() -> absl::Status {
    std::set<std::string> variant_rows;
    for (auto& [subject_id, clinical] : pending) {
      auto subject = registry->Resolve(subject_id);
      if (!subject.ok()) return subject.status();
      if (*subject == nullptr) {
        ++summary.skipped["phenopackets of subjects who opted out"];
        continue;
      }
      // The new clinical fields replace the old; the subject id and the bookkeeping of which
      // bits the record holds carry over until SetClinicalKeys moves them on.
      v1::IndividualRecord& record = (*subject)->record;
      v1::IndividualRecord merged = clinical.fields;
      merged.set_subject_id(record.subject_id());
      *merged.mutable_clinical_keys() = record.clinical_keys();
      merged.set_has_clinical_record(record.has_clinical_record());
      record = std::move(merged);
      // An interpreted allele is indexed like a VCF genotype, unless a VCF already genotyped
      // the subject at that site: the VCF's call stands, and its bits are not the packet's to
      // remove.
      std::set<std::string> previous(record.clinical_keys().begin(), record.clinical_keys().end());
      for (const auto& [vkey, zygosity] : clinical.alleles) {
        std::string genotyped = keys::Genotype(vkey, keys::kGenotyped);
        if (!(*subject)->is_new && !previous.contains(genotyped)) {
          auto in = view->GetBitmap(genotyped);
          if (!in.ok()) return in.status();
          if (in->Contains((*subject)->ordinal)) {
            ++summary.notes["interpreted variants a VCF already genotyped (the VCF call kept)"];
            continue;
          }
        }
        for (std::string& k : GenotypeKeys(vkey, zygosity)) clinical.keys.push_back(std::move(k));
        variant_rows.insert(vkey);
      }
      SetClinicalKeys(**subject, clinical.keys, bits);
    }
    pending.clear();
    for (const std::string& vkey : variant_rows) batch.Put(storage::Family::kVariants, vkey, "");
    registry->Flush(batch, bits, staged.parts());
    bits.Finish(batch);
    summary.batch_bytes += batch.ByteSize();
    return staged.Stage(batch);
  };

  std::map<std::string, uint64_t> unknown;
  absl::Status read = ReadPhenopackets(
      path,
      [&](ReadPacket&& packet) -> absl::Status {
        ++summary.records_read;
        if (packet.packet.phenotypic_features_size() > 0 && ontology == nullptr) {
          return absl::FailedPreconditionError(
              StrCat(path,
                     ": the phenopackets carry HPO phenotypes but the store has no ontology; "
                     "give --hpo PATH (it is remembered)"));
        }
        auto clinical = Interpret(packet, ontology, (*catalog)->icd10(), summary.notes);
        if (!clinical.ok()) return clinical.status();
        const std::string& id = packet.packet.subject().id();
        if (pending.contains(id) || registry->Touched(id)) {
          ++summary.notes["phenopackets replaced by a later one of the same subject"];
        }
        pending.insert_or_assign(id, std::move(*clinical));
        if (progress && summary.records_read % 1000 == 0) {
          progress({0, 0, summary.records_read});
        }
        if (pending.size() >= subjects_per_part) return stage_pending();
        return absl::OkStatus();
      },
      &unknown);
  if (!read.ok()) return read;
  for (const auto& [field, n] : unknown) {
    summary.notes[StrCat("unknown field ", field, " (ignored)")] = n;
  }
  absl::Status last = stage_pending();
  if (!last.ok()) return last;
  summary.individuals_new = registry->new_count();
  summary.individuals_updated = registry->touched_count() - registry->new_count();
  registry->Finish(batch, bits);
  bits.Finish(batch);
  summary.batch_bytes += batch.ByteSize();
  CrashPoint("ingest.before_commit");
  absl::Status written = staged.Commit(batch);
  if (!written.ok()) return written;
  summary.parts = staged.parts();
  CrashPoint("ingest.after_commit");
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace pmdb::ingest
