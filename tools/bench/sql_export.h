// Exports a cohort (VCF + phenopackets + ontology) to tab-separated tables that SQLite and
// PostgreSQL load, read independently of pmdb's own ingest, and loads them into SQLite.
//
// Tables: individuals(id, sex, age, research), variants(id, chrom, pos, ref, alt),
// genotypes(variant, individual, zygosity 1 het / 2 hom / 3 hemi; non-reference calls only),
// diagnoses(individual, code), phenotypes(individual, term), hpo_closure(ancestor, descendant).
#ifndef PMDB_TOOLS_BENCH_SQL_EXPORT_H_
#define PMDB_TOOLS_BENCH_SQL_EXPORT_H_

#include <string>

#include "absl/status/status.h"

namespace pmdb::bench {

absl::Status ExportTables(const std::string& vcf, const std::string& phenopackets,
                          const std::string& hpo, const std::string& out_dir);

absl::Status LoadSqlite(const std::string& tables_dir, const std::string& sqlite_path);

// The DDL for both engines: tables and the indexes a DBA would create for these questions.
extern const char* const kSchemaSql;
extern const char* const kIndexSql;

}  // namespace pmdb::bench

#endif  // PMDB_TOOLS_BENCH_SQL_EXPORT_H_
