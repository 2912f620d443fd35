// pmdb info: what a store holds, in counts — from the store itself (--db) or from the running
// node that holds it (--node, AdminService.Status), which adds the node's own state.
#include <iostream>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/transport/status.h"
#include "node/vocab/catalog.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec = WithCredentialFlags({
      "info",
      "pmdb info (--db DIR | --node HOST:PORT) [--json]",
      "Shows what a store holds: individuals, consent, datasets with their assemblies and\n"
      "variant counts, the remembered ontology, gene tables and ICD-10 code list, and the size\n"
      "on disk. With --node (an operator's certificate) it asks your region's running node, and\n"
      "also shows the node's version, when it started, its audit log and the privacy budgets\n"
      "left.",
      {{"db", "DIR", "the store directory"},
       {"node", "HOST:PORT", "your region's running node (instead of --db)"},
       {"json", "", "print JSON"},
       {"timeout", "SECONDS", "with --node: give up after this long (default 30)"}},
      "  pmdb info --db region.db\n"
      "  pmdb info --node localhost:7104 --json\n",
  });
  return spec;
}

// What is shown, from either source; `node` is set for --node.
struct Shown {
  std::string where;
  uint64_t individuals = 0, research = 0, care = 0, disk_bytes = 0;
  std::map<std::string, v1::DatasetInfo> datasets;
  std::string ontology;
  uint64_t ontology_terms = 0;
  std::map<std::string, uint64_t> gene_tables;  // assembly -> genes
  uint64_t icd10_codes = 0;
  std::string icd10_list;
  std::optional<v1::StatusReply> node;
};

void Print(const Shown& s, bool json) {
  if (json) {
    Json j;
    // A sharded region whose shards did not all answer: not known, so no number.
    const bool unknown = s.node.has_value() && s.node->people_unknown();
    j.BeginObject().Key("individuals");
    unknown ? j.Null() : j.Uint(s.individuals);
    j.Key("consent").BeginObject().Key("research");
    unknown ? j.Null() : j.Uint(s.research);
    j.Key("care");
    unknown ? j.Null() : j.Uint(s.care);
    j.EndObject();
    j.Key("datasets").BeginArray();
    for (const auto& [id, d] : s.datasets) {
      j.BeginObject().Key("id").String(id).Key("assembly").String(d.assembly());
      j.Key("samples").Uint(d.sample_count()).Key("variants").Uint(d.variant_count()).EndObject();
    }
    j.EndArray();
    j.Key("ontology").String(s.ontology);
    j.Key("gene_tables").BeginArray();
    for (const auto& [assembly, genes] : s.gene_tables) {
      j.BeginObject().Key("assembly").String(assembly).Key("genes").Uint(genes).EndObject();
    }
    j.EndArray();
    j.Key("icd10").BeginObject().Key("codes").Uint(s.icd10_codes);
    j.Key("list").String(s.icd10_list).EndObject();
    j.Key("disk_bytes").Uint(s.disk_bytes);
    if (s.node.has_value()) {
      const v1::StatusReply& n = *s.node;
      j.Key("node").BeginObject().Key("region").String(n.region());
      j.Key("version").String(n.version()).Key("started").String(Rfc3339(n.started_unix()));
      j.Key("audit_entries").Uint(n.audit_entries());
      if (!n.shards().empty()) j.Key("shards").String(n.shards());
      if (n.people_unknown()) j.Key("people_unknown").Bool(true);
      j.Key("mechanism").String(n.disclosure().mechanism());
      j.Key("disclosure").String(n.disclosure().description());
      j.Key("budgets").BeginArray();
      for (const v1::BudgetState& b : n.budgets()) {
        j.BeginObject().Key("name").String(b.name()).Key("spent_rho").Double(b.spent_rho());
        j.Key("limit_rho").Double(b.limit_rho()).Key("period_days").Uint(b.period_days());
        j.EndObject();
      }
      j.EndArray().EndObject();
    }
    j.EndObject();
    std::cout << j.str() << "\n";
    return;
  }
  std::cout << s.where << "\n";
  if (s.node.has_value() && s.node->people_unknown()) {
    std::cout << "  individuals  unknown: a shard did not answer (see shards below)\n";
  } else {
    std::cout << "  individuals  " << WithThousands(s.individuals) << " ("
              << WithThousands(s.research) << " consent to research, " << WithThousands(s.care)
              << " to care)\n";
  }
  for (const auto& [id, d] : s.datasets) {
    std::cout << "  dataset      " << id << "  " << d.assembly() << "  "
              << WithThousands(d.sample_count()) << " samples, " << WithThousands(d.variant_count())
              << " variant alleles\n";
  }
  std::cout << "  ontology     "
            << (s.ontology.empty() && s.ontology_terms == 0
                    ? std::string("none")
                    : StrCat(s.ontology_terms, " terms, ", s.ontology))
            << "\n";
  for (const auto& [assembly, genes] : s.gene_tables) {
    std::cout << "  gene table   " << assembly << "  " << WithThousands(genes) << " genes\n";
  }
  std::cout << "  ICD-10 list  "
            << (s.icd10_codes == 0 ? std::string("none (codes are checked for their shape only)")
                                   : StrCat(WithThousands(s.icd10_codes), " codes, ", s.icd10_list))
            << "\n";
  std::cout << "  on disk      " << WithThousands(s.disk_bytes) << " bytes\n";
  if (!s.node.has_value()) return;
  const v1::StatusReply& n = *s.node;
  std::cout << "  pmdb         " << n.version() << ", up since "
            << FormatUtc(n.started_unix(), "%Y-%m-%d %H:%M UTC") << "\n"
            << "  audit log    " << WithThousands(n.audit_entries()) << " entries\n"
            << (n.shards().empty() ? std::string() : StrCat("  shards       ", n.shards(), "\n"))
            << "  disclosure   " << n.disclosure().description() << "\n";
  for (const v1::BudgetState& b : n.budgets()) {
    std::printf("  budget       %-24s rho %.2f of %.2f spent (%u days)\n", b.name().c_str(),
                b.spent_rho(), b.limit_rho(), b.period_days());
  }
}

int InfoOfNode(const Flags& flags, const Target& target) {
  auto c = Connect(flags, target);
  if (!c.ok()) return Fail("info", c.status());
  grpc::ClientContext context;
  context.set_deadline(target.Deadline());
  v1::StatusReply reply;
  absl::Status s = transport::FromGrpc(
      v1::AdminService::NewStub(c->channel)->Status(&context, v1::StatusRequest(), &reply));
  if (!s.ok()) return Fail("info", s);
  Shown shown{.where = StrCat("node ", target.where, " (region ", reply.region(), ")"),
              .individuals = reply.individuals(),
              .research = reply.consent_research(),
              .care = reply.consent_care(),
              .disk_bytes = reply.disk_bytes(),
              .datasets = {reply.datasets().begin(), reply.datasets().end()},
              .ontology = reply.ontology(),
              .ontology_terms = reply.ontology_terms(),
              .gene_tables = {reply.gene_tables().begin(), reply.gene_tables().end()},
              .icd10_codes = reply.icd10_codes(),
              .icd10_list = reply.icd10_list()};
  shown.node = std::move(reply);
  Print(shown, flags.Bool("json"));
  return 0;
}

}  // namespace

int RunInfo(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kNode});
  if (!target.ok()) return UsageError(Spec(), target.status());
  if (target->kind == Target::kNode) return InfoOfNode(*flags, *target);
  auto store = OpenStore(target->where, /*create=*/false);
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
  Shown shown{.where = StrCat("store ", (*store)->dir()),
              .individuals = all->Cardinality(),
              .research = research->Cardinality(),
              .care = care->Cardinality(),
              .disk_bytes = *size,
              .datasets = c.datasets()};
  if (c.ontology() != nullptr) {
    shown.ontology = c.ontology()->version();
    shown.ontology_terms = c.ontology()->size();
  }
  for (const std::string& assembly : c.assemblies()) {
    if (const vocab::GeneTable* t = c.gene_table(assembly)) shown.gene_tables[assembly] = t->size();
  }
  if (c.icd10() != nullptr) {
    shown.icd10_codes = c.icd10()->size();
    shown.icd10_list = c.icd10()->source();
  }
  Print(shown, flags->Bool("json"));
  return 0;
}

}  // namespace pmdb::cli
