// Ingest of clinical records from Phenopacket v2 JSON: sex, age at last encounter, observed and
// excluded HPO phenotypes, ICD-10 diagnoses, ATC treatments, biosample counts, the responsible
// care unit (metaData.submittedBy), and the genomic interpretations: a lab-reported variant
// (vcfRecord + allelicState) is normalized and indexed like a VCF genotype of that zygosity, so
// counts and frequencies see it; gene-only calls and each call's gene are kept on the record for
// similar-case search.
//
// Each subject's clinical part is replaced by the newest phenopacket (the last one read wins
// within one ingest). Observed phenotypes are indexed with their ontology ancestors, so hpo(X)
// is one lookup. All packets of one call are one write, all or nothing, staged in parts of
// `subjects_per_part` subjects (storage::StagedWrite) so that memory holds one part's records,
// and of everyone before only an ordinal and a part number (about 100 bytes a person).
#ifndef PMDB_NODE_INGEST_CLINICAL_INGEST_H_
#define PMDB_NODE_INGEST_CLINICAL_INGEST_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "node/ingest/summary.h"
#include "node/storage/store.h"

namespace pmdb::ingest {

inline constexpr size_t kSubjectsPerPart = 50'000;

absl::StatusOr<IngestSummary> IngestPhenopackets(storage::Store& store, const std::string& path,
                                                 const ProgressFn& progress = nullptr,
                                                 size_t subjects_per_part = kSubjectsPerPart);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_CLINICAL_INGEST_H_
