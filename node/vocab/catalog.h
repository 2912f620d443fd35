// Catalog: what the query engine knows about a store besides its bitmaps — the datasets and
// their assemblies, the phenotype ontology, the gene tables per assembly and the region's
// ICD-10 code list.
//
// Loaded once per store open (the ontology and gene tables are files whose paths the store
// remembers). Immutable after loading; safe to share between threads.
#ifndef PMDB_NODE_VOCAB_CATALOG_H_
#define PMDB_NODE_VOCAB_CATALOG_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "node/storage/read_view.h"
#include "node/vocab/code_list.h"
#include "node/vocab/gene_table.h"
#include "node/vocab/ontology.h"
#include "pmdb/v1/records.pb.h"

namespace pmdb::vocab {

class Catalog {
 public:
  // Reads datasets and the remembered ontology and gene-table paths from the store's meta.
  static absl::StatusOr<std::shared_ptr<const Catalog>> Load(const storage::ReadView& view);

  // For tests and tools that build a catalog by hand.
  Catalog(std::map<std::string, v1::DatasetInfo> datasets, std::shared_ptr<const Ontology> ontology,
          std::map<std::string, std::shared_ptr<const GeneTable>> gene_tables,
          std::shared_ptr<const CodeList> icd10 = nullptr);

  const std::map<std::string, v1::DatasetInfo>& datasets() const { return datasets_; }
  // Null when the store has never been given an ontology.
  const Ontology* ontology() const { return ontology_.get(); }
  const std::shared_ptr<const Ontology>& shared_ontology() const { return ontology_; }
  // Null when there is no table for the assembly.
  const GeneTable* gene_table(const std::string& assembly) const;
  // Null when the store has never been given an ICD-10 code list.
  const CodeList* icd10() const { return icd10_.get(); }
  // Assemblies of the stored datasets, each once.
  std::vector<std::string> assemblies() const;

 private:
  std::map<std::string, v1::DatasetInfo> datasets_;
  std::shared_ptr<const Ontology> ontology_;
  std::map<std::string, std::shared_ptr<const GeneTable>> gene_tables_;
  std::shared_ptr<const CodeList> icd10_;
};

}  // namespace pmdb::vocab

#endif  // PMDB_NODE_VOCAB_CATALOG_H_
