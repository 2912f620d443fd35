#include "node/vocab/catalog.h"

#include <set>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"

namespace pmdb::vocab {

namespace keys = storage::keys;

Catalog::Catalog(std::map<std::string, v1::DatasetInfo> datasets,
                 std::shared_ptr<const Ontology> ontology,
                 std::map<std::string, std::shared_ptr<const GeneTable>> gene_tables,
                 std::shared_ptr<const CodeList> icd10)
    : datasets_(std::move(datasets)),
      ontology_(std::move(ontology)),
      gene_tables_(std::move(gene_tables)),
      icd10_(std::move(icd10)) {}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Load(const storage::ReadView& view) {
  std::map<std::string, v1::DatasetInfo> datasets;
  absl::Status parse_error;
  absl::Status s = view.Scan(
      storage::Family::kMeta, keys::kMetaDatasetPrefix, keys::PrefixEnd(keys::kMetaDatasetPrefix),
      [&](std::string_view, std::string_view value) {
        v1::DatasetInfo info;
        if (!info.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse_error = absl::DataLossError("a dataset record in the store is unreadable");
          return false;
        }
        datasets[info.id()] = std::move(info);
        return true;
      });
  if (!s.ok()) return s;
  if (!parse_error.ok()) return parse_error;

  std::shared_ptr<const Ontology> ontology;
  auto hpo_path = view.Get(storage::Family::kMeta, keys::kMetaHpoPath);
  if (!hpo_path.ok()) return hpo_path.status();
  if (hpo_path->has_value()) {
    auto loaded = Ontology::LoadObo(**hpo_path);
    if (!loaded.ok()) {
      return absl::FailedPreconditionError(
          StrCat("the store's ontology could not be loaded (give --hpo PATH to replace it): ",
                 std::string(loaded.status().message())));
    }
    ontology = std::make_shared<const Ontology>(std::move(*loaded));
  }

  std::map<std::string, std::shared_ptr<const GeneTable>> gene_tables;
  for (std::string assembly : {"GRCh37", "GRCh38"}) {
    auto path = view.Get(storage::Family::kMeta, keys::MetaGeneTable(assembly));
    if (!path.ok()) return path.status();
    if (!path->has_value()) continue;
    auto table = GeneTable::Load(**path);
    if (!table.ok()) {
      return absl::FailedPreconditionError(
          StrCat("the store's ", assembly, " gene table could not be loaded (give --genes ",
                 assembly, "=PATH to replace it): ", std::string(table.status().message())));
    }
    gene_tables[assembly] = std::make_shared<const GeneTable>(std::move(*table));
  }

  std::shared_ptr<const CodeList> icd10;
  auto icd10_path = view.Get(storage::Family::kMeta, keys::kMetaIcd10Path);
  if (!icd10_path.ok()) return icd10_path.status();
  if (icd10_path->has_value()) {
    auto list = CodeList::LoadIcd10(**icd10_path);
    if (!list.ok()) {
      return absl::FailedPreconditionError(
          StrCat("the store's ICD-10 code list could not be loaded (give --icd10 PATH to replace "
                 "it): ",
                 std::string(list.status().message())));
    }
    icd10 = std::make_shared<const CodeList>(std::move(*list));
  }
  return std::make_shared<const Catalog>(std::move(datasets), std::move(ontology),
                                         std::move(gene_tables), std::move(icd10));
}

const GeneTable* Catalog::gene_table(const std::string& assembly) const {
  auto it = gene_tables_.find(assembly);
  return it == gene_tables_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Catalog::assemblies() const {
  std::set<std::string> out;
  for (const auto& [id, info] : datasets_) out.insert(info.assembly());
  return {out.begin(), out.end()};
}

}  // namespace pmdb::vocab
