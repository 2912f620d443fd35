#include "tools/pmdb/case_families.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"

namespace pmdb::cli {
namespace {

// Parts of the ontology a family draws its terms from: phenotype terms with 20 to 400
// descendants (an organ or a system's abnormality, roughly).
std::vector<uint32_t> Areas(const vocab::Ontology& o, uint32_t root) {
  std::vector<uint32_t> out;
  for (uint32_t t : o.DescendantsInclusive(root)) {
    if (t == root || o.term(t).obsolete) continue;
    size_t n = o.DescendantsInclusive(t).size();
    if (n >= 20 && n <= 400) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Padded(uint64_t n, int width) {
  std::string s = std::to_string(n);
  return std::string(s.size() < static_cast<size_t>(width) ? width - s.size() : 0, '0') + s;
}

}  // namespace

absl::StatusOr<CaseSet> MakeCaseFamilies(const CaseFamilyOptions& opt, const vocab::Ontology& o) {
  if (opt.regions.empty()) return absl::InvalidArgumentError("no regions");
  if (opt.drop < 0 || opt.generalize < 0 || opt.drop + opt.generalize > 1 || opt.add < 0) {
    return absl::InvalidArgumentError("drop + generalize must be within [0, 1], add >= 0");
  }
  if (opt.common_share < 0 || opt.common_share > 1 ||
      (opt.common_share > 0 && opt.common_terms == 0)) {
    return absl::InvalidArgumentError(
        "the share of frequent terms must be within [0, 1], with a pool of at least one term");
  }
  auto root = o.Resolve("HP:0000118");
  if (!root.term) return absl::InvalidArgumentError("the ontology has no HP:0000118");
  std::vector<uint32_t> areas = Areas(o, *root.term);
  if (areas.empty()) return absl::InvalidArgumentError("the ontology has no usable areas");
  std::vector<uint32_t> all = o.DescendantsInclusive(*root.term);
  std::erase_if(all, [&](uint32_t t) { return o.term(t).obsolete || t == *root.term; });

  std::mt19937_64 rng(opt.seed);
  auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto uniform = [&] { return std::uniform_real_distribution<double>(0, 1)(rng); };
  // Up to n distinct terms drawn from `pool`.
  auto draw_from = [&](const std::vector<uint32_t>& pool, uint32_t n) {
    std::vector<std::string> out;
    for (uint32_t k = 0; k < n * 4 && out.size() < n && !pool.empty(); ++k) {
      std::string id = o.term(pool[below(pool.size())]).id;
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    return out;
  };
  auto below_area = [&](uint32_t area) {
    std::vector<uint32_t> pool = o.DescendantsInclusive(area);
    std::erase_if(pool, [&](uint32_t t) { return o.term(t).obsolete || t == area; });
    return pool;
  };
  // 300 genes, each a 100 kb stretch of one chromosome.
  struct Gene {
    std::string symbol, chrom;
    uint32_t start;
  };
  std::vector<Gene> genes;
  for (int g = 0; g < 300; ++g) {
    genes.push_back({StrCat("SYNG", Padded(g + 1, 3)), std::to_string(1 + below(22)),
                     static_cast<uint32_t>(1'000'000 + below(100'000'000))});
  }
  auto variant_in = [&](const Gene& g, SyntheticCase* c) {
    c->gene = g.symbol;
    c->chrom = g.chrom;
    c->pos = g.start + static_cast<uint32_t>(below(100'000));
    c->homozygous = uniform() < 0.15;
  };

  // Sex and age come from a stream of their own, so that they do not change the families.
  std::mt19937_64 people(opt.seed ^ 0x5eed5eedULL);
  auto person = [&](SyntheticCase* c) {
    c->female = people() % 2 == 0;
    c->age_years = static_cast<uint32_t>(people() % 86);
  };

  CaseSet set;
  size_t next_region = 0;
  // Each family takes a part of the ontology that shares no term with another family's (the
  // HPO is a DAG: two areas neither of which holds the other can still share terms), as long as
  // such parts remain; unrelated cases then use no term of any family's part, so "unrelated"
  // means phenotypically unrelated, not merely drawn from a different subtree.
  std::vector<uint32_t> family_areas;
  std::vector<char> taken(o.size(), 0);
  auto overlaps = [&](uint32_t area) {
    for (uint32_t t : o.DescendantsInclusive(area)) {
      if (taken[t]) return true;
    }
    return false;
  };
  for (uint32_t f = 0; f < opt.families; ++f) {
    uint32_t a = areas[below(areas.size())];
    for (int attempt = 0; attempt < 200 && overlaps(a); ++attempt) a = areas[below(areas.size())];
    family_areas.push_back(a);
    for (uint32_t t : o.DescendantsInclusive(a)) taken[t] = 1;
  }
  // What is left of each area once the families' terms are taken out; an unrelated case draws
  // from one such remainder.
  std::vector<std::vector<uint32_t>> free_pools;
  for (uint32_t a : areas) {
    std::vector<uint32_t> pool = below_area(a);
    std::erase_if(pool, [&](uint32_t t) { return taken[t] != 0; });
    if (pool.size() >= 3) free_pools.push_back(std::move(pool));
  }
  if (free_pools.empty() && opt.unrelated > 0) {
    return absl::InvalidArgumentError(
        StrCat(opt.families, " families leave no part of the ontology for unrelated cases"));
  }
  // The frequent-term pool: terms of no family's part that have terms below them (frequent
  // findings are rarely the most specific ones), drawn by Zipf weights.
  std::vector<uint32_t> common;
  if (opt.common_share > 0) {
    std::vector<uint32_t> candidates;
    for (uint32_t t : all) {
      if (!taken[t] && !o.term(t).children.empty()) candidates.push_back(t);
    }
    std::shuffle(candidates.begin(), candidates.end(), rng);
    candidates.resize(std::min<size_t>(candidates.size(), opt.common_terms));
    common = std::move(candidates);
    for (uint32_t t : common) set.common.push_back(o.term(t).id);
  }
  std::vector<double> zipf;
  for (size_t i = 0; i < common.size(); ++i) zipf.push_back(1.0 / static_cast<double>(i + 1));
  std::discrete_distribution<size_t> frequent(zipf.begin(), zipf.end());
  // A frequent term the case does not hold yet (or none, if it already holds many).
  auto add_common = [&](std::vector<std::string>* terms) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string id = o.term(common[frequent(rng)]).id;
      if (std::find(terms->begin(), terms->end(), id) == terms->end()) {
        terms->push_back(id);
        return;
      }
    }
  };
  // Terms a member may gain: anything outside its own family's part of the ontology, some of
  // them frequent ones.
  auto unrelated_term = [&](uint32_t area, std::vector<std::string>* terms) {
    if (!common.empty() && uniform() < opt.common_share) return add_common(terms);
    std::vector<uint32_t> own = o.DescendantsInclusive(area);
    std::sort(own.begin(), own.end());
    for (;;) {
      uint32_t t = all[below(all.size())];
      if (!std::binary_search(own.begin(), own.end(), t)) return terms->push_back(o.term(t).id);
    }
  };
  const auto seed_common = static_cast<uint32_t>(opt.seed_terms * opt.common_share + 0.5);
  for (uint32_t f = 0; f < opt.families; ++f) {
    SyntheticCase seed;
    seed.subject = StrCat("F", Padded(f + 1, 5), "-Q");
    seed.family = static_cast<int>(f);
    seed.terms = draw_from(below_area(family_areas[f]), opt.seed_terms - seed_common);
    for (uint32_t k = 0; k < seed_common; ++k) add_common(&seed.terms);
    variant_in(genes[below(genes.size())], &seed);
    person(&seed);
    set.queries.push_back(seed);
    for (uint32_t m = 0; m < opt.members; ++m) {
      SyntheticCase c = seed;
      c.subject = StrCat("F", Padded(f + 1, 5), "-M", m + 1);
      person(&c);
      c.region = opt.regions[next_region++ % opt.regions.size()];
      c.terms.clear();
      for (const std::string& t : seed.terms) {
        double u = uniform();
        if (u < opt.drop) continue;
        if (u < opt.drop + opt.generalize) {
          const auto& parents = o.term(*o.Resolve(t).term).parents;
          std::vector<uint32_t> usable;
          for (uint32_t p : parents) {
            if (p != *root.term) usable.push_back(p);
          }
          if (!usable.empty()) {
            c.terms.push_back(o.term(usable[below(usable.size())]).id);
            continue;
          }
        }
        c.terms.push_back(t);
      }
      uint32_t extra = static_cast<uint32_t>(opt.add * seed.terms.size() + 0.5);
      for (uint32_t k = 0; k < extra; ++k) unrelated_term(family_areas[f], &c.terms);
      if (c.terms.empty()) c.terms.push_back(seed.terms[below(seed.terms.size())]);
      // Half the members carry the seed's own allele; the rest another one in the same gene.
      if (uniform() < 0.5) {
        const Gene* g = nullptr;
        for (const Gene& x : genes) {
          if (x.symbol == seed.gene) g = &x;
        }
        variant_in(*g, &c);
      }
      set.cases.push_back(std::move(c));
    }
  }
  for (uint64_t u = 0; u < opt.unrelated; ++u) {
    SyntheticCase c;
    c.subject = StrCat("U", Padded(u + 1, 7));
    c.region = opt.regions[next_region++ % opt.regions.size()];
    const auto n = 3 + static_cast<uint32_t>(below(6));
    uint32_t frequent_terms = 0;
    if (!common.empty()) {
      for (uint32_t k = 0; k < n; ++k) frequent_terms += uniform() < opt.common_share ? 1 : 0;
    }
    c.terms = draw_from(free_pools[below(free_pools.size())], n - frequent_terms);
    for (uint32_t k = 0; k < frequent_terms; ++k) add_common(&c.terms);
    if (c.terms.empty()) c.terms.push_back(o.term(all[below(all.size())]).id);
    variant_in(genes[below(genes.size())], &c);
    person(&c);
    set.cases.push_back(std::move(c));
  }
  std::shuffle(set.cases.begin(), set.cases.end(), rng);
  return set;
}

std::string CaseToPhenopacketJson(const SyntheticCase& c) {
  std::string features;
  for (const std::string& t : c.terms) {
    StrAppend(&features, features.empty() ? "" : ",", "{\"type\":{\"id\":\"", t, "\"}}");
  }
  return StrCat(
      "{\"id\":\"", c.subject, "-pp\",\"subject\":{\"id\":\"", c.subject,
      "\",\"sex\":\"", c.female ? "FEMALE" : "MALE",
      "\",\"timeAtLastEncounter\":{\"age\":{\"iso8601duration\":\"P", c.age_years,
      "Y\"}}},\"phenotypicFeatures\":[", features,
      "],\"interpretations\":[{\"id\":\"i1\",\"progressStatus\":\"SOLVED\",\"diagnosis\":{"
      "\"genomicInterpretations\":[{\"subjectOrBiosampleId\":\"",
      c.subject,
      "\",\"interpretationStatus\":\"CAUSATIVE\",\"variantInterpretation\":{"
      "\"variationDescriptor\":{\"id\":\"v1\",\"geneContext\":{\"valueId\":\"",
      c.gene, "\",\"symbol\":\"", c.gene,
      "\"},\"vcfRecord\":{\"genomeAssembly\":\"GRCh38\",\"chrom\":\"", c.chrom, "\",\"pos\":\"",
      c.pos, "\",\"ref\":\"G\",\"alt\":\"A\"},\"allelicState\":{\"id\":\"",
      c.homozygous ? "GENO:0000136" : "GENO:0000135",
      "\"}}}}]}}],\"metaData\":{\"createdBy\":\"pmdb generate --case-families\","
      "\"submittedBy\":\"Klinisk genetik\",\"phenopacketSchemaVersion\":\"2.0\"}}");
}

v1::IndividualRecord CaseToRecord(const SyntheticCase& c) {
  v1::IndividualRecord r;
  r.set_subject_id(c.subject);
  r.set_has_clinical_record(true);
  r.set_sex(c.female ? v1::FEMALE : v1::MALE);
  r.set_age_years(c.age_years);
  for (const std::string& t : c.terms) r.add_phenotypes(t);
  v1::ReportedVariant* v = r.add_reported();
  v->set_gene(c.gene);
  v->set_variant_key(storage::keys::Variant({"GRCh38", c.chrom, c.pos, "G", "A"}));
  v->set_zygosity(c.homozygous ? v1::HOMOZYGOUS : v1::HETEROZYGOUS);
  return r;
}

v1::CaseQuery CaseToQuery(const SyntheticCase& c, bool with_variant) {
  v1::CaseQuery q;
  for (const std::string& t : c.terms) q.add_phenotypes(t);
  if (with_variant) {
    v1::CaseVariant* v = q.add_variants();
    v->set_assembly("GRCh38");
    v->set_chrom(c.chrom);
    v->set_pos(c.pos);
    v->set_ref("G");
    v->set_alt("A");
    v->set_gene(c.gene);
    v->set_zygosity(c.homozygous ? v1::HOMOZYGOUS : v1::HETEROZYGOUS);
  }
  return q;
}

absl::Status WriteCaseFamilies(const CaseSet& set, const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::map<std::string, std::ofstream> files;
  for (const SyntheticCase& c : set.cases) {
    auto it = files.find(c.region);
    if (it == files.end()) {
      std::error_code ec;
      fs::create_directories(fs::path(out_dir) / c.region, ec);
      if (ec)
        return absl::PermissionDeniedError(StrCat(out_dir, "/", c.region, ": ", ec.message()));
      it = files.emplace(c.region, std::ofstream(fs::path(out_dir) / c.region / "cases.jsonl"))
               .first;
    }
    it->second << CaseToPhenopacketJson(c) << "\n";
  }
  std::ofstream queries(fs::path(out_dir) / "queries.jsonl");
  for (const SyntheticCase& q : set.queries) queries << CaseToPhenopacketJson(q) << "\n";
  for (auto& [region, f] : files) {
    f.close();
    if (!f)
      return absl::DataLossError(StrCat(out_dir, "/", region, "/cases.jsonl: writing failed"));
  }
  queries.close();
  if (!queries) return absl::DataLossError(StrCat(out_dir, "/queries.jsonl: writing failed"));
  return absl::OkStatus();
}

}  // namespace pmdb::cli
