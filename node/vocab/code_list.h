// CodeList: a region's list of valid ICD-10 codes (for Sweden, Socialstyrelsen's ICD-10-SE), so
// that a code nobody uses — a typo, or a code from another classification — is warned about at
// ingest and in questions, as an HPO id the ontology does not know is. Optional: without a list
// only the shape of a code is checked (vocab::NormalizeIcd10), since the WHO classification and
// its national modifications are not in the public data pmdb ships with.
//
// The file holds one code per line, optionally followed by a tab or spaces and its title
// ("C50.9<TAB>Bröstcancer, ospecificerad"); empty lines and lines starting with '#' are skipped.
// Immutable after loading; safe to share between threads.
#ifndef PMDB_NODE_VOCAB_CODE_LIST_H_
#define PMDB_NODE_VOCAB_CODE_LIST_H_

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::vocab {

class CodeList {
 public:
  // INVALID_ARGUMENT naming the file and line of a code that is not shaped like ICD-10, or
  // when the file holds no code; NOT_FOUND when it cannot be read.
  static absl::StatusOr<CodeList> LoadIcd10(const std::string& path);

  // True when `normalized` (vocab::NormalizeIcd10) is a listed code or a prefix of one: a
  // chapter letter, a block's start ("C5") or a category ("C50") of listed codes all count.
  bool Covers(std::string_view normalized) const;
  size_t size() const { return codes_.size(); }
  const std::set<std::string, std::less<>>& codes() const { return codes_; }  // normalized
  const std::string& source() const { return source_; }  // the file's name, for messages

 private:
  std::set<std::string, std::less<>> codes_;  // normalized
  std::string source_;
};

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_CODE_LIST_H_
