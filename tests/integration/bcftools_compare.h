// Compares pmdb's genotype counts and allele frequencies with bcftools' for every record of a
// VCF, for the cross-check tests.
#ifndef PMDB_TESTS_INTEGRATION_BCFTOOLS_COMPARE_H_
#define PMDB_TESTS_INTEGRATION_BCFTOOLS_COMPARE_H_

#include <cstddef>
#include <string>

namespace pmdb::testing {

// Ingests `vcf` into a new store under `dir` and checks, for every record bcftools reports in
// `bcftools_vcf` (the same records), AC, AN, het, hom, hemi and carrier counts. Returns the
// number of records compared; failures are reported through GoogleTest.
size_t CompareWithBcftools(const std::string& dir, const std::string& vcf,
                           const std::string& bcftools_vcf, const std::string& assembly);

}  // namespace pmdb::testing

#endif  // PMDB_TESTS_INTEGRATION_BCFTOOLS_COMPARE_H_
