// What an ingest did, for the operator: counts only, never identifiers.
#ifndef PMDB_NODE_INGEST_SUMMARY_H_
#define PMDB_NODE_INGEST_SUMMARY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace pmdb::ingest {

struct IngestSummary {
  std::string kind;     // "vcf" or "phenopackets"
  std::string source;   // file or directory name as given
  std::string dataset;  // VCF only
  std::string assembly;
  uint64_t individuals_new = 0;
  uint64_t individuals_updated = 0;
  uint64_t records_read = 0;  // VCF lines or phenopackets
  uint64_t variants = 0;      // alleles stored (after splitting multi-allelic records)
  uint64_t genotypes = 0;     // non-reference genotype calls stored
  uint64_t no_calls = 0;      // sample-site pairs with no called allele
  std::map<std::string, uint64_t> skipped;  // reason -> count
  std::map<std::string, uint64_t> notes;    // e.g. unknown Phenopacket fields -> count
  uint64_t batch_bytes = 0;                 // of all parts
  uint64_t parts = 0;  // staged parts the write was made of (storage::StagedWrite)
  double seconds = 0;
};

struct Progress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // 0 when unknown
  uint64_t records = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_SUMMARY_H_
