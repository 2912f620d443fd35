// The reference files a store remembers: the phenotype ontology (--hpo PATH), gene tables per
// assembly (--genes GRCh38=PATH) and the region's ICD-10 code list (--icd10 PATH). Each file is
// loaded once to check it before its path is stored, so a later query never finds a broken path it
// was told to remember.
#ifndef PMDB_NODE_INGEST_REFERENCE_FILES_H_
#define PMDB_NODE_INGEST_REFERENCE_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "node/storage/store.h"

namespace pmdb::ingest {

struct ReferenceFiles {
  std::string hpo_path;                 // empty: keep the remembered one
  std::vector<std::string> gene_specs;  // "ASSEMBLY=PATH"
  std::string icd10_path;               // empty: keep the remembered one (vocab/code_list.h)
};

absl::Status RememberReferenceFiles(storage::Store& store, const ReferenceFiles& files);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_REFERENCE_FILES_H_
