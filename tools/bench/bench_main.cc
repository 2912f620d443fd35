// pmdb_bench: the benchmark driver behind tools/bench/run.
//
//   pmdb_bench export --vcf F --phenopackets F --hpo F --out DIR   cohort -> SQL tables (TSV)
//   pmdb_bench load-sqlite --tables DIR --sqlite FILE              TSV -> indexed SQLite
//   pmdb_bench compact --db DIR                                    store size before/after
//   pmdb_bench print-schema | print-indexes                        the SQL both engines use
//   pmdb_bench latency --db DIR --variants CHROM:POS:REF:ALT,... [--runs N] [--label TEXT]
//   pmdb_bench compare --db DIR --sqlite FILE --pg CONNINFO --variant CHROM:POS:REF:ALT
//                      [--assembly GRCh38] [--dx C50] [--hpo HP:0002664] [--runs N]
//                      [--bcf FILE.bcf] [--label TEXT]
//   pmdb_bench compare --db DIR --variant CHROM:POS:REF:ALT --floor-only 1 [...]
//   pmdb_bench engine --db DIR --query EXPR [--runs N]           one count's p50 ms, and its answer
// `compare` runs the same questions on every engine, fails unless all answers are identical,
// and prints a Markdown table of p50/p99 latencies. With --floor-only it times pmdb and the
// counts' physical floor only (no SQL engine needed).
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/storage/store.h"
#include "node/vocab/codes.h"
#include "query/engine.h"
#include "query/parser.h"
#include "tools/bench/sql_export.h"
#include "tools/bench/timing.h"

namespace pmdb::bench {
namespace {

using Cells = std::map<std::pair<std::string, std::string>, uint64_t>;

std::map<std::string, std::string> ParseArgs(int argc, char** argv) {
  std::map<std::string, std::string> args;
  if (argc % 2 != 0) {
    std::cerr << "pmdb_bench: expected --name value pairs; " << argv[argc - 1] << " has no value\n";
    std::exit(2);
  }
  for (int i = 0; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (!k.starts_with("--")) {
      std::cerr << "pmdb_bench: expected --name value pairs, got " << k << "\n";
      std::exit(2);
    }
    args[k.substr(2)] = argv[i + 1];
  }
  return args;
}

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "pmdb_bench: " << message << "\n";
  std::exit(1);
}

void Check(const absl::Status& s) {
  if (!s.ok()) Die(std::string(s.message()));
}

std::string Need(std::map<std::string, std::string>& args, const std::string& name) {
  auto it = args.find(name);
  if (it == args.end()) Die("--" + name + " is required");
  return it->second;
}

constexpr char kVariantSubquery[] =
    "SELECT g.individual FROM genotypes g JOIN variants v ON v.id = g.variant "
    "WHERE v.chrom = $1 AND v.pos = $2 AND v.ref = $3 AND v.alt = $4";

std::string CarriersSql() {
  return StrCat("SELECT COUNT(*) FROM individuals i WHERE i.research = 1 AND i.id IN (",
                kVariantSubquery, ")");
}
std::string CountSql() {
  return StrCat("SELECT COUNT(*) FROM individuals i WHERE i.research = 1 AND i.id IN (",
                kVariantSubquery,
                ") AND i.id IN (SELECT individual FROM diagnoses WHERE code >= $5 AND code < $6) "
                "AND i.id IN (SELECT p.individual FROM phenotypes p JOIN hpo_closure c "
                "ON c.descendant = p.term WHERE c.ancestor = $7)");
}
std::string ClinicalSql() {
  return "SELECT COUNT(*) FROM individuals i WHERE i.research = 1 AND i.sex = 'F' "
         "AND i.id IN (SELECT individual FROM diagnoses WHERE code >= $1 AND code < $2) "
         "AND i.id IN (SELECT p.individual FROM phenotypes p JOIN hpo_closure c "
         "ON c.descendant = p.term WHERE c.ancestor = $3)";
}
std::string BreakdownSql() {
  return StrCat(
      "SELECT sex, CASE WHEN age IS NULL THEN -1 WHEN age >= 100 THEN 100 ELSE age / 10 * 10 END, "
      "COUNT(*) FROM individuals i WHERE i.research = 1 AND i.id IN (",
      kVariantSubquery,
      ") AND i.id IN (SELECT individual FROM diagnoses WHERE code >= $5 AND code < $6) "
      "GROUP BY 1, 2");
}

std::string BandLabel(int band) {
  return band < 0 ? "unknown" : vocab::AgeBandLabel(static_cast<uint32_t>(band));
}

// ---- SQLite
class Sqlite {
 public:
  explicit Sqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      Die("cannot open " + path);
    }
    sqlite3_exec(db_, "PRAGMA cache_size=-2000000", nullptr, nullptr, nullptr);
  }
  ~Sqlite() { sqlite3_close(db_); }
  // Runs `sql` with text parameters; returns rows as strings.
  std::vector<std::vector<std::string>> Query(const std::string& sql,
                                              const std::vector<std::string>& params) {
    sqlite3_stmt*& stmt = cache_[sql];
    if (stmt == nullptr && sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      Die(StrCat("sqlite: ", sqlite3_errmsg(db_)));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    std::vector<std::vector<std::string>> rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

// ---- PostgreSQL
class Postgres {
 public:
  explicit Postgres(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) Die(StrCat("postgres: ", PQerrorMessage(conn_)));
  }
  ~Postgres() { PQfinish(conn_); }
  std::vector<std::vector<std::string>> Query(const std::string& sql,
                                              const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string e = PQerrorMessage(conn_);
      PQclear(r);
      Die("postgres: " + e);
    }
    std::vector<std::vector<std::string>> rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(r); ++c) row.emplace_back(PQgetvalue(r, i, c));
      rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
  }
  // Server-side execution time reported by EXPLAIN ANALYZE, in milliseconds.
  double ServerMs(const std::string& sql, const std::vector<std::string>& params) {
    auto rows = Query("EXPLAIN (ANALYZE, TIMING OFF) " + sql, params);
    for (const auto& row : rows) {
      if (row[0].starts_with("Execution Time: ")) return std::stod(row[0].substr(16));
    }
    Die("postgres: no execution time in EXPLAIN ANALYZE");
  }

 private:
  PGconn* conn_;
};

Cells SqlCells(const std::vector<std::vector<std::string>>& rows) {
  Cells cells;
  for (const auto& r : rows) cells[{r[0], BandLabel(std::stoi(r[1]))}] = std::stoull(r[2]);
  return cells;
}

// The store at `dir` with a block cache large enough to hold what questions read, and its
// catalog.
std::pair<std::unique_ptr<storage::Store>, std::shared_ptr<const vocab::Catalog>> OpenStore(
    const std::string& dir) {
  storage::StoreOptions options;
  options.block_cache_bytes = size_t{2} << 30;
  auto store = storage::Store::Open(dir, options);
  Check(store.status());
  auto catalog = vocab::Catalog::Load(*(*store)->Snapshot());
  Check(catalog.status());
  return {std::move(*store), std::move(*catalog)};
}

// p50/p99 of an engine count, each run on a fresh snapshot as a node's handler takes one;
// `value` gets the answer.
Latency TimeCount(const storage::Store& store, const query::Engine& engine,
                  const v1::Criterion& criterion, int runs, uint64_t* value) {
  return Measure(
      [&] {
        auto view = store.Snapshot();
        auto r = engine.Count(*view, criterion, v1::RESEARCH);
        Check(r.status());
        *value = r->value;
      },
      runs);
}

Cells PmdbCells(const v1::Breakdown& b) {
  Cells cells;
  for (const auto& c : b.cells()) {
    if (c.count() > 0) cells[{c.labels(0), c.labels(1)}] = c.count();
  }
  return cells;
}

std::string Ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), v < 1 ? "%.3f" : (v < 100 ? "%.2f" : "%.0f"), v);
  return buf;
}

int Compare(std::map<std::string, std::string> args) {
  std::string assembly = args.contains("assembly") ? args["assembly"] : "GRCh38";
  std::string dx = args.contains("dx") ? args["dx"] : "C50";
  std::string hpo = args.contains("hpo") ? args["hpo"] : "HP:0002664";
  int runs = args.contains("runs") ? std::stoi(args["runs"]) : 200;
  std::string label = args.contains("label") ? args["label"] : "";
  const std::string variant_arg = Need(args, "variant");
  std::vector<std::string_view> v = Split(variant_arg, ':');
  if (v.size() != 4) Die("--variant is CHROM:POS:REF:ALT");
  std::string variant = StrCat("variant(", assembly, ":", variant_arg, ")");
  std::string dx_end = storage::keys::PrefixEnd(dx);
  std::vector<std::string> vparams = {std::string(v[0]), std::string(v[1]), std::string(v[2]),
                                      std::string(v[3])};
  std::vector<std::string> count_params = vparams;
  for (const std::string& p : {dx, dx_end, hpo}) count_params.push_back(p);
  std::vector<std::string> clinical_params = {dx, dx_end, hpo};
  std::vector<std::string> breakdown_params = vparams;
  for (const std::string& p : {std::string("C"), std::string("D")}) breakdown_params.push_back(p);

  // pmdb, in process, as a node's gRPC handler would call it.
  auto opened = OpenStore(Need(args, "db"));
  std::unique_ptr<storage::Store>& store = opened.first;
  const std::shared_ptr<const vocab::Catalog>& catalog = opened.second;
  query::Engine engine(catalog);
  auto carriers_q = query::ParseCriterion(variant);
  auto count_q = query::ParseCriterion(StrCat(variant, " AND dx(", dx, ") AND hpo(", hpo, ")"));
  auto breakdown_q = query::ParseCriterion(StrCat(variant, " AND dx(C)"));
  auto clinical_q = query::ParseCriterion(StrCat("sex(F) AND dx(", dx, ") AND hpo(", hpo, ")"));
  Check(clinical_q.status());
  Check(carriers_q.status());
  Check(count_q.status());
  Check(breakdown_q.status());
  uint64_t pmdb_carriers = 0, pmdb_count = 0, pmdb_clinical = 0;
  Cells pmdb_cells;
  Latency pmdb_carriers_t = TimeCount(*store, engine, *carriers_q, runs, &pmdb_carriers);
  Latency pmdb_count_t = TimeCount(*store, engine, *count_q, runs, &pmdb_count);
  Latency pmdb_clinical_t = TimeCount(*store, engine, *clinical_q, runs, &pmdb_clinical);
  const bool floor_only = args.contains("floor-only") && args["floor-only"] != "0";
  Latency pmdb_breakdown_t;
  if (!floor_only) {
    pmdb_breakdown_t = Measure(
        [&] {
          auto view = store->Snapshot();
          auto r = engine.Breakdown(*view, *breakdown_q, {v1::SEX, v1::AGE_BAND}, v1::RESEARCH);
          Check(r.status());
          pmdb_cells = PmdbCells(r->value);
        },
        runs);
  }

  // The physical floor of each count: the bare CRoaring OR, AND and popcount of the very
  // bitmaps it touches (the variant's het, hom and hemi carriers, the diagnosis category, the
  // phenotype's closure, sex, research consent), deserialized once and held in memory. What the
  // engine adds on top is reading and decoding them from the store, planning and checks.
  namespace keys = storage::keys;
  auto floor_view = store->Snapshot();
  auto load = [&](const std::string& key) {
    auto b = floor_view->GetBitmap(key);
    Check(b.status());
    return *std::move(b);
  };
  const std::string vkey = keys::Variant({assembly, std::string(v[0]),
                                          static_cast<uint32_t>(std::stoul(std::string(v[1]))),
                                          std::string(v[2]), std::string(v[3])});
  const storage::Bitmap het = load(keys::Genotype(vkey, keys::kHet));
  const storage::Bitmap hom = load(keys::Genotype(vkey, keys::kHom));
  const storage::Bitmap hemi = load(keys::Genotype(vkey, keys::kHemi));
  const storage::Bitmap dx_bits = load(keys::Diagnosis(dx));
  const storage::Bitmap hpo_bits = load(keys::Phenotype(hpo));
  const storage::Bitmap female = load(keys::Sex('F'));
  const storage::Bitmap consent = load(keys::Consent("research"));
  uint64_t floor_carriers = 0, floor_count = 0, floor_clinical = 0;
  auto carriers_of = [&] {
    storage::Bitmap c = het;
    c |= hom;
    c |= hemi;
    return c;
  };
  Latency floor_carriers_t =
      Measure([&] { floor_carriers = carriers_of().AndCardinality(consent); }, runs);
  // The intersections smallest first (as the engine's planner orders them), so the floor is
  // the least work for the answer.
  auto by_size = [](std::vector<const storage::Bitmap*> bits) {
    std::sort(bits.begin(), bits.end(),
              [](const auto* a, const auto* b) { return a->Cardinality() < b->Cardinality(); });
    return bits;
  };
  const std::vector<const storage::Bitmap*> count_rest = by_size({&dx_bits, &hpo_bits});
  const std::vector<const storage::Bitmap*> clinical_order =
      by_size({&female, &dx_bits, &hpo_bits});
  Latency floor_count_t = Measure(
      [&] {
        storage::Bitmap c = carriers_of();
        for (const storage::Bitmap* b : count_rest) c &= *b;
        floor_count = c.AndCardinality(consent);
      },
      runs);
  Latency floor_clinical_t = Measure(
      [&] {
        storage::Bitmap c = *clinical_order[0] & *clinical_order[1];
        c &= *clinical_order[2];
        floor_clinical = c.AndCardinality(consent);
      },
      runs);
  if (floor_carriers != pmdb_carriers || floor_count != pmdb_count ||
      floor_clinical != pmdb_clinical) {
    Die(StrCat("the floor's bitmaps are not the question's: ", floor_carriers, "/", pmdb_carriers,
               " ", floor_count, "/", pmdb_count, " ", floor_clinical, "/", pmdb_clinical));
  }

  auto floor_table = [&](const std::string& carriers_name, const std::string& count_name,
                         const std::string& clinical_name) {
    std::cout << "\n| count | pmdb p50 ms | floor p50 ms | pmdb / floor |\n|---|---|---|---|\n";
    for (const auto& [name, pmdb, floor] :
         {std::tuple{carriers_name, pmdb_carriers_t, floor_carriers_t},
          std::tuple{count_name, pmdb_count_t, floor_count_t},
          std::tuple{clinical_name, pmdb_clinical_t, floor_clinical_t}}) {
      std::cout << "| " << name << " | " << Ms(pmdb.p50_ms) << " | " << Ms(floor.p50_ms) << " | "
                << Ms(pmdb.p50_ms / floor.p50_ms) << "x |\n";
    }
  };
  std::string carriers_name = StrCat("carriers of ", variant);
  std::string count_name = StrCat("count variant ∧ dx(", dx, ") ∧ hpo(", hpo, ")");
  std::string clinical_name = StrCat("count sex(F) ∧ dx(", dx, ") ∧ hpo(", hpo, ")");
  // Without the SQL peers (--floor-only 1): pmdb against its floor, for working on the engine.
  if (floor_only) {
    floor_table(carriers_name, count_name, clinical_name);
    return 0;
  }

  // SQLite, in process.
  Sqlite lite(Need(args, "sqlite"));
  int sql_runs = std::max(5, runs / 10);
  uint64_t lite_carriers = 0, lite_count = 0, lite_clinical = 0;
  Cells lite_cells;
  Latency lite_carriers_t = Measure(
      [&] { lite_carriers = std::stoull(lite.Query(CarriersSql(), vparams)[0][0]); }, sql_runs, 1);
  Latency lite_count_t = Measure(
      [&] { lite_count = std::stoull(lite.Query(CountSql(), count_params)[0][0]); }, sql_runs, 1);
  Latency lite_clinical_t = Measure(
      [&] { lite_clinical = std::stoull(lite.Query(ClinicalSql(), clinical_params)[0][0]); },
      sql_runs, 1);
  Latency lite_breakdown_t = Measure(
      [&] { lite_cells = SqlCells(lite.Query(BreakdownSql(), breakdown_params)); }, sql_runs, 1);

  // PostgreSQL over its local socket; server-side execution time from EXPLAIN ANALYZE.
  Postgres pg(Need(args, "pg"));
  uint64_t pg_carriers = std::stoull(pg.Query(CarriersSql(), vparams)[0][0]);
  uint64_t pg_count = std::stoull(pg.Query(CountSql(), count_params)[0][0]);
  Cells pg_cells = SqlCells(pg.Query(BreakdownSql(), breakdown_params));
  uint64_t pg_clinical = std::stoull(pg.Query(ClinicalSql(), clinical_params)[0][0]);
  auto server = [&](const std::string& sql, const std::vector<std::string>& params) {
    pg.ServerMs(sql, params);  // warm-up
    std::vector<double> ms;
    for (int i = 0; i < sql_runs; ++i) ms.push_back(pg.ServerMs(sql, params));
    return FromSamples(ms);
  };
  Latency pg_carriers_t = server(CarriersSql(), vparams);
  Latency pg_count_t = server(CountSql(), count_params);
  Latency pg_breakdown_t = server(BreakdownSql(), breakdown_params);
  Latency pg_clinical_t = server(ClinicalSql(), clinical_params);

  // bcftools answers the genomic part only: carriers of the variant in an indexed BCF.
  std::optional<Latency> bcf_t;
  uint64_t bcf_carriers = 0;
  if (args.contains("bcf")) {
    std::string cmd =
        StrCat("bcftools query -r ", v[0], ":", v[1], " -i 'REF=\"", v[2], "\" && ALT=\"", v[3],
               "\"' -f '[%GT\\n]' ", args["bcf"], " | grep -c '1'");
    bcf_t = Measure(
        [&] {
          FILE* p = popen(cmd.c_str(), "r");
          char buf[64] = {0};
          if (p == nullptr || std::fgets(buf, sizeof(buf), p) == nullptr) Die("bcftools failed");
          pclose(p);
          bcf_carriers = std::stoull(buf);
        },
        std::max(5, runs / 20), 1);
  }

  // Identical answers, or the figures mean nothing.
  if (pmdb_carriers != lite_carriers || pmdb_carriers != pg_carriers ||
      (bcf_t && bcf_carriers != pmdb_carriers)) {
    Die(StrCat("carrier counts differ: pmdb ", pmdb_carriers, ", sqlite ", lite_carriers,
               ", postgres ", pg_carriers, ", bcftools ", bcf_carriers));
  }
  if (pmdb_count != lite_count || pmdb_count != pg_count) {
    Die(StrCat("counts differ: pmdb ", pmdb_count, ", sqlite ", lite_count, ", postgres ",
               pg_count));
  }
  if (pmdb_clinical != lite_clinical || pmdb_clinical != pg_clinical) {
    Die(StrCat("clinical counts differ: pmdb ", pmdb_clinical, ", sqlite ", lite_clinical,
               ", postgres ", pg_clinical));
  }
  if (pmdb_cells != lite_cells || pmdb_cells != pg_cells) Die("breakdown cells differ");

  auto row = [](const std::string& name, const std::string& engine, const Latency& l,
                const Latency& pmdb, const std::string& answer) {
    std::string ratio = &l == &pmdb ? "1" : StrCat(Ms(l.p50_ms / pmdb.p50_ms), "x");
    std::cout << "| " << name << " | " << engine << " | " << Ms(l.p50_ms) << " | " << Ms(l.p99_ms)
              << " | " << l.runs << " | " << ratio << " | " << answer << " |\n";
  };
  std::cout << "\n#### " << label << "\n\n"
            << "| question | engine | p50 ms | p99 ms | runs | p50 vs pmdb | answer |\n"
            << "|---|---|---|---|---|---|---|\n";
  row(carriers_name, "pmdb", pmdb_carriers_t, pmdb_carriers_t, std::to_string(pmdb_carriers));
  row(carriers_name, "SQLite", lite_carriers_t, pmdb_carriers_t, std::to_string(lite_carriers));
  row(carriers_name, "PostgreSQL (server)", pg_carriers_t, pmdb_carriers_t,
      std::to_string(pg_carriers));
  if (bcf_t) {
    row(carriers_name, "bcftools (process, indexed BCF)", *bcf_t, pmdb_carriers_t,
        std::to_string(bcf_carriers));
  }
  row(count_name, "pmdb", pmdb_count_t, pmdb_count_t, std::to_string(pmdb_count));
  row(count_name, "SQLite", lite_count_t, pmdb_count_t, std::to_string(lite_count));
  row(count_name, "PostgreSQL (server)", pg_count_t, pmdb_count_t, std::to_string(pg_count));
  row(clinical_name, "pmdb", pmdb_clinical_t, pmdb_clinical_t, std::to_string(pmdb_clinical));
  row(clinical_name, "SQLite", lite_clinical_t, pmdb_clinical_t, std::to_string(lite_clinical));
  row(clinical_name, "PostgreSQL (server)", pg_clinical_t, pmdb_clinical_t,
      std::to_string(pg_clinical));
  std::string floor_engine = "floor: CRoaring AND + popcount, in memory";
  row(carriers_name, floor_engine, floor_carriers_t, pmdb_carriers_t,
      std::to_string(floor_carriers));
  row(count_name, floor_engine, floor_count_t, pmdb_count_t, std::to_string(floor_count));
  row(clinical_name, floor_engine, floor_clinical_t, pmdb_clinical_t,
      std::to_string(floor_clinical));
  std::string cells = StrCat(pmdb_cells.size(), " non-empty cells");
  std::string bd_name = "sex × age_band of variant ∧ dx(C)";
  row(bd_name, "pmdb", pmdb_breakdown_t, pmdb_breakdown_t, cells);
  row(bd_name, "SQLite", lite_breakdown_t, pmdb_breakdown_t, cells);
  row(bd_name, "PostgreSQL (server)", pg_breakdown_t, pmdb_breakdown_t, cells);
  floor_table(carriers_name, count_name, clinical_name);
  return 0;
}

// pmdb alone at one scale: for each variant, the count of its carriers who are women, the
// sex × age-band breakdown of its carriers and its allele frequency, p50/p99 over `runs`, each
// with a fresh snapshot as a node's handler takes. One Markdown row per variant.
int LatencyRows(std::map<std::string, std::string> args) {
  std::string assembly = args.contains("assembly") ? args["assembly"] : "GRCh38";
  int runs = args.contains("runs") ? std::stoi(args["runs"]) : 200;
  std::string label = args.contains("label") ? args["label"] : "";
  auto opened = OpenStore(Need(args, "db"));
  std::unique_ptr<storage::Store>& store = opened.first;
  const std::shared_ptr<const vocab::Catalog>& catalog = opened.second;
  query::Engine engine(catalog, query::Engine::kExact);
  const std::string variants = Need(args, "variants");
  for (std::string_view v : Split(variants, ',')) {
    std::string variant = StrCat("variant(", assembly, ":", v, ")");
    auto carriers = query::ParseCriterion(variant);
    auto women = query::ParseCriterion(StrCat(variant, " AND sex(F)"));
    Check(carriers.status());
    Check(women.status());
    uint64_t n_carriers = 0, n_women = 0, ac = 0, an = 0;
    Latency count_t = TimeCount(*store, engine, *women, runs, &n_women);
    Latency breakdown_t = Measure(
        [&] {
          auto view = store->Snapshot();
          auto r = engine.Breakdown(*view, *carriers, {v1::SEX, v1::AGE_BAND}, v1::RESEARCH);
          Check(r.status());
        },
        runs);
    Latency frequency_t = Measure(
        [&] {
          auto view = store->Snapshot();
          auto r = engine.Frequency(*view, *carriers, v1::RESEARCH);
          Check(r.status());
          ac = r->value.ac;
          an = r->value.an;
        },
        runs);
    auto view = store->Snapshot();
    auto c = engine.Count(*view, *carriers, v1::RESEARCH);
    Check(c.status());
    n_carriers = c->value;
    std::printf("| %s | %s | %llu | %llu/%llu | %llu | %.3f | %.3f | %.3f |\n", label.c_str(),
                std::string(v).c_str(), static_cast<unsigned long long>(n_carriers),
                static_cast<unsigned long long>(ac), static_cast<unsigned long long>(an),
                static_cast<unsigned long long>(n_women), count_t.p50_ms, breakdown_t.p50_ms,
                frequency_t.p50_ms);
  }
  return 0;
}

// One question's engine time on a store, as a node's handler takes it (a fresh snapshot per
// run): "p50_ms count" on one line.
int EngineTime(std::map<std::string, std::string> args) {
  int runs = args.contains("runs") ? std::stoi(args["runs"]) : 2000;
  auto opened = OpenStore(Need(args, "db"));
  query::Engine engine(opened.second);
  auto criterion = query::ParseCriterion(Need(args, "query"));
  Check(criterion.status());
  uint64_t count = 0;
  Latency t = TimeCount(*opened.first, engine, *criterion, runs, &count);
  std::printf("%.4f %llu\n", t.p50_ms, static_cast<unsigned long long>(count));
  return 0;
}

int Compact(std::map<std::string, std::string> args) {
  auto store = storage::Store::Open(Need(args, "db"), storage::StoreOptions{});
  Check(store.status());
  auto before = (*store)->DiskSize();
  Check((*store)->Compact());
  auto after = (*store)->DiskSize();
  std::cout << *before << " " << *after << "\n";
  return 0;
}

}  // namespace
}  // namespace pmdb::bench

int main(int argc, char** argv) {
  using namespace pmdb::bench;
  if (argc < 2) {
    std::cerr << "usage: pmdb_bench export|load-sqlite|compact|compare|latency|engine --name value "
                 "...\n";
    return 2;
  }
  std::string cmd = argv[1];
  auto args = ParseArgs(argc - 2, argv + 2);
  if (cmd == "export") {
    Check(ExportTables(Need(args, "vcf"), Need(args, "phenopackets"), Need(args, "hpo"),
                       Need(args, "out")));
    return 0;
  }
  if (cmd == "load-sqlite") {
    Check(LoadSqlite(Need(args, "tables"), Need(args, "sqlite")));
    return 0;
  }
  if (cmd == "compact") return Compact(args);
  if (cmd == "engine") return EngineTime(args);
  if (cmd == "print-schema") {
    std::cout << kSchemaSql;
    return 0;
  }
  if (cmd == "print-indexes") {
    std::cout << kIndexSql;
    return 0;
  }
  if (cmd == "compare") return Compare(args);
  if (cmd == "latency") return LatencyRows(args);
  std::cerr << "pmdb_bench: unknown command " << cmd << "\n";
  return 2;
}
