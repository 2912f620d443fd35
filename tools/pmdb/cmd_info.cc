// pmdb info: what a store holds, in counts.
#include <iostream>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/catalog.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "info",
      "pmdb info --db DIR [--json]",
      "Shows what a store holds: individuals, consent, datasets with their assemblies and\n"
      "variant counts, the remembered ontology and gene tables, and the size on disk.",
      {{"db", "DIR", "the store directory"}, {"json", "", "print JSON"}},
      "  pmdb info --db region.db\n",
  };
  return spec;
}

}  // namespace

int RunInfo(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  auto store = OpenStore(flags->Get("db"), /*create=*/false);
  if (!store.ok()) return Fail("info", store.status());
  auto view = (*store)->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return Fail("info", catalog.status());
  auto all = view->GetBitmap(storage::keys::kAllIndividuals);
  auto research = view->GetBitmap(storage::keys::Consent("research"));
  auto care = view->GetBitmap(storage::keys::Consent("care"));
  auto size = (*store)->DiskSize();
  for (const absl::Status& s : {all.status(), research.status(), care.status(), size.status()}) {
    if (!s.ok()) return Fail("info", s);
  }
  const vocab::Catalog& c = **catalog;
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject().Key("individuals").Uint(all->Cardinality());
    j.Key("consent").BeginObject().Key("research").Uint(research->Cardinality());
    j.Key("care").Uint(care->Cardinality()).EndObject();
    j.Key("datasets").BeginArray();
    for (const auto& [id, d] : c.datasets()) {
      j.BeginObject().Key("id").String(id).Key("assembly").String(d.assembly());
      j.Key("samples").Uint(d.sample_count()).Key("variants").Uint(d.variant_count()).EndObject();
    }
    j.EndArray();
    j.Key("ontology").String(c.ontology() ? c.ontology()->version() : "");
    j.Key("disk_bytes").Uint(*size).EndObject();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "store " << (*store)->dir() << "\n"
            << "  individuals  " << WithThousands(all->Cardinality()) << " ("
            << WithThousands(research->Cardinality()) << " consent to research, "
            << WithThousands(care->Cardinality()) << " to care)\n";
  for (const auto& [id, d] : c.datasets()) {
    std::cout << "  dataset      " << id << "  " << d.assembly() << "  "
              << WithThousands(d.sample_count()) << " samples, "
              << WithThousands(d.variant_count()) << " variant alleles\n";
  }
  std::cout << "  ontology     "
            << (c.ontology() ? StrCat(c.ontology()->size(), " terms, ", c.ontology()->version())
                             : std::string("none"))
            << "\n  on disk      " << WithThousands(*size) << " bytes\n";
  return 0;
}

}  // namespace pmdb::cli
