// Normalization of the identifiers pmdb indexes: chromosome names, VCF alleles, ICD-10 and ATC
// codes, HPO ids. Ingest and query both go through these functions, so a variant or a code
// written two ways always lands on one key.
#ifndef PMDB_NODE_VOCAB_CODES_H_
#define PMDB_NODE_VOCAB_CODES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/phenopacket.pb.h"
#include "pmdb/v1/query.pb.h"

namespace pmdb::vocab {

// "chr7" -> "7", "chrM"/"M" -> "MT"; other names are kept as written.
std::string NormalizeChrom(std::string_view chrom);

// "GRCh37" or "GRCh38" (case-insensitive); anything else is an error.
absl::StatusOr<std::string> NormalizeAssembly(std::string_view assembly);

// True for alleles that are not plain sequence: symbolic (<DEL>), breakends, '*'.
bool IsSymbolicAllele(std::string_view allele);

struct Allele {
  uint32_t pos;
  std::string ref;
  std::string alt;
};
// Parsimonious trimming: drop identical trailing bases while both alleles are longer than one,
// then identical leading bases likewise, moving pos. Bases are upper-cased. Symbolic alleles are
// returned unchanged.
Allele TrimAlleles(uint32_t pos, std::string_view ref, std::string_view alt);

// "ICD10:C34.1", "C34.1", "c341" -> "C341". Error when it is not shaped like an ICD-10 code.
absl::StatusOr<std::string> NormalizeIcd10(std::string_view code);
// The code and every shorter prefix of it: "C341" -> C, C3, C34, C341.
std::vector<std::string> Icd10Prefixes(std::string_view normalized);
// The ICD-10 chapter block letter and the 3-character category ("C341" -> "C34").
std::string Icd10Category(std::string_view normalized);

// "ATC:L01EB02" -> "L01EB02". Error unless it is an ATC code at one of its five levels
// (1, 3, 4, 5 or 7 characters).
absl::StatusOr<std::string> NormalizeAtc(std::string_view code);
// The code's own level and every level above it: "L01EB02" -> L, L01, L01E, L01EB, L01EB02.
std::vector<std::string> AtcLevels(std::string_view normalized);

// "hp:0001250" -> "HP:0001250"; exactly HP: and seven digits.
absl::StatusOr<std::string> NormalizeHpo(std::string_view id);

// Years in an ISO 8601 duration such as "P45Y6M" (months and days count toward whole years).
absl::StatusOr<uint32_t> YearsInDuration(std::string_view iso8601);

// The start of the 10-year band holding `age` (capped at 100: "100+").
uint32_t AgeBandStart(uint32_t age);
std::string AgeBandLabel(uint32_t band_start);  // "60-69", "100+"
inline constexpr uint32_t kMaxAge = 150;

std::string ZygosityName(v1::Zygosity z);  // "het", "hom", "hemi", "any"
std::string SexCode(v1::Sex sex);          // "F", "M", "O", "U"

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_CODES_H_
