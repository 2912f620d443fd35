// GeneTable: gene symbol -> genomic spans for one assembly, read from a TSV with the columns
// symbol, entrez_id, chrom, start, end (1-based, inclusive), strand, gene_type.
// Immutable after loading; safe to share between threads.
#ifndef PMDB_NODE_VOCAB_GENE_TABLE_H_
#define PMDB_NODE_VOCAB_GENE_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace pmdb::vocab {

struct GeneSpan {
  std::string chrom;  // normalized (see NormalizeChrom)
  uint32_t start = 0;
  uint32_t end = 0;
};

class GeneTable {
 public:
  static absl::StatusOr<GeneTable> Load(const std::string& path);
  static absl::StatusOr<GeneTable> Parse(std::string_view text, std::string_view source);

  // Spans of the gene (symbols match case-insensitively); empty when unknown.
  const std::vector<GeneSpan>& Find(std::string_view symbol) const;
  size_t size() const { return genes_.size(); }

 private:
  std::unordered_map<std::string, std::vector<GeneSpan>> genes_;  // upper-case symbol
};

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_GENE_TABLE_H_
