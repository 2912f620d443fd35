#include "node/ingest/reference_files.h"

#include <filesystem>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/code_list.h"
#include "node/vocab/codes.h"
#include "node/vocab/gene_table.h"
#include "node/vocab/ontology.h"

namespace pmdb::ingest {

namespace keys = storage::keys;

absl::Status RememberReferenceFiles(storage::Store& store, const ReferenceFiles& files) {
  if (files.hpo_path.empty() && files.gene_specs.empty() && files.icd10_path.empty()) {
    return absl::OkStatus();
  }
  storage::WriteBatch batch = store.NewBatch();
  std::error_code ec;
  if (!files.hpo_path.empty()) {
    auto ontology = vocab::Ontology::LoadObo(files.hpo_path);
    if (!ontology.ok()) return ontology.status();
    std::string absolute = std::filesystem::absolute(files.hpo_path, ec).string();
    batch.Put(storage::Family::kMeta, keys::kMetaHpoPath, absolute);
  }
  for (const std::string& spec : files.gene_specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("--genes takes ASSEMBLY=PATH (e.g. GRCh38=genes_grch38.tsv), not '", spec, "'"));
    }
    auto assembly = vocab::NormalizeAssembly(spec.substr(0, eq));
    if (!assembly.ok()) return assembly.status();
    std::string path = spec.substr(eq + 1);
    auto table = vocab::GeneTable::Load(path);
    if (!table.ok()) return table.status();
    batch.Put(storage::Family::kMeta, keys::MetaGeneTable(*assembly),
              std::filesystem::absolute(path, ec).string());
  }
  if (!files.icd10_path.empty()) {
    auto list = vocab::CodeList::LoadIcd10(files.icd10_path);
    if (!list.ok()) return list.status();
    batch.Put(storage::Family::kMeta, keys::kMetaIcd10Path,
              std::filesystem::absolute(files.icd10_path, ec).string());
  }
  auto lock = store.WriteLock();
  return store.Write(batch);
}

}  // namespace pmdb::ingest
