#include "tools/bench/sql_export.h"

#include <htslib/hts.h>
#include <htslib/vcf.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <unordered_map>
#include <vector>

#include "node/base/strings.h"
#include "node/ingest/phenopacket_reader.h"
#include "node/vocab/codes.h"
#include "node/vocab/ontology.h"
#include "query/parser.h"

namespace pmdb::bench {

const char* const kSchemaSql = R"(
CREATE TABLE individuals (id INTEGER PRIMARY KEY, sex CHAR(1) NOT NULL, age INTEGER, research INTEGER NOT NULL);
CREATE TABLE variants (id INTEGER PRIMARY KEY, chrom TEXT NOT NULL, pos INTEGER NOT NULL, ref TEXT NOT NULL, alt TEXT NOT NULL);
CREATE TABLE genotypes (variant INTEGER NOT NULL, individual INTEGER NOT NULL, zygosity INTEGER NOT NULL);
CREATE TABLE diagnoses (individual INTEGER NOT NULL, code TEXT NOT NULL);
CREATE TABLE phenotypes (individual INTEGER NOT NULL, term TEXT NOT NULL);
CREATE TABLE hpo_closure (ancestor TEXT NOT NULL, descendant TEXT NOT NULL);
)";

const char* const kIndexSql = R"(
CREATE INDEX variants_locus ON variants (chrom, pos, ref, alt);
CREATE INDEX genotypes_variant ON genotypes (variant, individual);
CREATE INDEX diagnoses_code ON diagnoses (code, individual);
CREATE INDEX phenotypes_term ON phenotypes (term, individual);
CREATE INDEX hpo_closure_ancestor ON hpo_closure (ancestor, descendant);
)";

namespace {

class Table {
 public:
  Table(const std::string& dir, const std::string& name) : out_(dir + "/" + name + ".tsv") {}
  template <typename... Args>
  void Row(const Args&... fields) {
    std::string line;
    bool first = true;
    ((StrAppend(&line, first ? "" : "\t", fields), first = false), ...);
    line += '\n';
    out_ << line;
  }
  bool ok() const { return static_cast<bool>(out_); }

 private:
  std::ofstream out_;
};

}  // namespace

absl::Status ExportTables(const std::string& vcf, const std::string& phenopackets,
                          const std::string& hpo, const std::string& dir) {
  auto ontology = vocab::Ontology::LoadObo(hpo);
  if (!ontology.ok()) return ontology.status();
  Table individuals(dir, "individuals"), variants(dir, "variants"), genotypes(dir, "genotypes"),
      diagnoses(dir, "diagnoses"), phenotypes(dir, "phenotypes"), closure(dir, "hpo_closure");

  for (uint32_t t = 0; t < ontology->size(); ++t) {
    for (uint32_t a : ontology->AncestorsInclusive(t)) {
      closure.Row(ontology->term(a).id, ontology->term(t).id);
    }
  }

  // Genotypes, read with htslib directly (not through pmdb's ingest).
  hts_set_log_level(HTS_LOG_OFF);
  htsFile* fp = hts_open(vcf.c_str(), "r");
  if (fp == nullptr) return absl::NotFoundError(StrCat(vcf, ": cannot open"));
  bcf_hdr_t* hdr = bcf_hdr_read(fp);
  int n = bcf_hdr_nsamples(hdr);
  std::unordered_map<std::string, uint32_t> ids;
  for (int i = 0; i < n; ++i) ids.emplace(hdr->samples[i], i);
  bcf1_t* rec = bcf_init();
  int32_t* gt = nullptr;
  int ngt = 0;
  uint64_t variant_id = 0;
  while (bcf_read(fp, hdr, rec) == 0) {
    bcf_unpack(rec, BCF_UN_ALL);
    int total = bcf_get_genotypes(hdr, rec, &gt, &ngt);
    if (total <= 0) continue;
    int ploidy = total / n;
    for (int a = 1; a < rec->n_allele; ++a) {
      vocab::Allele t = vocab::TrimAlleles(static_cast<uint32_t>(rec->pos + 1), rec->d.allele[0],
                                           rec->d.allele[a]);
      ++variant_id;
      variants.Row(variant_id, vocab::NormalizeChrom(bcf_seqname(hdr, rec)), t.pos, t.ref, t.alt);
      for (int s = 0; s < n; ++s) {
        int copies = 0, sample_ploidy = 0;
        for (int k = 0; k < ploidy && gt[s * ploidy + k] != bcf_int32_vector_end; ++k) {
          ++sample_ploidy;
          if (!bcf_gt_is_missing(gt[s * ploidy + k]) && bcf_gt_allele(gt[s * ploidy + k]) == a) {
            ++copies;
          }
        }
        if (copies == 0) continue;
        genotypes.Row(variant_id, s, sample_ploidy == 1 ? 3 : (copies == sample_ploidy ? 2 : 1));
      }
    }
  }
  free(gt);
  bcf_destroy(rec);
  bcf_hdr_destroy(hdr);
  hts_close(fp);

  // Clinical tables from the phenopackets (parsed with the same JSON reader; indexing is ours).
  std::unordered_map<std::string, bool> seen;
  std::map<std::string, uint64_t> unknown;
  absl::Status s = ingest::ReadPhenopackets(
      phenopackets,
      [&](ingest::ReadPacket&& p) -> absl::Status {
        const auto& subject = p.packet.subject();
        auto [it, inserted] = ids.emplace(subject.id(), static_cast<uint32_t>(ids.size()));
        uint32_t id = it->second;
        seen[subject.id()] = true;
        std::string age;
        if (subject.time_at_last_encounter().has_age()) {
          auto years = vocab::YearsInDuration(subject.time_at_last_encounter().age().iso8601duration());
          if (years.ok()) age = std::to_string(*years);
        }
        individuals.Row(id, vocab::SexCode(subject.sex()), age.empty() ? "\\N" : age, 1);
        for (const auto& d : p.packet.diseases()) {
          auto code = vocab::NormalizeIcd10(d.term().id());
          if (code.ok() && !d.excluded()) diagnoses.Row(id, *code);
        }
        for (const auto& f : p.packet.phenotypic_features()) {
          if (f.excluded()) continue;
          auto r = ontology->Resolve(f.type().id());
          phenotypes.Row(id, r.term ? ontology->term(*r.term).id : f.type().id());
        }
        return absl::OkStatus();
      },
      &unknown);
  if (!s.ok()) return s;
  for (const auto& [subject, id] : ids) {
    if (!seen.contains(subject)) individuals.Row(id, "U", "\\N", 1);
  }
  if (!individuals.ok() || !genotypes.ok()) return absl::DataLossError("writing tables failed");
  return absl::OkStatus();
}

namespace {

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown";
    sqlite3_free(error);
    return absl::InternalError(StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

absl::Status LoadTable(sqlite3* db, const std::string& dir, const std::string& name, int columns) {
  std::string sql = StrCat("INSERT INTO ", name, " VALUES (");
  for (int i = 0; i < columns; ++i) sql += i ? ",?" : "?";
  sql += ")";
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(StrCat("sqlite prepare: ", sqlite3_errmsg(db)));
  }
  std::ifstream in(dir + "/" + name + ".tsv");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string_view> f = Split(line, '\t');
    for (int i = 0; i < columns; ++i) {
      if (f[i] == "\\N") {
        sqlite3_bind_null(stmt, i + 1);
      } else {
        sqlite3_bind_text(stmt, i + 1, f[i].data(), static_cast<int>(f[i].size()), SQLITE_TRANSIENT);
      }
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      sqlite3_finalize(stmt);
      return absl::InternalError(StrCat("sqlite insert into ", name, ": ", sqlite3_errmsg(db)));
    }
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadSqlite(const std::string& dir, const std::string& path) {
  std::remove(path.c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return absl::InternalError("sqlite open");
  // Column affinity turns the text fields into integers where the schema says INTEGER.
  for (const char* pragma : {"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF",
                             "PRAGMA cache_size=-1000000"}) {
    if (auto s = Exec(db, pragma); !s.ok()) return s;
  }
  absl::Status s = Exec(db, kSchemaSql);
  if (s.ok()) s = Exec(db, "BEGIN");
  for (auto [name, columns] : {std::pair{"individuals", 4}, std::pair{"variants", 5},
                               std::pair{"genotypes", 3}, std::pair{"diagnoses", 2},
                               std::pair{"phenotypes", 2}, std::pair{"hpo_closure", 2}}) {
    if (s.ok()) s = LoadTable(db, dir, name, columns);
  }
  if (s.ok()) s = Exec(db, "COMMIT");
  if (s.ok()) s = Exec(db, kIndexSql);
  if (s.ok()) s = Exec(db, "ANALYZE");
  sqlite3_close(db);
  return s;
}

}  // namespace pmdb::bench
