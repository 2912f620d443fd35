// Retrieval quality of similar-case search on synthetic case families (tools/bench/similar).
//
// For each perturbation level: make families and unrelated cases over six regions, index each
// region's cases as its node would, ask with every family's seed, merge the regions' top lists
// as the hub does, and count how often the best match (top-1) or any of the best five (top-5)
// is a member of the seed's family. Three scorers side by side in one run: pmdb's full score
// (phenotype + genotype), pmdb's phenotype part alone, and a plain exact-term Jaccard baseline.
// Also times one region's ranking (single thread) at the given region size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/ontology.h"
#include "query/similarity.h"
#include "tools/bench/bench_flags.h"
#include "tools/pmdb/case_families.h"

namespace pmdb {
namespace {

struct Level {
  double drop, generalize, add;
};

struct Hits {
  int top1 = 0, top5 = 0;
};

struct Ranked {
  double score;
  size_t region;
  size_t rank;
  int family;
  uint32_t ordinal;
};

std::string Terms(const vocab::Ontology& o, const auto& ids) {
  std::string out;
  for (const auto& id : ids) {
    auto r = o.Resolve(id);
    StrAppend(&out, out.empty() ? "" : "; ", id, " ", r.term ? o.term(*r.term).name : "?");
  }
  return out;
}

int Run(int argc, char** argv) {
  bench::BenchFlags flags("pmdb_simbench", argc, argv);
  std::string hpo = flags.Get("hpo", "../shared/data/ontology/hp.obo");
  cli::CaseFamilyOptions base;
  base.families = static_cast<uint32_t>(std::stoul(flags.Get("families", "200")));
  base.members = static_cast<uint32_t>(std::stoul(flags.Get("members", "4")));
  base.unrelated = std::stoull(flags.Get("unrelated", "30000"));
  base.common_terms = static_cast<uint32_t>(std::stoul(flags.Get("common-terms", "40")));
  base.common_share = std::stod(flags.Get("common-share", "0.25"));
  uint64_t timing_cases = std::stoull(flags.Get("timing-cases", "100000"));
  // --misses 1: print each phenotype-only miss (the seed and the best five) to stderr.
  const bool show_misses = flags.Get("misses", "0") == "1";
  auto ontology = vocab::Ontology::LoadObo(hpo);
  if (!ontology.ok()) {
    std::cerr << ontology.status() << "\n";
    return 1;
  }
  auto shared = std::make_shared<const vocab::Ontology>(std::move(*ontology));
  // Levels as DROP/GENERALIZE/ADD percentages, comma-separated.
  std::vector<Level> levels;
  const std::string level_list =
      flags.Get("levels", "0/0/0,20/20/0,30/30/0,30/30/30,50/30/0,30/50/0,40/40/50,20/60/50");
  for (std::string_view l : Split(level_list, ',')) {
    std::vector<std::string_view> p = Split(l, '/');
    if (p.size() != 3) {
      std::cerr << "pmdb_simbench: --levels takes DROP/GENERALIZE/ADD percentages, not " << l
                << "\n";
      return 2;
    }
    levels.push_back({std::stod(std::string(p[0])) / 100, std::stod(std::string(p[1])) / 100,
                      std::stod(std::string(p[2])) / 100});
  }
  // Each level is measured over several generator seeds (different families, genes and
  // unrelated cases), so one family more or less moves a figure by less. The scorer's constants
  // were chosen on seeds 2026-2028; the default reports on others.
  std::vector<uint64_t> seeds;
  const std::string seed_list = flags.Get("seeds", "3001,3002,3003");
  for (std::string_view s : Split(seed_list, ',')) {
    seeds.push_back(std::stoull(std::string(s)));
  }
  std::printf(
      "| dropped | generalized | added | pmdb top-1 | pmdb top-5 | pmdb phenotype-only "
      "top-1 | top-5 | Jaccard top-1 | Jaccard top-5 |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const Level& level : levels) {
    Hits full, pheno, jaccard;
    double asked = 0;
    for (uint64_t generator_seed : seeds) {
      cli::CaseFamilyOptions opt = base;
      opt.drop = level.drop;
      opt.generalize = level.generalize;
      opt.add = level.add;
      opt.seed = generator_seed;
      auto set = cli::MakeCaseFamilies(opt, *shared);
      if (!set.ok()) {
        std::cerr << set.status() << "\n";
        return 1;
      }
      std::vector<std::vector<v1::IndividualRecord>> records(opt.regions.size());
      std::vector<std::vector<int>> family_of(opt.regions.size());
      for (const cli::SyntheticCase& c : set->cases) {
        size_t r =
            std::find(opt.regions.begin(), opt.regions.end(), c.region) - opt.regions.begin();
        records[r].push_back(cli::CaseToRecord(c));
        family_of[r].push_back(c.family);
      }
      std::vector<std::shared_ptr<const query::CaseIndex>> indexes;
      for (const auto& rs : records) indexes.push_back(*query::CaseIndex::FromRecords(shared, rs));

      asked += static_cast<double>(set->queries.size());
      for (const cli::SyntheticCase& seed : set->queries) {
        for (bool with_variant : {true, false}) {
          v1::CaseQuery q = cli::CaseToQuery(seed, with_variant);
          std::vector<Ranked> merged;
          for (size_t r = 0; r < indexes.size(); ++r) {
            const query::CaseIndex& index = *indexes[r];
            // Carriers of the seed's own allele, as the genotype bitmaps would give them.
            query::Carriers carriers(q.variants_size());
            if (with_variant) {
              for (size_t p = 0; p < index.size(); ++p) {
                const v1::IndividualRecord& rec = records[r][index.at(p).ordinal];
                const v1::ReportedVariant& v = rec.reported(0);
                if (v.variant_key() ==
                    storage::keys::Variant({"GRCh38", seed.chrom, seed.pos, "G", "A"})) {
                  carriers[0][index.at(p).ordinal] = v.zygosity();
                }
              }
            }
            auto ranked = query::RankSimilar(index, q, carriers, 5, [](uint32_t) { return true; });
            if (!ranked.ok()) {
              std::cerr << ranked.status() << "\n";
              return 1;
            }
            for (size_t k = 0; k < ranked->top.size(); ++k) {
              uint32_t ordinal = index.at(ranked->top[k].position).ordinal;
              merged.push_back(
                  {ranked->top[k].match.score(), r, k, family_of[r][ordinal], ordinal});
            }
          }
          std::stable_sort(merged.begin(), merged.end(), [](const Ranked& a, const Ranked& b) {
            if (a.score != b.score) return a.score > b.score;
            if (a.region != b.region) return a.region < b.region;
            return a.rank < b.rank;
          });
          Hits& h = with_variant ? full : pheno;
          if (show_misses && !with_variant && !merged.empty() && merged[0].family != seed.family) {
            // What a phenotype-only miss looked like: the seed, then the best five.
            std::cerr << "miss at " << level.drop << "/" << level.generalize << "/" << level.add
                      << " seed " << seed.subject << ": " << Terms(*shared, seed.terms) << "\n";
            for (size_t k = 0; k < merged.size() && k < 5; ++k) {
              const auto& rec = records[merged[k].region][merged[k].ordinal];
              std::cerr << "  " << merged[k].score
                        << (merged[k].family == seed.family ? " *" : "  ") << " family "
                        << merged[k].family << ": " << Terms(*shared, rec.phenotypes()) << "\n";
            }
          }
          if (!merged.empty() && merged[0].family == seed.family) ++h.top1;
          for (size_t k = 0; k < merged.size() && k < 5; ++k) {
            if (merged[k].family == seed.family) {
              ++h.top5;
              break;
            }
          }
        }
        // Baseline: exact-term Jaccard over every case, ties in input order.
        std::vector<std::pair<double, int>> scored;
        for (const cli::SyntheticCase& c : set->cases) {
          scored.emplace_back(query::JaccardTerms(seed.terms, c.terms), c.family);
        }
        std::stable_sort(scored.begin(), scored.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        if (scored[0].second == seed.family) ++jaccard.top1;
        for (size_t k = 0; k < 5; ++k) {
          if (scored[k].second == seed.family) {
            ++jaccard.top5;
            break;
          }
        }
      }
    }
    double n = asked;
    std::printf("| %.0f%% | %.0f%% | %.0f%% | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n",
                level.drop * 100, level.generalize * 100, level.add * 100, full.top1 / n,
                full.top5 / n, pheno.top1 / n, pheno.top5 / n, jaccard.top1 / n, jaccard.top5 / n);
    std::fflush(stdout);
  }

  // One region's ranking time at `timing_cases` cases (what each node does per question).
  cli::CaseFamilyOptions opt = base;
  opt.families = 100;
  opt.unrelated = timing_cases;
  opt.regions = {"one"};
  auto set = cli::MakeCaseFamilies(opt, *shared);
  std::vector<v1::IndividualRecord> rs;
  for (const auto& c : set->cases) rs.push_back(cli::CaseToRecord(c));
  auto t0 = std::chrono::steady_clock::now();
  auto index = *query::CaseIndex::FromRecords(shared, rs);
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> ms;
  for (const auto& seed : set->queries) {
    v1::CaseQuery q = cli::CaseToQuery(seed, true);
    query::Carriers carriers(1);
    auto s = std::chrono::steady_clock::now();
    auto r = query::RankSimilar(*index, q, carriers, 10, [](uint32_t) { return true; });
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    if (!r.ok()) return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "\none region, %s cases: index built in %.2f s; top-10 ranking p50 %.2f ms, p90 "
      "%.2f ms (%zu questions, one thread)\n",
      WithThousands(index->size()).c_str(), build, ms[ms.size() / 2], ms[ms.size() * 9 / 10],
      ms.size());
  return 0;
}

}  // namespace
}  // namespace pmdb

int main(int argc, char** argv) { return pmdb::Run(argc, argv); }
