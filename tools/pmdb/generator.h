// Synthetic cohorts for tests, the demo and benchmarks: a bgzipped multi-sample VCF whose
// genotypes follow a real allele-frequency spectrum (Hardy-Weinberg proportions per site), and
// one Phenopacket v2 per individual with sex, age, ICD-10 cancer diagnoses, HPO phenotypes and
// ATC treatments. Deterministic for a seed.
#ifndef PMDB_TOOLS_PMDB_GENERATOR_H_
#define PMDB_TOOLS_PMDB_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace pmdb::cli {

struct GeneratorOptions {
  uint64_t individuals = 1000;
  uint64_t variants = 1000;
  uint64_t seed = 1;
  // Seed of the variant sites alone (positions, alleles, frequencies); 0: drawn from `seed`.
  // Cohorts made with the same sites seed share their sites, like regions sequenced with one
  // panel, while their people differ.
  uint64_t sites_seed = 0;
  std::string out_dir;
  std::string assembly = "GRCh38";
  std::string chrom = "22";
  std::string spectrum_vcf;  // a VCF with INFO/AF, e.g. 1000 Genomes chr22
  std::string hpo_path;
  std::string id_prefix;     // subject ids are <prefix>-<7 digits>
  double missing_rate = 0.005;
  // Only spectrum frequencies at or below this are used: 0.01 gives a sparse, panel-like set
  // of rare variants.
  double max_af = 1.0;
};

struct GeneratorResult {
  std::string vcf_path;
  std::string phenopackets_path;
  uint64_t individuals = 0;
  uint64_t variants = 0;
  uint64_t non_reference_genotypes = 0;
  uint64_t diagnosed = 0;
  double seconds = 0;
};

absl::StatusOr<GeneratorResult> GenerateCohort(
    const GeneratorOptions& options, const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_GENERATOR_H_
