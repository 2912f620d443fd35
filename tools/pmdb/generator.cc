#include "tools/pmdb/generator.h"

#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/vcf.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/vocab/ontology.h"

namespace pmdb::cli {
namespace {

// xoshiro256** seeded through splitmix64: fast, and identical on every platform, unlike the
// standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  double Normal(double mean, double sd) {
    double u1 = std::max(Uniform(), 1e-300), u2 = Uniform();
    return mean + sd * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct SpectrumSite {
  double af;
  uint32_t ref_len;
  uint32_t alt_len;
};

absl::StatusOr<std::vector<SpectrumSite>> ReadSpectrum(const std::string& path, double max_af) {
  hts_set_log_level(HTS_LOG_OFF);
  htsFile* fp = hts_open(path.c_str(), "r");
  if (fp == nullptr) return absl::NotFoundError(StrCat(path, ": cannot open spectrum VCF"));
  bcf_hdr_t* hdr = bcf_hdr_read(fp);
  if (hdr == nullptr) {
    hts_close(fp);
    return absl::InvalidArgumentError(StrCat(path, ": unreadable VCF header"));
  }
  std::vector<SpectrumSite> sites;
  bcf1_t* rec = bcf_init();
  float* af = nullptr;
  int naf = 0;
  while (bcf_read(fp, hdr, rec) == 0) {
    bcf_unpack(rec, BCF_UN_INFO);
    int n = bcf_get_info_float(hdr, rec, "AF", &af, &naf);
    for (int i = 0; i < n && i + 1 < rec->n_allele; ++i) {
      if (!(af[i] > 0 && af[i] < 1) || af[i] > max_af) continue;
      const char* alt = rec->d.allele[i + 1];
      bool symbolic = alt[0] == '<' || std::strpbrk(alt, "[]*") != nullptr;
      uint32_t rl = static_cast<uint32_t>(std::strlen(rec->d.allele[0]));
      uint32_t al = static_cast<uint32_t>(std::strlen(alt));
      if (symbolic) rl = al = 1;
      sites.push_back({af[i], std::min(rl, 30u), std::min(al, 30u)});
    }
  }
  free(af);
  bcf_destroy(rec);
  bcf_hdr_destroy(hdr);
  hts_close(fp);
  if (sites.empty()) {
    return absl::InvalidArgumentError(StrCat(path, ": no INFO/AF values at or below ", max_af));
  }
  return sites;
}

// ICD-10 cancer categories with a per-person probability for an adult of the given sex in a
// precision-medicine cohort, and typical subcodes and treatments. The rates are illustrative,
// ordered like Swedish cancer incidence (breast and prostate most common).
struct Cancer {
  const char* code;
  const char* label;
  double female_rate;
  double male_rate;
  std::vector<const char*> subcodes;
  std::vector<std::pair<const char*, const char*>> treatments;  // ATC id, label
  const char* hpo_root;  // a neoplasm term these patients get phenotypes from
};

const std::vector<Cancer>& Cancers() {
  static const std::vector<Cancer> kCancers = {
      {"C50",
       "Malignant neoplasm of breast",
       0.080,
       0.001,
       {"C50.4", "C50.9"},
       {{"L02BA01", "tamoxifen"}, {"L01FD01", "trastuzumab"}},
       "HP:0100013"},
      {"C61",
       "Malignant neoplasm of prostate",
       0,
       0.070,
       {"C61"},
       {{"L02BB03", "bicalutamide"}, {"L02AE02", "leuprorelin"}},
       "HP:0100787"},
      {"C18",
       "Malignant neoplasm of colon",
       0.030,
       0.032,
       {"C18.0", "C18.7", "C18.9"},
       {{"L01BC02", "fluorouracil"}, {"L01XA03", "oxaliplatin"}},
       "HP:0100273"},
      {"C34",
       "Malignant neoplasm of bronchus and lung",
       0.025,
       0.024,
       {"C34.1", "C34.3", "C34.9"},
       {{"L01EB02", "erlotinib"}, {"L01XA01", "cisplatin"}},
       "HP:0100526"},
      {"C43",
       "Malignant melanoma of skin",
       0.025,
       0.027,
       {"C43.5", "C43.9"},
       {{"L01FF01", "nivolumab"}, {"L01EC02", "dabrafenib"}},
       "HP:0002861"},
      {"C44",
       "Other malignant neoplasms of skin",
       0.030,
       0.035,
       {"C44.3", "C44.9"},
       {},
       "HP:0008069"},
      {"C67",
       "Malignant neoplasm of bladder",
       0.007,
       0.022,
       {"C67.9"},
       {{"L01XA01", "cisplatin"}},
       "HP:0009725"},
      {"C64",
       "Malignant neoplasm of kidney",
       0.006,
       0.010,
       {"C64"},
       {{"L01EX01", "sunitinib"}},
       "HP:0009726"},
      {"C25",
       "Malignant neoplasm of pancreas",
       0.005,
       0.005,
       {"C25.0", "C25.9"},
       {{"L01BC05", "gemcitabine"}},
       "HP:0002894"},
      {"C91",
       "Lymphoid leukaemia",
       0.005,
       0.007,
       {"C91.0", "C91.1"},
       {{"L01FA01", "rituximab"}},
       "HP:0005526"},
      {"C92",
       "Myeloid leukaemia",
       0.004,
       0.005,
       {"C92.0", "C92.1"},
       {{"L01EA01", "imatinib"}},
       "HP:0012324"},
      {"C71",
       "Malignant neoplasm of brain",
       0.004,
       0.005,
       {"C71.9"},
       {{"L01AX03", "temozolomide"}},
       "HP:0100006"},
      {"C56",
       "Malignant neoplasm of ovary",
       0.010,
       0,
       {"C56"},
       {{"L01XA02", "carboplatin"}},
       "HP:0100615"},
      {"C73", "Malignant neoplasm of thyroid gland", 0.009, 0.003, {"C73"}, {}, "HP:0100031"},
  };
  return kCancers;
}

double AgeFactor(uint32_t age) {
  if (age < 20) return 0.05;
  if (age < 40) return 0.3;
  if (age < 55) return 0.8;
  if (age < 70) return 1.5;
  return 2.0;
}

class PhenotypePools {
 public:
  static absl::StatusOr<PhenotypePools> Build(const vocab::Ontology& o, Rng& rng) {
    PhenotypePools p;
    p.ontology_ = &o;
    auto root = o.Resolve("HP:0000118");  // Phenotypic abnormality
    if (!root.term) return absl::InvalidArgumentError("the ontology has no HP:0000118");
    std::vector<uint32_t> all = o.DescendantsInclusive(*root.term);
    std::erase_if(all, [&](uint32_t t) { return o.term(t).obsolete; });
    std::sort(all.begin(), all.end());
    // A fixed background of 400 terms, drawn with Zipf-like weights so some are common.
    for (int i = 0; i < 400 && !all.empty(); ++i)
      p.background_.push_back(all[rng.Below(all.size())]);
    return p;
  }

  std::string Background(Rng& rng) const {
    // Zipf-ish: index = floor(n * u^3) favours the first terms.
    double u = rng.Uniform();
    size_t i = static_cast<size_t>(background_.size() * u * u * u);
    return ontology_->term(background_[std::min(i, background_.size() - 1)]).id;
  }

  // A current term at or below `root` (below Neoplasm when the ontology lacks `root`).
  std::string Under(const std::string& root, Rng& rng) {
    auto it = cache_.find(root);
    if (it == cache_.end()) {
      auto r = ontology_->Resolve(root);
      if (!r.term) r = ontology_->Resolve("HP:0002664");
      std::vector<uint32_t> terms;
      if (r.term) terms = ontology_->DescendantsInclusive(*r.term);
      std::erase_if(terms, [&](uint32_t t) { return ontology_->term(t).obsolete; });
      if (terms.empty()) terms = background_;
      it = cache_.emplace(root, std::move(terms)).first;
    }
    return ontology_->term(it->second[rng.Below(it->second.size())]).id;
  }

  const vocab::Ontology* ontology() const { return ontology_; }

 private:
  const vocab::Ontology* ontology_ = nullptr;
  std::vector<uint32_t> background_;
  std::map<std::string, std::vector<uint32_t>> cache_;
};

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string OntologyClassJson(std::string_view id, std::string_view label) {
  return StrCat("{\"id\":\"", id, "\",\"label\":\"", JsonEscape(label), "\"}");
}

}  // namespace

absl::StatusOr<GeneratorResult> GenerateCohort(
    const GeneratorOptions& opt, const std::function<void(uint64_t, uint64_t)>& progress) {
  auto started = std::chrono::steady_clock::now();
  if (opt.individuals == 0 || opt.variants == 0) {
    return absl::InvalidArgumentError("--individuals and --variants must be at least 1");
  }
  if (opt.individuals > 10'000'000) {
    return absl::InvalidArgumentError("--individuals is limited to 10,000,000");
  }
  std::error_code ec;
  std::filesystem::create_directories(opt.out_dir, ec);
  if (ec) return absl::PermissionDeniedError(StrCat(opt.out_dir, ": ", ec.message()));
  const bool wgs = opt.spectrum_vcf == kWgsSpectrum;
  absl::StatusOr<std::vector<SpectrumSite>> spectrum =
      wgs ? std::vector<SpectrumSite>{{0, 1, 1}} : ReadSpectrum(opt.spectrum_vcf, opt.max_af);
  if (!spectrum.ok()) return spectrum.status();
  auto ontology = vocab::Ontology::LoadObo(opt.hpo_path);
  if (!ontology.ok()) return ontology.status();

  Rng rng(opt.seed);
  GeneratorResult result;
  result.individuals = opt.individuals;
  result.variants = opt.variants;
  std::string prefix = opt.id_prefix.empty() ? StrCat("SYN", opt.seed) : opt.id_prefix;
  auto subject_id = [&](uint64_t i) {
    std::string n = std::to_string(i + 1);
    return StrCat(prefix, "-", std::string(n.size() < 7 ? 7 - n.size() : 0, '0'), n);
  };

  // ---- VCF
  result.vcf_path = (std::filesystem::path(opt.out_dir) / "cohort.vcf.gz").string();
  BGZF* bgzf = bgzf_open(result.vcf_path.c_str(), "w1");
  if (bgzf == nullptr)
    return absl::PermissionDeniedError(StrCat(result.vcf_path, ": cannot write"));
  bgzf_mt(bgzf, 2, 256);
  std::string header = StrCat(
      "##fileformat=VCFv4.2\n##source=pmdb generate seed=", opt.seed,
      "\n##reference=", opt.assembly, "\n##contig=<ID=", opt.chrom, ",assembly=", opt.assembly,
      ">\n##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele frequency the genotypes were "
      "drawn from\">\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
  for (uint64_t i = 0; i < opt.individuals; ++i) StrAppend(&header, "\t", subject_id(i));
  header += "\n";
  bool write_ok = bgzf_write(bgzf, header.data(), header.size()) >= 0;

  // Sites first (positions distinct, sorted, spread over the chromosome's gene-rich span),
  // from their own generator when a sites seed is given.
  Rng own_site_rng(opt.sites_seed);
  Rng& site_rng = opt.sites_seed != 0 ? own_site_rng : rng;
  const uint64_t kStart = 16'000'000, kEnd = 50'000'000;
  if (opt.variants > (kEnd - kStart) / 4) {
    return absl::InvalidArgumentError(
        StrCat("--variants is limited to ", (kEnd - kStart) / 4, " on one chromosome"));
  }
  std::vector<uint32_t> positions;
  positions.reserve(opt.variants);
  if (opt.variants <= 100'000) {
    std::set<uint32_t> drawn;
    while (drawn.size() < opt.variants) {
      drawn.insert(static_cast<uint32_t>(kStart + site_rng.Below(kEnd - kStart)));
    }
    positions.assign(drawn.begin(), drawn.end());
  } else {
    // Millions of sites: gaps drawn around the mean spacing, in order, without a set.
    const uint64_t mean_gap = (kEnd - kStart) / opt.variants;
    uint64_t pos = kStart;
    for (uint64_t v = 0; v < opt.variants; ++v) {
      pos += 1 + site_rng.Below(2 * mean_gap - 1);
      positions.push_back(static_cast<uint32_t>(pos));
    }
  }
  const double alleles = 2.0 * static_cast<double>(opt.individuals);
  // Inverse of the power law's distribution function on [1, 2N].
  const double tail = 1 - std::pow(alleles, 1 - kWgsExponent);
  struct Site {
    uint32_t pos;
    std::string ref, alt;
    double af;
  };
  std::vector<Site> sites;
  sites.reserve(positions.size());
  static const char kBases[] = "ACGT";
  for (uint32_t pos : positions) {
    const SpectrumSite& s = (*spectrum)[site_rng.Below(spectrum->size())];
    std::string ref, alt;
    char first = kBases[site_rng.Below(4)];
    ref.push_back(first);
    alt.push_back(first);
    if (s.ref_len == 1 && s.alt_len == 1) {
      alt[0] = kBases[(std::strchr(kBases, first) - kBases + 1 + site_rng.Below(3)) % 4];
    } else {
      for (uint32_t k = 1; k < s.ref_len; ++k) ref.push_back(kBases[site_rng.Below(4)]);
      for (uint32_t k = 1; k < s.alt_len; ++k) alt.push_back(kBases[site_rng.Below(4)]);
      if (ref == alt) alt.push_back('A');
    }
    double af = s.af;
    if (wgs) {
      do {
        double k = std::pow(1 - site_rng.Uniform() * tail, 1 / (1 - kWgsExponent));
        af = std::min(alleles - 1, k) / alleles;
      } while (af > opt.max_af);
    }
    sites.push_back(Site{pos, std::move(ref), std::move(alt), af});
  }
  std::string genotypes;  // "\t0/0" per sample, patched per site
  std::string reference_row;
  reference_row.reserve(opt.individuals * 4);
  for (uint64_t i = 0; i < opt.individuals; ++i) reference_row += "\t0/0";
  uint64_t site = 0;
  for (const Site& s : sites) {
    const uint32_t pos = s.pos;
    const std::string& ref = s.ref;
    const std::string& alt = s.alt;
    double p = s.af;
    double p_hom = p * p, p_het = 2 * p * (1 - p);
    double p_event = p_hom + p_het + opt.missing_rate;
    genotypes = reference_row;
    // Geometric skipping: only the samples that are not 0/0 are visited.
    double log_q = std::log1p(-std::min(p_event, 0.999999));
    uint64_t i = 0;
    while (true) {
      double u = std::max(rng.Uniform(), 1e-300);
      i += static_cast<uint64_t>(std::floor(std::log(u) / log_q));
      if (i >= opt.individuals) break;
      double v = rng.Uniform() * p_event;
      char* gt = genotypes.data() + i * 4 + 1;
      if (v < p_hom) {
        std::memcpy(gt, "1/1", 3);
        ++result.non_reference_genotypes;
      } else if (v < p_hom + p_het) {
        std::memcpy(gt, "0/1", 3);
        ++result.non_reference_genotypes;
      } else {
        std::memcpy(gt, "./.", 3);
      }
      ++i;
    }
    char af[32];
    std::snprintf(af, sizeof(af), "%.4g", p);
    std::string line = StrCat(opt.chrom, "\t", pos, "\t.\t", ref, "\t", alt, "\t.\tPASS\tAF=", af,
                              "\tGT", genotypes, "\n");
    write_ok &= bgzf_write(bgzf, line.data(), line.size()) >= 0;
    if (progress && ++site % 256 == 0) progress(site, opt.variants);
  }
  if (bgzf_close(bgzf) != 0 || !write_ok) {
    return absl::DataLossError(StrCat(result.vcf_path, ": writing failed"));
  }

  // ---- Phenopackets, one JSON object per line
  auto pools = PhenotypePools::Build(*ontology, rng);
  if (!pools.ok()) return pools.status();
  result.phenopackets_path = (std::filesystem::path(opt.out_dir) / "phenopackets.jsonl").string();
  std::ofstream out(result.phenopackets_path, std::ios::binary);
  if (!out) return absl::PermissionDeniedError(StrCat(result.phenopackets_path, ": cannot write"));
  for (uint64_t i = 0; i < opt.individuals; ++i) {
    bool female = rng.Uniform() < 0.5;
    uint32_t age = static_cast<uint32_t>(std::clamp(std::abs(rng.Normal(48, 22)), 0.0, 99.0));
    std::vector<std::string> features, diseases, actions;
    for (const Cancer& c : Cancers()) {
      double rate = (female ? c.female_rate : c.male_rate) * AgeFactor(age);
      if (rng.Uniform() >= rate) continue;
      const char* code = c.subcodes[rng.Below(c.subcodes.size())];
      diseases.push_back(StrCat("{\"term\":", OntologyClassJson(StrCat("ICD10:", code), c.label),
                                ",\"onset\":{\"age\":{\"iso8601duration\":\"P",
                                age > 2 ? age - rng.Below(3) : age, "Y\"}}}"));
      int n = 1 + static_cast<int>(rng.Below(3));
      for (int k = 0; k < n; ++k) features.push_back(pools->Under(c.hpo_root, rng));
      if (!c.treatments.empty() && rng.Uniform() < 0.7) {
        const auto& [atc, name] = c.treatments[rng.Below(c.treatments.size())];
        actions.push_back(StrCat(
            "{\"treatment\":{\"agent\":", OntologyClassJson(StrCat("ATC:", atc), name), "}}"));
      }
    }
    if (!diseases.empty()) ++result.diagnosed;
    int background = static_cast<int>(rng.Below(4));
    for (int k = 0; k < background; ++k) features.push_back(pools->Background(rng));
    std::sort(features.begin(), features.end());
    features.erase(std::unique(features.begin(), features.end()), features.end());
    std::string excluded = rng.Uniform() < 0.1 ? pools->Background(rng) : "";

    std::string line = StrCat("{\"id\":\"", subject_id(i), "-pp\",\"subject\":{\"id\":\"",
                              subject_id(i), "\",\"sex\":\"", female ? "FEMALE" : "MALE",
                              "\",\"timeAtLastEncounter\":{\"age\":{\"iso8601duration\":\"P", age,
                              "Y\"}}},\"phenotypicFeatures\":[");
    bool first = true;
    for (const std::string& f : features) {
      if (f == excluded) continue;
      StrAppend(
          &line, first ? "" : ",", "{\"type\":",
          OntologyClassJson(f, pools->ontology()->term(*pools->ontology()->Resolve(f).term).name),
          "}");
      first = false;
    }
    if (!excluded.empty()) {
      StrAppend(&line, first ? "" : ",", "{\"type\":{\"id\":\"", excluded,
                "\"},\"excluded\":true}");
    }
    StrAppend(&line, "],\"diseases\":[");
    for (size_t k = 0; k < diseases.size(); ++k) StrAppend(&line, k ? "," : "", diseases[k]);
    StrAppend(&line, "],\"medicalActions\":[");
    for (size_t k = 0; k < actions.size(); ++k) StrAppend(&line, k ? "," : "", actions[k]);
    StrAppend(&line,
              "],\"metaData\":{\"createdBy\":\"pmdb generate\","
              "\"phenopacketSchemaVersion\":\"2.0\"}}\n");
    out << line;
  }
  out.close();
  if (!out) return absl::DataLossError(StrCat(result.phenopackets_path, ": writing failed"));
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace pmdb::cli
