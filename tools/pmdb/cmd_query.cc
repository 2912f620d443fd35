// pmdb query: counts, breakdowns and allele frequencies on a local store. Exact: disclosure
// rules apply to what leaves the region, not to the operator's own store.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/core/releaser.h"
#include "node/ingest/reference_files.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/output.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

std::vector<FlagSpec> QueryFlags() {
  std::vector<FlagSpec> flags = {
      {"db", "DIR", "the store directory (local, exact answers)"},
      {"hub", "HOST:PORT", "ask every region through the national hub (default: $PMDB_HUB)"},
      {"node", "HOST:PORT", "ask your own region's node as its operator (exact answers)"},
      {"breakdown", "DIMS", "one or two of sex,age_band,diagnosis,zygosity (comma-separated)"},
      {"diagnoses", "CODES",
       "with --breakdown diagnosis: the ICD-10 codes that get a cell (comma-separated, at most "
       "30); required with --hub, optional with --db and --node (default: every category)"},
      {"frequency", "", "allele frequency of the expression's variant() criterion"},
      {"cost", "",
       "with --hub: what the question would cost in every region and what you have left, "
       "charging nothing"},
      {"per-region", "",
       "with --hub: every region's own number (each with that region's noise and at its cost) "
       "instead of one national total with one noise"},
      {"purpose", "NAME", "research (default) or care: whose consent applies (--db, --node)"},
      {"batch", "FILE", "one expression per line; one JSON object per line out, same order"},
      {"hpo", "PATH", "HPO ontology (OBO) to use and remember (--db)"},
      {"genes", "ASSEMBLY=PATH", "gene table to use and remember (--db)", true},
      {"icd10", "PATH", "ICD-10 code list to use and remember (--db)"},
      {"timeout", "SECONDS", "how long to wait for a remote answer (default 30)"},
      {"json", "", "print JSON"},
  };
  for (FlagSpec& f : CredentialFlags()) flags.push_back(std::move(f));
  return flags;
}

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "query",
      "pmdb query (--db DIR | --hub HOST:PORT | --node HOST:PORT) [--breakdown DIMS | "
      "--frequency]\n"
      "                  [--json] (EXPR | --batch FILE)",
      "Answers a question about the individuals in a store. EXPR combines criteria:\n"
      "  variant(GRCh38:7:55191822:T:G[,het|hom|hemi])   range(GRCh38:17:43044295-43125483)\n"
      "  gene(BRCA1[,hom])   hpo(HP:0002090)   dx(C34)   treatment(L01EB)   sex(F)\n"
      "  age(60-69)   dataset(ID)   with AND, OR, NOT and parentheses (NOT binds tightest).\n"
      "hpo() matches descendants, dx() and treatment() match codes under the one given.\n"
      "The result is a count, a breakdown by one or two of sex, age_band, diagnosis, zygosity,\n"
      "or an allele frequency (AC, AN, AF) of a variant() within the rest of the expression.\n"
      "Only individuals whose consent covers --purpose are counted.\n"
      "\n"
      "With --db the answer is exact (the operator's own store). With --hub every region answers\n"
      "under its own sharing policy and disclosure rules, and by default the hub returns one\n"
      "national total with one noise (secure aggregation: each region adds a share of the noise\n"
      "and masks that cancel in the sum, so no region's own number is seen and the total is as\n"
      "precise as one region's answer); --per-region lists each region's own noised number\n"
      "instead. A region that did not answer is never counted as zero (the total says it is\n"
      "partial and which regions it covers). Certificates come from --cert, --key, --ca\n"
      "or PMDB_CERT, PMDB_KEY, PMDB_CA; `. build/demo/researcher.env` sets them for the demo.",
      QueryFlags(),
      "  pmdb query --db region.db 'dx(C50) AND sex(F)'\n"
      "  pmdb query --db region.db --breakdown sex,age_band 'gene(BRCA2) AND NOT dx(C50)'\n"
      "  pmdb query --db region.db --frequency 'variant(GRCh37:2:1234:A:G) AND sex(F)'\n"
      "  pmdb query --db region.db --batch questions.txt > answers.jsonl\n"
      "  pmdb query --hub hub.example.se:7000 --breakdown sex 'gene(BRCA2) AND dx(C50)'\n"
      "  pmdb query --hub hub.example.se:7000 --cost --breakdown sex 'gene(BRCA2)'\n"
      "  pmdb query --hub hub.example.se:7000 --per-region 'dx(C50) AND sex(F)'\n"
      "  pmdb query --hub hub.example.se:7000 --breakdown diagnosis --diagnoses C50,C56,D05 \\\n"
      "      'gene(BRCA2)'\n",
      /*takes_positional=*/true,
  };
  return spec;
}

enum class Kind { kCount, kBreakdown, kFrequency };

struct Request {
  Kind kind = Kind::kCount;
  std::vector<v1::Dimension> dimensions;
  std::vector<std::string> diagnoses;
  v1::Purpose purpose = v1::RESEARCH;
};

// What one exact answer shows, kept until its audit entry is durable.
struct Shown {
  std::string canonical;  // the question as understood ("" when it did not parse)
  std::string json;       // with --json
  std::string text;       // for stdout
  std::string warnings;   // for stderr
  std::string released;   // for the audit entry
};

void PrintWarnings(const google::protobuf::RepeatedPtrField<std::string>& warnings, Shown* shown) {
  for (const std::string& w : warnings) StrAppend(&shown->warnings, "warning: ", w, "\n");
}

// Answers one expression exactly into `shown` (JSON, or text and warnings).
absl::Status Answer(const query::Engine& engine, const storage::ReadView& view, const Request& req,
                    const std::string& text, bool as_json, Shown* shown) {
  const core::ViewSource source(view);
  auto criterion = query::ParseCriterion(text);
  if (!criterion.ok()) {
    return absl::InvalidArgumentError(query::FormatParseError(text, criterion.status()));
  }
  std::string canonical = query::FormatCriterion(*criterion);
  shown->canonical = canonical;
  std::string* json = &shown->json;
  const RegionParts no_regions;  // a store is not asked through the federation
  std::string out;
  switch (req.kind) {
    case Kind::kCount: {
      auto released = core::Releaser(engine).Count(source, *criterion, req.purpose);
      if (!released.ok()) return released.status();
      const auto* a = &released->answer;
      shown->released = call::Released(*a);
      if (as_json) {
        *json = CountJson(canonical, *a, false, no_regions);
        return absl::OkStatus();
      }
      shown->text = StrCat(WithThousands(a->count().low()), " individuals match ", canonical, "\n");
      PrintWarnings(a->warnings(), shown);
      return absl::OkStatus();
    }
    case Kind::kFrequency: {
      auto released = core::Releaser(engine).Frequency(source, *criterion, req.purpose);
      if (!released.ok()) return released.status();
      const auto* a = &released->answer;
      shown->released = call::Released(*a);
      if (as_json) {
        *json = FrequencyJson(canonical, *a, false, no_regions);
        return absl::OkStatus();
      }
      uint64_t ac = a->ac().low(), an = a->an().low();
      char af[32];
      std::snprintf(af, sizeof(af), "%.6g", an == 0 ? 0.0 : static_cast<double>(ac) / an);
      shown->text =
          StrCat("AC=", ac, "  AN=", an,
                 "  AF=", an == 0 ? std::string("n/a (no called alleles)") : std::string(af), "   ",
                 canonical, "\n");
      PrintWarnings(a->warnings(), shown);
      return absl::OkStatus();
    }
    case Kind::kBreakdown: {
      auto released = core::Releaser(engine).Breakdown(source, *criterion, req.dimensions,
                                                       req.diagnoses, req.purpose);
      if (!released.ok()) return released.status();
      const auto* a = &released->answer;
      shown->released = call::Released(*a);
      if (as_json) {
        *json = BreakdownJson(canonical, *a, {}, false, no_regions);
        return absl::OkStatus();
      }
      out = StrCat(canonical, "\n");
      for (v1::Dimension d : req.dimensions) {
        std::string name = query::DimensionName(d);
        name.resize(std::max<size_t>(name.size(), 12), ' ');
        StrAppend(&out, "  ", name);
      }
      StrAppend(&out, "  count\n");
      int empty = 0;
      for (const v1::ReleasedCell& cell : a->cells()) {
        // People read the cells that hold someone; JSON keeps every cell for programs.
        if (cell.count().low() == 0) {
          ++empty;
          continue;
        }
        for (size_t i = 0; i < req.dimensions.size(); ++i) {
          std::string label = cell.labels(i);
          label.resize(std::max<size_t>(
                           label.size(),
                           std::max<size_t>(12, query::DimensionName(req.dimensions[i]).size())),
                       ' ');
          StrAppend(&out, "  ", label);
        }
        StrAppend(&out, "  ", WithThousands(cell.count().low()), "\n");
      }
      if (empty > 0) StrAppend(&out, "  (", empty, " empty cells not shown)\n");
      shown->text = std::move(out);
      PrintWarnings(a->warnings(), shown);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Expressions(const Flags& flags, absl::Status* error) {
  if (!flags.Has("batch")) return {flags.positional()[0]};
  std::ifstream in(flags.Get("batch"));
  if (!in) {
    *error = absl::NotFoundError(StrCat(flags.Get("batch"), ": cannot open"));
    return {};
  }
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view expr = Trim(line);
    if (expr.empty() || expr.front() == '#') continue;
    out.emplace_back(expr);
  }
  return out;
}

int RunRemote(const Flags& flags, const Request& req, const Target& target, bool batch) {
  RemoteQuery q;
  q.kind = req.kind == Kind::kCount       ? QueryKind::kCount
           : req.kind == Kind::kBreakdown ? QueryKind::kBreakdown
                                          : QueryKind::kFrequency;
  q.dimensions = req.dimensions;
  q.diagnoses = req.diagnoses;
  q.cost_only = flags.Bool("cost");
  q.per_region = flags.Bool("per-region");
  q.purpose = req.purpose;
  q.timeout_seconds = target.timeout_seconds;
  bool to_hub = target.kind == Target::kHub;
  auto connection = Connect(flags, target);
  if (!connection.ok()) return Fail("query", connection.status());
  absl::Status error;
  std::vector<std::string> expressions = Expressions(flags, &error);
  if (!error.ok()) return Fail("query", error);
  int failures = 0;
  for (const std::string& expr : expressions) {
    std::string json;
    bool as_json = batch || flags.Bool("json");
    bool answered = true;
    absl::Status s = AskRemote(*connection, to_hub, q, expr, as_json ? &json : nullptr, &answered);
    if (s.ok() && !answered) {
      ++failures;  // printed as an answer without a number; the exit code says it failed
    }
    if (!s.ok()) {
      if (!batch) return Fail("query", s);
      ++failures;
      json = ErrorJson(s, expr);
    }
    if (as_json) std::cout << json << "\n";
  }
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

int RunQuery(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  Request req;
  if (flags->Has("breakdown") && flags->Bool("frequency")) {
    return UsageError(Spec(),
                      absl::InvalidArgumentError("--breakdown and --frequency exclude each other"));
  }
  if (flags->Has("breakdown")) {
    req.kind = Kind::kBreakdown;
    auto dims = query::ParseDimensions(flags->Get("breakdown"));
    if (!dims.ok()) return UsageError(Spec(), dims.status());
    req.dimensions = std::move(*dims);
    std::vector<std::string> named;
    for (std::string_view d : Split(flags->Get("diagnoses"), ',')) {
      if (!Trim(d).empty()) named.emplace_back(Trim(d));
    }
    auto diagnoses = query::CheckDiagnoses(req.dimensions, named);
    if (!diagnoses.ok()) return UsageError(Spec(), diagnoses.status());
    req.diagnoses = std::move(*diagnoses);
  } else if (flags->Has("diagnoses")) {
    return UsageError(Spec(), absl::InvalidArgumentError("--diagnoses goes with --breakdown"));
  } else if (flags->Bool("frequency")) {
    req.kind = Kind::kFrequency;
  }
  std::string purpose = ToLower(flags->Get("purpose", "research"));
  if (purpose == "care") {
    req.purpose = v1::CARE;
  } else if (purpose != "research") {
    return UsageError(Spec(), absl::InvalidArgumentError("--purpose is research or care"));
  }
  bool batch = flags->Has("batch");
  if (batch == (flags->positional().size() == 1) || flags->positional().size() > 1) {
    return UsageError(Spec(),
                      absl::InvalidArgumentError("give one expression (quote it) or --batch FILE"));
  }
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kHub, Target::kNode});
  if (!target.ok()) return UsageError(Spec(), target.status());
  if (flags->Bool("cost") && target->kind != Target::kHub) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  "--cost asks the regions through --hub what a question would "
                                  "cost; an operator's exact answers (--db, --node) cost nothing"));
  }
  if (flags->Bool("per-region") && target->kind != Target::kHub) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  "--per-region asks the hub for each region's own number; --db "
                                  "and --node answer for one region already"));
  }
  if (target->kind != Target::kDb) return RunRemote(*flags, req, *target, batch);
  auto store = OpenStore(target->where, /*create=*/false);
  if (!store.ok()) return Fail("query", store.status());
  absl::Status remembered =
      ingest::RememberReferenceFiles(**store, {.hpo_path = flags->Get("hpo"),
                                               .gene_specs = flags->All("genes"),
                                               .icd10_path = flags->Get("icd10")});
  if (!remembered.ok()) return Fail("query", remembered);
  auto view = (*store)->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return Fail("query", catalog.status());
  query::Engine engine(*catalog, query::Engine::kExact);
  auto audit = LocalAudit::Open(store->get());
  if (!audit.ok()) return Fail("query", audit.status());
  // Answers one expression; its audit entry is durable before anything of it is shown.
  auto ask = [&](const std::string& expr, bool as_json, Shown* shown) {
    absl::Status s = Answer(engine, *view, req, expr, as_json, shown);
    std::string method = req.kind == Kind::kCount       ? "Local/Count"
                         : req.kind == Kind::kBreakdown ? "Local/Breakdown"
                                                        : "Local/Frequency";
    absl::Status logged = (*audit)->Record(
        method, shown->canonical.empty() ? std::string("(unparsed)") : shown->canonical, s,
        shown->released);
    return logged.ok() ? s : logged;
  };

  if (!batch) {
    Shown shown;
    absl::Status s = ask(flags->positional()[0], flags->Bool("json"), &shown);
    if (!s.ok()) return Fail("query", s);
    if (flags->Bool("json")) {
      std::cout << shown.json << "\n";
    } else {
      std::cout << shown.text;
      std::cerr << shown.warnings;
    }
    return 0;
  }
  std::ifstream in(flags->Get("batch"));
  if (!in) return Fail("query", absl::NotFoundError(StrCat(flags->Get("batch"), ": cannot open")));
  std::string line;
  int failures = 0;
  while (std::getline(in, line)) {
    std::string_view expr = Trim(line);
    if (expr.empty() || expr.front() == '#') continue;
    Shown shown;
    absl::Status s = ask(std::string(expr), /*as_json=*/true, &shown);
    std::string json = shown.json;
    if (!s.ok()) {
      ++failures;
      json = ErrorJson(s, expr);
    }
    std::cout << json << "\n";
  }
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace pmdb::cli
