// Key encoding for every column family of a node's store. This is the only place that knows
// the byte layout of keys; everything else builds and parses keys through these functions.
//
// Layout (families in parentheses; "\0" is a zero byte separating variable-length parts so that
// a shorter string sorts before a longer one with the same start, e.g. chrom "1" before "10"):
//   (meta)        schema | next_ordinal | shard_range | node | hpo | genes/<assembly> |
//   dataset/<id>
//                 audit_head (last sequence number BE64 + its SHA-256) | noise_secret |
//                 reference_key (seals case references) | data_version (BE64, bumped by every
//                 write that can change an answer)
//   (audit)       <sequence number BE64>    -> AuditEntry (hash-chained)
//   (contact)     r/<request id>            -> ContactRecord
//   (individuals) i/<ordinal BE32>          -> IndividualRecord
//                 x/<subject id>            -> ordinal BE32
//                 o/<subject id>            -> OptOut (subject withdrew for every purpose)
//   (variants)    v/<assembly>\0<chrom>\0<pos BE32><ref>\0<alt>   -> VariantInfo (empty today)
//   (bitmaps)     g/<variant body>\0<kind>  per-variant genotype bitmaps (see GenotypeKind)
//                 p/<HPO id> (closure: the term or a descendant), q/<HPO id> (excluded),
//                 d/<ICD-10 prefix>, t/<ATC prefix>, s/<sex>, a/<age year 3 digits>,
//                 b/<age band start 3 digits>, k/<dataset>, c/<purpose>, u (all individuals)
// Big-endian integers keep numeric order equal to byte order.
#ifndef PMDB_NODE_STORAGE_KEYS_H_
#define PMDB_NODE_STORAGE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::storage::keys {

// Bumped whenever a key or value layout changes incompatibly.
inline constexpr uint32_t kSchemaVersion = 1;

void AppendBE32(std::string* out, uint32_t v);
uint32_t ReadBE32(std::string_view bytes);  // REQUIRES: bytes.size() >= 4
void AppendBE64(std::string* out, uint64_t v);
uint64_t ReadBE64(std::string_view bytes);  // REQUIRES: bytes.size() >= 8

// The smallest key greater than every key starting with `prefix` ("" if none exists).
std::string PrefixEnd(std::string_view prefix);

// ---- meta
inline constexpr std::string_view kMetaSchema = "schema";
inline constexpr std::string_view kMetaNextOrdinal = "next_ordinal";
// A shard's range of ordinals (node/shard): first BE32 + end BE64; absent for a whole store.
inline constexpr std::string_view kMetaShardRange = "shard_range";
// A shard store's identity (16 random bytes as hex), drawn when it became a shard.
inline constexpr std::string_view kMetaShardId = "shard_id";
// A sharded region's node: the highest ordinal its serving shards' ranges reached (BE64).
inline constexpr std::string_view kMetaShardsServedEnd = "shards_served_end";
inline constexpr std::string_view kMetaHpoPath = "hpo";
inline constexpr std::string_view kMetaIcd10Path = "icd10";
std::string MetaGeneTable(std::string_view assembly);
std::string MetaDataset(std::string_view dataset_id);
inline constexpr std::string_view kMetaDatasetPrefix = "dataset/";
inline constexpr std::string_view kMetaAuditHead = "audit_head";
inline constexpr std::string_view kMetaNoiseSecret = "noise_secret";
inline constexpr std::string_view kMetaReferenceKey = "reference_key";
inline constexpr std::string_view kMetaDataVersion = "data_version";
// A staged write (Store::BeginStaged): its parts in order, and the record that it was committed.
inline constexpr std::string_view kMetaStagedPartPrefix = "staged/part/";
inline constexpr std::string_view kMetaStagedCommit = "staged/commit";
std::string MetaStagedPart(uint64_t index);
// Meta keys whose value can change an answer (reference files, datasets); the others (audit
// head, keys, data version) cannot.
bool IsDataMetaKey(std::string_view key);

// ---- contact
std::string Contact(std::string_view request_id);
inline constexpr std::string_view kContactPrefix = "r/";

// ---- audit
std::string AuditKey(uint64_t seq);
std::optional<uint64_t> ParseAuditKey(std::string_view key);

// ---- individuals
std::string Individual(uint32_t ordinal);
std::optional<uint32_t> ParseIndividual(std::string_view key);
inline constexpr std::string_view kIndividualPrefix = "i/";
std::string SubjectIndex(std::string_view subject_id);
std::string OptOut(std::string_view subject_id);

// ---- variants
struct VariantId {
  std::string assembly;
  std::string chrom;
  uint32_t pos = 0;
  std::string ref;
  std::string alt;
  bool operator==(const VariantId&) const = default;
};
std::string Variant(const VariantId& v);
absl::StatusOr<VariantId> ParseVariant(std::string_view key);
// Keys of variants on `chrom` with begin <= pos < end (end may be 2^32 via end_open).
std::string VariantLowerBound(std::string_view assembly, std::string_view chrom, uint32_t pos);
std::string VariantChromEnd(std::string_view assembly, std::string_view chrom);

// ---- bitmaps
// Per-variant genotype bitmaps. Zygosity: het, hom, hemi. Allele-number bookkeeping: `in` holds
// every individual genotyped at the site; an<N> those with N != 2 called alleles (an0 is a
// no-call); ac+<D> those whose copies of the allele exceed the zygosity's usual count (1 for het
// and hemi, 2 for hom) by D, which only happens for ploidy above two.
inline constexpr std::string_view kHet = "het";
inline constexpr std::string_view kHom = "hom";
inline constexpr std::string_view kHemi = "hemi";
inline constexpr std::string_view kGenotyped = "in";
std::string AlleleNumberKind(uint32_t called_alleles);  // "an<N>"
std::string ExtraCopiesKind(uint32_t extra);            // "ac+<D>"
std::string Genotype(std::string_view variant_key, std::string_view kind);
// Prefix of all genotype bitmaps of one variant.
std::string GenotypePrefix(std::string_view variant_key);

std::string Phenotype(std::string_view hpo_id);
std::string ExcludedPhenotype(std::string_view hpo_id);
std::string Diagnosis(std::string_view icd10_prefix);
inline constexpr std::string_view kDiagnosisPrefix = "d/";
std::string Treatment(std::string_view atc_prefix);
std::string Sex(char code);  // F, M, O, U
std::string AgeYear(uint32_t years);
std::string AgeBand(uint32_t band_start);  // band_start is a multiple of 10
std::string DatasetMembers(std::string_view dataset_id);
std::string Consent(std::string_view purpose);
inline constexpr std::string_view kAllIndividuals = "u";

}  // namespace pmdb::storage::keys

#endif  // PMDB_NODE_STORAGE_KEYS_H_
