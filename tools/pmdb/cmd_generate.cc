// pmdb generate: synthetic cohorts.
#include <iostream>

#include "node/base/strings.h"
#include "node/vocab/codes.h"
#include "node/vocab/ontology.h"
#include "tools/pmdb/case_families.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/generator.h"
#include "tools/pmdb/json.h"

#ifndef PMDB_DEFAULT_DATA_DIR
#define PMDB_DEFAULT_DATA_DIR "../shared/data"
#endif

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "generate",
      "pmdb generate --individuals N --variants M --seed S --out DIR [options]",
      "Writes a synthetic cohort to DIR: cohort.vcf.gz (bgzipped, one column per individual,\n"
      "genotypes drawn in Hardy-Weinberg proportions from the allele-frequency spectrum of a real\n"
      "VCF) and phenopackets.jsonl (one Phenopacket v2 per individual: sex, age, ICD-10 cancer\n"
      "diagnoses at illustrative prevalences, HPO phenotypes, ATC treatments). The same seed\n"
      "gives the same files. Ingest both with pmdb ingest.\n"
      "\n"
      "With --case-families N it writes rare-disease cases instead: per family a seed (six HPO\n"
      "terms from one part of the ontology and a causal variant in a gene) and members derived\n"
      "from it by dropping terms, replacing terms with a parent and adding unrelated terms, with\n"
      "the seed's allele or another in the same gene, hidden among unrelated cases. A pool of\n"
      "frequent phenotypes (--common-terms, drawn by Zipf weights) supplies a share of every\n"
      "case's terms (--common-share), seeds and unrelated cases alike, as developmental delay or\n"
      "seizures do in a real cohort. Cases go to DIR/<region>/cases.jsonl round-robin over the\n"
      "six regions, the seeds to DIR/queries.jsonl.",
      {
          {"individuals", "N", "number of individuals (samples)"},
          {"variants", "M", "number of variant sites"},
          {"seed", "S", "random seed (default 1)"},
          {"sites-seed", "S",
           "seed of the variant sites alone: cohorts with one sites seed share sites"},
          {"out", "DIR", "output directory (created)"},
          {"assembly", "NAME", "assembly written in the header (default GRCh38)"},
          {"chrom", "NAME", "chromosome of the sites (default 22)"},
          {"id-prefix", "TEXT", "subject ids are TEXT-0000001 ... (default SYN<seed>)"},
          {"spectrum", "VCF|wgs",
           "VCF with INFO/AF to draw frequencies from (default: the "
           "1000 Genomes chr22 file in " PMDB_DEFAULT_DATA_DIR "/vcf), or "
           "'wgs': whole-genome-like, a site's allele count k drawn with "
           "density ~ k^-1.3, so most sites are rare (at 1M people ~95 % below "
           "1 %) and a genome carries ~1 % of them"},
          {"hpo", "PATH",
           "HPO ontology to draw phenotypes from (default " PMDB_DEFAULT_DATA_DIR
           "/ontology/hp.obo)"},
          {"max-af", "F",
           "use only spectrum frequencies <= F (e.g. 0.01 for a sparse, "
           "panel-like set of rare variants)"},
          {"json", "", "print the summary as JSON"},
          {"case-families", "N",
           "instead of a cohort: N rare-disease case families for "
           "similar-case search (see below)"},
          {"members", "M", "with --case-families: members per family besides the seed (default 4)"},
          {"unrelated", "U", "with --case-families: unrelated cases (default 10000)"},
          {"drop", "P", "with --case-families: share of the seed's terms a member lacks (0.3)"},
          {"generalize", "P", "with --case-families: share replaced by a parent term (0.3)"},
          {"add", "P", "with --case-families: unrelated terms added, per seed term (0)"},
          {"common-terms", "K", "with --case-families: size of the frequent-term pool (40)"},
          {"common-share", "P", "with --case-families: share of terms from that pool (0.25)"},
      },
      "  pmdb generate --individuals 10000 --variants 5000 --seed 7 --out /tmp/cohort\n"
      "  pmdb generate --individuals 100000 --variants 1000000 --spectrum wgs --out /tmp/wgs\n"
      "  pmdb ingest --db region.db --vcf /tmp/cohort/cohort.vcf.gz --dataset syn --assembly "
      "GRCh38\n"
      "  pmdb ingest --db region.db --phenopackets /tmp/cohort/phenopackets.jsonl --hpo hp.obo\n",
  };
  return spec;
}

bool ParseCount(const Flags& flags, const std::string& name, uint64_t fallback, uint64_t* out) {
  if (!flags.Has(name)) {
    *out = fallback;
    return true;
  }
  std::string v = flags.Get(name);
  try {
    size_t used = 0;
    *out = std::stoull(v, &used);
    return used == v.size();
  } catch (...) {
    return false;
  }
}

bool ParseShare(const Flags& flags, const std::string& name, double* out) {
  if (!flags.Has(name)) return true;
  std::string v = flags.Get(name);
  char* end = nullptr;
  *out = std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size() && *out >= 0 && *out <= 10;
}

int RunCaseFamilies(const Flags& flags) {
  CaseFamilyOptions options;
  uint64_t families = 0, members = options.members, seed = 1, common_terms = 0;
  if (!flags.Has("out") || !ParseCount(flags, "case-families", 0, &families) || families == 0 ||
      !ParseCount(flags, "members", options.members, &members) ||
      !ParseCount(flags, "unrelated", options.unrelated, &options.unrelated) ||
      !ParseCount(flags, "seed", 1, &seed) || !ParseShare(flags, "drop", &options.drop) ||
      !ParseShare(flags, "generalize", &options.generalize) ||
      !ParseShare(flags, "add", &options.add) ||
      !ParseCount(flags, "common-terms", options.common_terms, &common_terms) ||
      !ParseShare(flags, "common-share", &options.common_share)) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  "--case-families N and --out DIR are required; counts are whole "
                                  "numbers, --drop/--generalize/--add/--common-share are shares "
                                  "such as 0.3"));
  }
  options.families = static_cast<uint32_t>(families);
  options.members = static_cast<uint32_t>(members);
  options.common_terms = static_cast<uint32_t>(common_terms);
  options.seed = seed;
  auto ontology =
      vocab::Ontology::LoadObo(flags.Get("hpo", PMDB_DEFAULT_DATA_DIR "/ontology/hp.obo"));
  if (!ontology.ok()) return Fail("generate", ontology.status());
  auto set = MakeCaseFamilies(options, *ontology);
  if (!set.ok()) return Fail("generate", set.status());
  absl::Status s = WriteCaseFamilies(*set, flags.Get("out"));
  if (!s.ok()) return Fail("generate", s);
  if (flags.Bool("json")) {
    Json j;
    j.BeginObject()
        .Key("families")
        .Uint(families)
        .Key("cases")
        .Uint(set->cases.size())
        .Key("out")
        .String(flags.Get("out"))
        .EndObject();
    std::cout << j.str() << "\n";
  } else {
    std::cout << "generated " << families << " case families (" << WithThousands(set->cases.size())
              << " cases with the unrelated ones) in " << flags.Get("out")
              << "/<region>/cases.jsonl; the seeds are in queries.jsonl\n";
  }
  return 0;
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->Has("case-families")) return RunCaseFamilies(*flags);
  GeneratorOptions options;
  if (!flags->Has("individuals") || !flags->Has("variants") || !flags->Has("out")) {
    return UsageError(
        Spec(), absl::InvalidArgumentError("--individuals, --variants and --out are required"));
  }
  for (auto [name, target, fallback] :
       {std::tuple{"individuals", &options.individuals, uint64_t{0}},
        std::tuple{"variants", &options.variants, uint64_t{0}},
        std::tuple{"seed", &options.seed, uint64_t{1}},
        std::tuple{"sites-seed", &options.sites_seed, uint64_t{0}}}) {
    if (!ParseCount(*flags, name, fallback, target)) {
      return UsageError(Spec(),
                        absl::InvalidArgumentError(StrCat("--", name, " takes a whole number")));
    }
  }
  options.out_dir = flags->Get("out");
  auto assembly = vocab::NormalizeAssembly(flags->Get("assembly", "GRCh38"));
  if (!assembly.ok()) return UsageError(Spec(), assembly.status());
  options.assembly = *assembly;
  options.chrom = flags->Get("chrom", "22");
  options.id_prefix = flags->Get("id-prefix");
  if (flags->Has("max-af")) {
    char* end = nullptr;
    std::string v = flags->Get("max-af");
    options.max_af = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !(options.max_af > 0 && options.max_af <= 1)) {
      return UsageError(Spec(), absl::InvalidArgumentError("--max-af takes a number in (0, 1]"));
    }
  }
  options.spectrum_vcf =
      flags->Get("spectrum", PMDB_DEFAULT_DATA_DIR "/vcf/1kg_chr22_5samples.vcf.gz");
  options.hpo_path = flags->Get("hpo", PMDB_DEFAULT_DATA_DIR "/ontology/hp.obo");

  ProgressLine progress("generating");
  auto result = GenerateCohort(options, [&](uint64_t done, uint64_t total) {
    progress.Update({done, total, done});
  });
  progress.Done();
  if (!result.ok()) return Fail("generate", result.status());
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject()
        .Key("vcf")
        .String(result->vcf_path)
        .Key("phenopackets")
        .String(result->phenopackets_path)
        .Key("individuals")
        .Uint(result->individuals)
        .Key("variants")
        .Uint(result->variants)
        .Key("non_reference_genotypes")
        .Uint(result->non_reference_genotypes)
        .Key("diagnosed")
        .Uint(result->diagnosed)
        .Key("seconds")
        .Double(result->seconds)
        .EndObject();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "generated " << WithThousands(result->individuals) << " individuals x "
            << WithThousands(result->variants) << " variants ("
            << WithThousands(result->non_reference_genotypes) << " non-reference genotypes, "
            << WithThousands(result->diagnosed) << " individuals with a cancer diagnosis)\n"
            << "  " << result->vcf_path << "\n  " << result->phenopackets_path << "\n";
  std::printf("  took %.2f s\n", result->seconds);
  return 0;
}

}  // namespace pmdb::cli
