// Synthetic rare-disease case families for similar-case search: a seed case (a handful of HPO
// terms from one part of the ontology and a causal variant in a gene) and members derived from
// it by dropping terms, replacing terms with a parent, and adding unrelated terms, hidden among
// unrelated cases spread over the regions. As in real rare-disease cohorts, a few phenotypes
// (think developmental delay, seizures, short stature) turn up in many patients whatever their
// disease: seeds, members' added terms and unrelated cases all draw some of their terms from
// one pool of such frequent terms, so sharing a term is not by itself a sign of kinship.
// Deterministic for a seed.
#ifndef PMDB_TOOLS_PMDB_CASE_FAMILIES_H_
#define PMDB_TOOLS_PMDB_CASE_FAMILIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pmdb/v1/records.pb.h"
#include "pmdb/v1/similar.pb.h"
#include "node/vocab/ontology.h"

namespace pmdb::cli {

struct CaseFamilyOptions {
  uint32_t families = 100;
  uint32_t members = 4;        // per family, besides the seed (which is the query)
  uint64_t unrelated = 10000;  // cases of no family
  uint32_t seed_terms = 6;
  double drop = 0.3;        // share of the seed's terms a member lacks
  double generalize = 0.3;  // share replaced by a parent term
  double add = 0.0;         // unrelated terms added, as a share of the seed's terms
  // The frequent-term pool: its size, and the share of every case's terms drawn from it (by
  // Zipf weights: the first term of the pool is the most frequent). A seed has
  // round(seed_terms * common_share) frequent terms and the rest from its family's part.
  uint32_t common_terms = 40;
  double common_share = 0.25;
  uint64_t seed = 1;
  std::vector<std::string> regions = {"norr", "mellan", "stockholm-gotland",
                                      "sydost", "vast", "syd"};
};

struct SyntheticCase {
  std::string subject;
  std::string region;
  int family = -1;  // -1: unrelated
  std::vector<std::string> terms;
  std::string gene;
  uint32_t pos = 0;  // on chromosome `chrom`, G>A
  std::string chrom;
  bool homozygous = false;
  bool female = false;
  uint32_t age_years = 0;
};

struct CaseSet {
  std::vector<SyntheticCase> cases;    // family members and unrelated, shuffled
  std::vector<SyntheticCase> queries;  // one seed per family (region empty)
  std::vector<std::string> common;     // the frequent-term pool, most frequent first
};

absl::StatusOr<CaseSet> MakeCaseFamilies(const CaseFamilyOptions& options,
                                         const vocab::Ontology& ontology);

// A case as a Phenopacket v2 JSON line (with the variant as a genomic interpretation).
std::string CaseToPhenopacketJson(const SyntheticCase& c);
// A case as the record ingest would store and as the question a clinician would send.
v1::IndividualRecord CaseToRecord(const SyntheticCase& c);
v1::CaseQuery CaseToQuery(const SyntheticCase& c, bool with_variant);

// Writes DIR/<region>/cases.jsonl for every region and DIR/queries.jsonl.
absl::Status WriteCaseFamilies(const CaseSet& set, const std::string& out_dir);

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_CASE_FAMILIES_H_
