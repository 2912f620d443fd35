// Cases as similarity search sees them: the genomic calls of a phenopacket's interpretations,
// normalized like VCF genotypes, and the question a clinician's phenopacket turns into.
//
// Both ingest (a region storing a lab-reported case) and the CLI (a clinician asking about their
// patient) go through these functions, so one variant written two ways lands on one key.
#ifndef PMDB_NODE_VOCAB_CASE_QUERY_H_
#define PMDB_NODE_VOCAB_CASE_QUERY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/phenopacket.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::vocab {

// One genomic call of an interpretation, normalized: assembly and chromosome names as codes.h
// writes them, alleles trimmed. A gene-only call has no alleles (pos 0).
struct InterpretedCall {
  std::string assembly;
  std::string chrom;
  uint32_t pos = 0;
  std::string ref;
  std::string alt;
  std::string gene;  // upper case; may be empty
  v1::Zygosity zygosity = v1::ANY_ZYGOSITY;
  bool has_allele() const { return pos != 0; }
};

// The calls of every interpretation that is not REJECTED, in order. Errors name the JSON path
// of the offending field. `notes` counts what was passed over, by reason.
absl::StatusOr<std::vector<InterpretedCall>> InterpretedCalls(
    const v1::Phenopacket& packet, std::map<std::string, uint64_t>* notes);

// GENO allelic state -> zygosity: GENO:0000135 heterozygous, GENO:0000136 homozygous,
// GENO:0000134 hemizygous (the label is accepted when the id is missing). Other states are an
// error; an absent state is ANY_ZYGOSITY.
absl::StatusOr<v1::Zygosity> ZygosityOfAllelicState(const v1::OntologyClass& state);

// The disease ids of a phenopacket: diseases[] not excluded, then interpretation diagnoses,
// each once; ICD-10 codes normalized (C34.1 -> C341), other ids kept as written.
std::vector<std::string> DiseaseIds(const v1::Phenopacket& packet);

// The question for a clinician's patient: observed and excluded HPO ids, the interpreted calls,
// the diseases. Nothing that identifies the patient is copied.
absl::StatusOr<v1::CaseQuery> CaseQueryFromPhenopacket(const v1::Phenopacket& packet);

// Checks and normalizes a question as it arrives at a region: HPO ids upper-cased, variants
// normalized like ingest (assembly, chromosome, trimmed alleles, gene upper case), ICD-10 codes
// normalized. Errors name the field; at most kMaxCaseTerms terms, kMaxCaseCalls variants and
// kMaxCaseDiagnoses diagnoses.
inline constexpr int kMaxCaseTerms = 64;
inline constexpr int kMaxCaseCalls = 20;
inline constexpr int kMaxCaseDiagnoses = 20;
absl::Status NormalizeCaseQuery(v1::CaseQuery* query);

// "GRCh38:7:117559590:ATCT:A,het" or "gene CFTR".
std::string FormatCaseVariant(const v1::CaseVariant& v);

// A one-line canonical form for the audit log: terms sorted, variants as above.
std::string FormatCaseQuery(const v1::CaseQuery& q);

// The ICD-10 chapter of a normalized code: "XVII Congenital malformations, deformations and
// chromosomal abnormalities"; empty when the code is outside every chapter.
std::string Icd10Chapter(std::string_view normalized);

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_CASE_QUERY_H_
