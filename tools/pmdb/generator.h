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

// GeneratorOptions::spectrum_vcf for a whole-genome-like spectrum dominated by rare variants:
// a site's expected allele count k among the cohort's 2N alleles follows a power law,
// density ∝ k^-1.3 on [1, 2N]. By the formula, at a million people about 95 % of sites are
// below 1 % frequency and about one in five is a singleton, while one genome carries about 1 %
// of the sites; in
// gnomAD v3 (76,156 genomes) over 95 % of variants are below 1 % and a genome carries about
// 4-5 million of the 600-odd million sites. The exponent is a stand-in chosen for those two
// figures, not a population-genetic model.
inline constexpr const char* kWgsSpectrum = "wgs";
inline constexpr double kWgsExponent = 1.3;

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
  // A VCF with INFO/AF, e.g. 1000 Genomes chr22, or kNeutralSpectrum.
  std::string spectrum_vcf;
  std::string hpo_path;
  std::string id_prefix;  // subject ids are <prefix>-<7 digits>
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
