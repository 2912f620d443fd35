// Ingest of genotypes from VCF or BCF (plain or bgzipped), read with htslib.
//
// Multi-allelic records are split into one variant per ALT allele and each allele is trimmed
// (node/vocab/codes.h) so that one variant has one key. Per allele and individual, the allele's
// copies in GT decide the zygosity (diploid: 1 copy het, 2 hom; haploid: 1 copy hemi). AC and AN
// follow the bcftools definitions and are recoverable from the stored bitmaps.
//
// The whole file is one write, staged in parts as it is read (storage::StagedWrite) so that
// memory does not grow with the number of sites: after a failure (bad input, I/O, crash) the
// store is exactly as it was before, and readers see the file's data all at once.
#ifndef PMDB_NODE_INGEST_VCF_INGEST_H_
#define PMDB_NODE_INGEST_VCF_INGEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "node/ingest/summary.h"
#include "node/storage/store.h"

namespace pmdb::ingest {

struct VcfIngestOptions {
  std::string path;
  std::string dataset;
  std::string assembly;  // GRCh37 or GRCh38
  bool include_filtered = false;
  // Optional file of "sample<TAB>subject" lines; unmapped samples keep their own name.
  std::string sample_map_path;
  // Sites are staged in parts of about this many bytes (storage::StagedWrite).
  size_t part_bytes = 32 << 20;
};

absl::StatusOr<IngestSummary> IngestVcf(storage::Store& store, const VcfIngestOptions& options,
                                        const ProgressFn& progress = nullptr);

// The subject ids the file's sample columns name (after the sample map), in column order: whom
// an ingest of it would touch. Reads the header only.
absl::StatusOr<std::vector<std::string>> VcfSubjects(const VcfIngestOptions& options);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_VCF_INGEST_H_
