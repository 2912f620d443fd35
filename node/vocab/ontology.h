// Ontology: the Human Phenotype Ontology (or any OBO 1.2 ontology with an is_a DAG), loaded
// from an OBO file.
//
// Terms get dense indices in file order. Alternative ids resolve to their primary term; obsolete
// terms resolve through `replaced_by` when present. Immutable after loading, so safe to share
// between threads.
#ifndef PMDB_NODE_VOCAB_ONTOLOGY_H_
#define PMDB_NODE_VOCAB_ONTOLOGY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace pmdb::vocab {

class Ontology {
 public:
  struct Term {
    std::string id;
    std::string name;
    std::vector<uint32_t> parents;
    std::vector<uint32_t> children;
    bool obsolete = false;
    std::vector<std::string> replaced_by;
    std::vector<std::string> consider;
  };

  enum class Match { kExact, kAltId, kReplaced, kObsolete, kUnknown };
  struct Resolution {
    std::optional<uint32_t> term;  // set for kExact, kAltId, kReplaced
    Match match = Match::kUnknown;
  };

  static absl::StatusOr<Ontology> LoadObo(const std::string& path);
  // Parses OBO text; `source` names it in error messages.
  static absl::StatusOr<Ontology> ParseObo(std::string_view text, std::string_view source);

  // Maps an id (primary or alternative, obsolete or not) to the term to use for it.
  Resolution Resolve(std::string_view id) const;

  // The term with this primary id, obsolete or not.
  std::optional<uint32_t> Find(std::string_view id) const;

  // The term and every ancestor through is_a, each once.
  std::vector<uint32_t> AncestorsInclusive(uint32_t term) const;
  // The term and every descendant through is_a, each once.
  std::vector<uint32_t> DescendantsInclusive(uint32_t term) const;

  const Term& term(uint32_t index) const { return terms_[index]; }
  size_t size() const { return terms_.size(); }
  const std::string& version() const { return version_; }

 private:
  std::vector<Term> terms_;
  std::unordered_map<std::string, uint32_t> by_id_;   // primary ids
  std::unordered_map<std::string, uint32_t> alt_ids_;  // alt_id -> primary index
  std::string version_;
};

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_ONTOLOGY_H_
