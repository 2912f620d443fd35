#include "query/similarity.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <set>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/case_query.h"
#include "node/vocab/codes.h"

namespace pmdb::query {
namespace {

namespace keys = storage::keys;

// Disease ids are ICD-10 codes as normalized at ingest (no colon), or ids such as OMIM:219700.
bool IsIcd10Code(const std::string& id) { return id.find(':') == std::string::npos; }

std::string CategoryKey(const std::string& code) { return StrCat("cat:", code.substr(0, 3)); }

}  // namespace

InformationContent InformationContent::Build(
    const vocab::Ontology& ontology, const std::vector<std::vector<uint32_t>>& ancestors,
    const std::vector<std::vector<uint32_t>>& annotations) {
  const size_t n = ontology.size();
  TermCounts counts{.cases = 0, .per_term = std::vector<uint64_t>(n, 0)};
  std::vector<size_t> stamp(n, SIZE_MAX);
  for (size_t c = 0; c < annotations.size(); ++c) {
    if (annotations[c].empty()) continue;
    ++counts.cases;
    for (uint32_t t : annotations[c]) {
      for (uint32_t a : ancestors[t]) {
        if (stamp[a] == c) continue;
        stamp[a] = c;
        ++counts.per_term[a];
      }
    }
  }
  return FromCounts(ontology, ancestors, std::move(counts));
}

InformationContent InformationContent::FromCounts(
    const vocab::Ontology& ontology, const std::vector<std::vector<uint32_t>>& ancestors,
    TermCounts counts) {
  InformationContent out;
  const size_t n = ontology.size();
  out.ic_.assign(n, 0.0);
  counts.per_term.resize(n, 0);
  out.annotated_ = counts.cases;
  // The share of the ontology's live terms at or below t: the structure's estimate.
  std::vector<size_t> below(n, 0);
  size_t live = 0;
  for (size_t t = 0; t < n; ++t) {
    if (ontology.term(static_cast<uint32_t>(t)).obsolete) continue;
    ++live;
    for (uint32_t a : ancestors[t]) ++below[a];
  }
  const double cases = static_cast<double>(out.annotated_);
  const double prior = static_cast<double>(kStructurePrior);
  out.annotation_weight_ = cases / (cases + prior);
  for (size_t t = 0; t < n; ++t) {
    double share = static_cast<double>(std::max<size_t>(below[t], 1)) /
                   static_cast<double>(std::max<size_t>(live, 1));
    double p = (static_cast<double>(counts.per_term[t]) + prior * share) / (cases + prior);
    out.ic_[t] = std::max(0.0, -std::log(p));
  }
  out.counts_ = std::move(counts);
  return out;
}

// Fills a CaseIndex from (ordinal, record) pairs.
class CaseIndexBuilder {
 public:
  explicit CaseIndexBuilder(std::shared_ptr<const vocab::Ontology> ontology)
      : index_(new CaseIndex()) {
    index_->ontology_ = std::move(ontology);
  }

  void Add(uint32_t ordinal, const v1::IndividualRecord& r) {
    IndexedCase c;
    c.ordinal = ordinal;
    const vocab::Ontology* o = index_->ontology_.get();
    auto resolve = [&](const auto& ids, std::vector<uint32_t>* out) {
      if (o == nullptr) return;
      for (const std::string& id : ids) {
        vocab::Ontology::Resolution res = o->Resolve(id);
        if (res.term.has_value() && std::find(out->begin(), out->end(), *res.term) == out->end()) {
          out->push_back(*res.term);
        }
      }
    };
    std::vector<uint32_t> terms, excluded;
    resolve(r.phenotypes(), &terms);
    resolve(r.excluded_phenotypes(), &excluded);
    terms_.push_back(std::move(terms));
    excluded_.push_back(std::move(excluded));
    for (const std::string& d : r.diagnoses()) c.diagnoses.push_back(d);
    for (const std::string& d : r.other_diseases()) c.diagnoses.push_back(d);
    c.sex = r.sex();
    if (r.has_age_years()) c.age_years = r.age_years();
    for (const std::string& d : r.diagnoses()) {
      c.icd10_chapter = vocab::Icd10Chapter(d);
      if (!c.icd10_chapter.empty()) break;
    }
    c.care_unit = r.care_unit();
    size_t position = index_->cases_.size();
    for (const v1::ReportedVariant& v : r.reported()) {
      if (v.gene().empty()) continue;
      auto& list = index_->by_gene_[v.gene()];
      if (list.empty() || list.back() != position) list.push_back(position);
    }
    for (const std::string& d : c.diagnoses) {
      auto& exact = index_->by_diagnosis_[d];
      if (exact.empty() || exact.back() != position) exact.push_back(position);
      if (IsIcd10Code(d) && d.size() >= 3) {
        auto& category = index_->by_diagnosis_[CategoryKey(d)];
        if (category.empty() || category.back() != position) category.push_back(position);
      }
    }
    index_->by_ordinal_.emplace(ordinal, position);
    index_->cases_.push_back(std::move(c));
  }

  std::shared_ptr<const CaseIndex> Finish() {
    CaseIndex& x = *index_;
    size_t total = 0;
    for (size_t i = 0; i < x.cases_.size(); ++i) total += terms_[i].size() + excluded_[i].size();
    x.term_pool_.reserve(total);
    std::vector<size_t> starts;
    for (size_t i = 0; i < x.cases_.size(); ++i) {
      starts.push_back(x.term_pool_.size());
      x.term_pool_.insert(x.term_pool_.end(), terms_[i].begin(), terms_[i].end());
      x.term_pool_.insert(x.term_pool_.end(), excluded_[i].begin(), excluded_[i].end());
    }
    for (size_t i = 0; i < x.cases_.size(); ++i) {
      const uint32_t* at = x.term_pool_.data() + starts[i];
      x.cases_[i].terms = {at, terms_[i].size()};
      x.cases_[i].excluded = {at + terms_[i].size(), excluded_[i].size()};
    }
    if (const vocab::Ontology* o = x.ontology_.get()) {
      size_t n = o->size();
      x.ancestors_.resize(n);
      x.descendants_.resize(n);
      for (uint32_t t = 0; t < n; ++t) x.ancestors_[t] = o->AncestorsInclusive(t);
      for (uint32_t t = 0; t < n; ++t) {
        for (uint32_t a : x.ancestors_[t]) x.descendants_[a].push_back(t);
      }
      x.ic_ = InformationContent::Build(*o, x.ancestors_, terms_);
      for (IndexedCase& c : x.cases_) {
        for (uint32_t t : c.terms) c.terms_ic += x.ic_[t];
      }
    }
    return std::move(index_);
  }

 private:
  std::shared_ptr<CaseIndex> index_;
  std::vector<std::vector<uint32_t>> terms_, excluded_;  // per case, until Finish pools them
};

absl::StatusOr<std::shared_ptr<const CaseIndex>> CaseIndex::Build(const storage::ReadView& view,
                                                                  const vocab::Catalog& catalog) {
  auto care = view.GetBitmap(keys::Consent("care"));
  if (!care.ok()) return care.status();
  CaseIndexBuilder builder(catalog.shared_ontology());
  absl::Status failure;
  absl::Status s = view.Scan(
      storage::Family::kIndividuals, keys::kIndividualPrefix,
      keys::PrefixEnd(keys::kIndividualPrefix), [&](std::string_view key, std::string_view value) {
        auto ordinal = keys::ParseIndividual(key);
        if (!ordinal.has_value() || !care->Contains(*ordinal)) return true;
        v1::IndividualRecord r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          failure = absl::DataLossError(
              StrCat("the individual record of ordinal ", *ordinal, " cannot be read"));
          return false;
        }
        if (r.has_clinical_record()) builder.Add(*ordinal, r);
        return true;
      });
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  return builder.Finish();
}

absl::StatusOr<std::shared_ptr<const CaseIndex>> CaseIndex::FromRecords(
    std::shared_ptr<const vocab::Ontology> ontology,
    const std::vector<v1::IndividualRecord>& records) {
  CaseIndexBuilder builder(std::move(ontology));
  for (size_t i = 0; i < records.size(); ++i) builder.Add(static_cast<uint32_t>(i), records[i]);
  return builder.Finish();
}

absl::StatusOr<Weights> CaseIndex::WeightsFor(TermCounts counts) const {
  if (ontology_ == nullptr) {
    // No phenotypes anywhere: variants and diagnoses are scored, with no IC at all.
    if (counts.cases != 0 || !counts.per_term.empty()) {
      return absl::InvalidArgumentError("phenotype counts given to an index without an ontology");
    }
    return Weights{.ic = {}, .terms_ic = std::vector<double>(cases_.size(), 0.0)};
  }
  if (counts.per_term.size() != ontology_->size()) {
    return absl::InvalidArgumentError(StrCat("phenotype counts of ", counts.per_term.size(),
                                             " terms given for an ontology of ",
                                             ontology_->size()));
  }
  Weights out{.ic = InformationContent::FromCounts(*ontology_, ancestors_, std::move(counts)),
              .terms_ic = std::vector<double>(cases_.size(), 0.0)};
  for (size_t p = 0; p < cases_.size(); ++p) {
    for (uint32_t t : cases_[p].terms) out.terms_ic[p] += out.ic[t];
  }
  return out;
}

std::optional<size_t> CaseIndex::Find(uint32_t ordinal) const {
  auto it = by_ordinal_.find(ordinal);
  if (it == by_ordinal_.end()) return std::nullopt;
  return it->second;
}

const std::vector<size_t>* CaseIndex::WithGene(const std::string& gene) const {
  auto it = by_gene_.find(gene);
  return it == by_gene_.end() ? nullptr : &it->second;
}

const std::vector<size_t>* CaseIndex::WithDiagnosis(const std::string& key) const {
  auto it = by_diagnosis_.find(key);
  return it == by_diagnosis_.end() ? nullptr : &it->second;
}

absl::StatusOr<Carriers> ReadCarriers(const storage::ReadView& view, const v1::CaseQuery& query) {
  Carriers out(query.variants_size());
  for (int j = 0; j < query.variants_size(); ++j) {
    const v1::CaseVariant& v = query.variants(j);
    if (v.pos() == 0) continue;
    std::string vkey = keys::Variant({v.assembly(), v.chrom(), v.pos(), v.ref(), v.alt()});
    const std::pair<std::string_view, v1::Zygosity> kinds[] = {{keys::kHet, v1::HETEROZYGOUS},
                                                               {keys::kHom, v1::HOMOZYGOUS},
                                                               {keys::kHemi, v1::HEMIZYGOUS}};
    for (const auto& [kind, zygosity] : kinds) {
      auto bits = view.GetBitmap(keys::Genotype(vkey, kind));
      if (!bits.ok()) return bits.status();
      for (uint32_t o : bits->ToVector()) out[j].emplace(o, zygosity);
    }
  }
  return out;
}

namespace {

// A query's terms resolved against the ontology, with notes on the ids it could not use as given.
struct ResolvedTerms {
  std::vector<uint32_t> terms;
  std::vector<std::string> as_given;  // the id the query used, per term
};

ResolvedTerms Resolve(const vocab::Ontology* o,
                      const google::protobuf::RepeatedPtrField<std::string>& ids,
                      std::vector<v1::TermNote>* notes) {
  ResolvedTerms out;
  for (const std::string& id : ids) {
    v1::TermNote note;
    note.set_id(id);
    if (o == nullptr) {
      note.set_problem("no ontology at this region");
      notes->push_back(std::move(note));
      continue;
    }
    vocab::Ontology::Resolution res = o->Resolve(id);
    switch (res.match) {
      case vocab::Ontology::Match::kExact:
        break;
      case vocab::Ontology::Match::kAltId:
        note.set_problem("alternative id");
        note.add_use_instead(o->term(*res.term).id);
        break;
      case vocab::Ontology::Match::kReplaced:
        note.set_problem("obsolete, replaced");
        note.add_use_instead(o->term(*res.term).id);
        break;
      case vocab::Ontology::Match::kObsolete:
        note.set_problem("obsolete");
        if (auto t = o->Find(id)) {
          for (const std::string& c : o->term(*t).consider) note.add_use_instead(c);
        }
        break;
      case vocab::Ontology::Match::kUnknown:
        note.set_problem("unknown");
        break;
    }
    if (!note.problem().empty()) notes->push_back(note);
    if (!res.term.has_value()) continue;
    if (std::find(out.terms.begin(), out.terms.end(), *res.term) != out.terms.end()) continue;
    out.terms.push_back(*res.term);
    out.as_given.push_back(id);
  }
  return out;
}

// A term's share of credit for its best match, weighted by its own IC: IC(t) times the cube of
// IC(MICA) / IC(t). An exact match (or a match below t) earns all of IC(t); a match through a
// near ancestor most of it; a match through a broad ancestor little.
double Credit(double mica_ic, double term_ic) {
  if (term_ic <= 0) return 0;
  double r = std::min(1.0, mica_ic / term_ic);
  return term_ic * r * r * r;
}

struct Candidate {
  double score;
  uint32_t ordinal;
  size_t position;
};

// Heap order: the worst candidate on top (lowest score, then highest ordinal).
struct WorseFirst {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.score != b.score) return a.score > b.score;
    return a.ordinal < b.ordinal;
  }
};

}  // namespace

absl::StatusOr<SimilarResult> RankSimilar(const CaseIndex& index, const v1::CaseQuery& query,
                                          const Carriers& carriers, size_t top,
                                          const std::function<bool(uint32_t)>& eligible,
                                          const Weights* weights) {
  SimilarResult result;
  if (top == 0) return absl::InvalidArgumentError("top must be at least 1");
  if (weights != nullptr && weights->terms_ic.size() != index.size()) {
    return absl::InternalError("the weights are not of this index");
  }
  const vocab::Ontology* o = index.ontology();
  const InformationContent& ic = weights != nullptr ? weights->ic : index.ic();
  auto terms_ic = [&](size_t p) {
    return weights != nullptr ? weights->terms_ic[p] : index.at(p).terms_ic;
  };
  ResolvedTerms q = Resolve(o, query.phenotypes(), &result.notes);
  ResolvedTerms x = Resolve(o, query.excluded_phenotypes(), &result.notes);
  if (q.terms.size() > static_cast<size_t>(kMaxQueryTerms)) {
    return absl::InvalidArgumentError(StrCat("the case has ", q.terms.size(),
                                             " observed terms; at most ", kMaxQueryTerms,
                                             " are compared"));
  }
  if (carriers.size() != static_cast<size_t>(query.variants_size())) {
    return absl::InternalError("carriers do not match the query's variants");
  }
  const size_t nq = q.terms.size();
  double q_ic = 0;
  for (uint32_t t : q.terms) q_ic += ic[t];
  const bool has_pheno = nq > 0 && q_ic > 0;
  const bool has_geno = query.variants_size() > 0;
  const bool has_dx = query.diagnoses_size() > 0;
  double total_weight = (has_pheno ? kPhenotypeWeight : 0) + (has_geno ? kGenotypeWeight : 0) +
                        (has_dx ? kDiagnosisWeight : 0);
  if (total_weight == 0) {
    return absl::InvalidArgumentError(
        "nothing to compare: no usable phenotype term, variant, gene or diagnosis (see notes)");
  }

  // MICA table: mica[t * nq + i] = IC of the most informative common ancestor of term t and
  // query term i. Ancestors in increasing IC overwrite their descendants, so the last write wins.
  const size_t nterms = o == nullptr ? 0 : o->size();
  std::vector<double> mica;
  std::vector<uint64_t> query_below;       // bit i: t is an ancestor-or-self of query term i
  std::vector<uint64_t> below_query;       // bit i: t is query term i or a descendant of it
  std::vector<char> query_excluded_above;  // t is a descendant-or-self of a query exclusion
  if (has_pheno) {
    mica.assign(nterms * nq, 0.0);
    query_below.assign(nterms, 0);
    below_query.assign(nterms, 0);
    for (size_t i = 0; i < nq; ++i) {
      for (uint32_t d : index.descendants(q.terms[i])) below_query[d] |= uint64_t{1} << i;
      std::vector<uint32_t> anc = index.ancestors(q.terms[i]);
      std::stable_sort(anc.begin(), anc.end(),
                       [&](uint32_t a, uint32_t b) { return ic[a] < ic[b]; });
      for (uint32_t a : anc) {
        double v = ic[a];
        for (uint32_t d : index.descendants(a)) mica[d * nq + i] = v;
        query_below[a] |= uint64_t{1} << i;
      }
    }
  }
  if (o != nullptr) {
    query_excluded_above.assign(nterms, 0);
    for (uint32_t e : x.terms) {
      for (uint32_t d : index.descendants(e)) query_excluded_above[d] = 1;
    }
  }

  const size_t n = index.size();
  std::vector<double> geno;
  if (has_geno) {
    geno.assign(n, 0.0);
    std::vector<double> best(n);
    for (int j = 0; j < query.variants_size(); ++j) {
      const v1::CaseVariant& v = query.variants(j);
      std::fill(best.begin(), best.end(), 0.0);
      bool allele = v.pos() != 0;
      for (const auto& [ordinal, zygosity] : carriers[j]) {
        auto pos = index.Find(ordinal);
        if (!pos.has_value()) continue;
        bool same = v.zygosity() == v1::ANY_ZYGOSITY || v.zygosity() == zygosity;
        best[*pos] = std::max(best[*pos], same ? 1.0 : kOtherZygosity);
      }
      if (!v.gene().empty()) {
        if (const auto* with = index.WithGene(ToUpper(v.gene()))) {
          double level = allele ? kSameGene : 1.0;
          for (size_t p : *with) best[p] = std::max(best[p], level);
        }
      }
      for (size_t p = 0; p < n; ++p) geno[p] += best[p];
    }
    for (double& g : geno) g /= query.variants_size();
  }
  std::vector<double> dx;
  if (has_dx) {
    dx.assign(n, 0.0);
    for (const std::string& raw : query.diagnoses()) {
      std::string d = raw;
      if (IsIcd10Code(d)) {
        auto code = vocab::NormalizeIcd10(d);
        if (!code.ok()) continue;
        d = *code;
        if (d.size() >= 3) {
          if (const auto* with = index.WithDiagnosis(CategoryKey(d))) {
            for (size_t p : *with) dx[p] = std::max(dx[p], kSameCategory);
          }
        }
      }
      if (const auto* with = index.WithDiagnosis(d)) {
        for (size_t p : *with) dx[p] = 1.0;
      }
    }
  }

  std::priority_queue<Candidate, std::vector<Candidate>, WorseFirst> heap;
  double best_q[kMaxQueryTerms];
  struct Parts {
    double pheno = 0, pen = 0;
    uint64_t exact = 0;
  };
  auto phenotype = [&](size_t p) {
    const IndexedCase& c = index.at(p);
    const double c_ic = terms_ic(p);
    Parts out;
    if (!has_pheno || c.terms.empty()) return out;
    std::fill(best_q, best_q + nq, 0.0);
    double to_query = 0;
    for (uint32_t t : c.terms) {
      const double* row = &mica[t * nq];
      double m = 0;
      for (size_t i = 0; i < nq; ++i) {
        m = std::max(m, row[i]);
        best_q[i] = std::max(best_q[i], row[i]);
      }
      to_query += Credit(m, ic[t]);
      out.exact |= below_query[t];
    }
    double from_query = 0;
    for (size_t i = 0; i < nq; ++i) from_query += Credit(best_q[i], ic[q.terms[i]]);
    double bma = (from_query / q_ic + (c_ic > 0 ? to_query / c_ic : 0)) / 2;
    uint64_t contradicted = 0;
    for (uint32_t e : c.excluded) contradicted |= query_below[e];
    double pen_q = 0;
    for (size_t i = 0; i < nq; ++i) {
      if (contradicted >> i & 1) pen_q += ic[q.terms[i]];
    }
    double pen_c = 0;
    for (uint32_t t : c.terms) {
      if (query_excluded_above[t]) pen_c += ic[t];
    }
    out.pen = (pen_q / q_ic + (c_ic > 0 ? pen_c / c_ic : 0)) / 2;
    out.pheno = std::max(0.0, std::min(1.0, bma - out.pen));
    return out;
  };
  auto combine = [&](size_t p, const Parts& parts) {
    double s = (has_pheno ? kPhenotypeWeight * parts.pheno : 0) +
               (has_geno ? kGenotypeWeight * geno[p] : 0) + (has_dx ? kDiagnosisWeight * dx[p] : 0);
    return std::min(1.0, s / total_weight);
  };

  for (size_t p = 0; p < n; ++p) {
    const IndexedCase& c = index.at(p);
    double score = combine(p, phenotype(p));
    if (score <= 0) continue;
    Candidate cand{score, c.ordinal, p};
    if (heap.size() == top && !WorseFirst()(cand, heap.top())) continue;
    if (!eligible(c.ordinal)) continue;
    heap.push(cand);
    if (heap.size() > top) heap.pop();
  }
  result.considered = n;

  std::vector<Candidate> ranked;
  while (!heap.empty()) {
    ranked.push_back(heap.top());
    heap.pop();
  }
  std::reverse(ranked.begin(), ranked.end());
  for (const Candidate& cand : ranked) {
    const IndexedCase& c = index.at(cand.position);
    Parts parts = phenotype(cand.position);
    ScoredCase out;
    out.position = cand.position;
    v1::CaseMatch& m = out.match;
    m.set_score(cand.score);
    m.set_phenotype_score(parts.pheno);
    m.set_genotype_score(has_geno ? geno[cand.position] : 0);
    m.set_diagnosis_score(has_dx ? dx[cand.position] : 0);
    m.set_contradiction(parts.pen > 0);
    for (size_t i = 0; has_pheno && i < nq; ++i) {
      // The case term that matches query term i best, and the ancestor they share.
      double best = 0;
      uint32_t best_term = 0;
      for (uint32_t t : c.terms) {
        if (mica[t * nq + i] > best) {
          best = mica[t * nq + i];
          best_term = t;
        }
      }
      if (best <= 0) continue;
      const std::vector<uint32_t>& mine = index.ancestors(best_term);
      std::set<uint32_t> shared(mine.begin(), mine.end());
      uint32_t common = q.terms[i];
      double common_ic = -1;
      for (uint32_t a : index.ancestors(q.terms[i])) {
        if (shared.contains(a) && ic[a] > common_ic) {
          common_ic = ic[a];
          common = a;
        }
      }
      const bool exact = (parts.exact >> i & 1) != 0;
      const double share = ic[q.terms[i]] > 0 ? common_ic / ic[q.terms[i]] : 1.0;
      if (!exact && share * share * share < kMinListedCredit) continue;
      v1::PhenotypeMatch* pm = m.add_phenotypes();
      pm->set_query_term(q.as_given[i]);
      pm->set_common_term(o->term(common).id);
      pm->set_common_label(o->term(common).name);
      pm->set_information_content(common_ic);
      pm->set_exact(exact);
    }
    for (int j = 0; j < query.variants_size(); ++j) {
      const v1::CaseVariant& v = query.variants(j);
      v1::VariantMatch vm;
      vm.set_query_variant(vocab::FormatCaseVariant(v));
      auto carrier = carriers[j].find(c.ordinal);
      if (carrier != carriers[j].end()) {
        vm.set_level("variant");
        vm.set_zygosity(carrier->second);
      } else if (!v.gene().empty()) {
        const auto* with = index.WithGene(ToUpper(v.gene()));
        if (with != nullptr && std::binary_search(with->begin(), with->end(), cand.position)) {
          vm.set_level("gene");
        }
      }
      if (!vm.level().empty()) *m.add_variants() = std::move(vm);
    }
    m.set_sex(c.sex);
    if (c.age_years.has_value())
      m.set_age_band(vocab::AgeBandLabel(vocab::AgeBandStart(*c.age_years)));
    m.set_icd10_chapter(c.icd10_chapter);
    m.set_care_unit(c.care_unit);
    result.top.push_back(std::move(out));
  }
  return result;
}

double JaccardTerms(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  if (sa.empty() && sb.empty()) return 0;
  size_t common = 0;
  for (const std::string& t : sa) common += sb.contains(t);
  return static_cast<double>(common) / static_cast<double>(sa.size() + sb.size() - common);
}

}  // namespace pmdb::query
