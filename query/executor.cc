#include "query/executor.h"

#include <algorithm>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/codes.h"
#include "query/parser.h"
#include "query/planner.h"

namespace pmdb::query {

namespace keys = storage::keys;
using storage::Bitmap;

Executor::Executor(const storage::ReadView& view, const vocab::Catalog& catalog, Work work)
    : view_(view), catalog_(catalog), work_(work) {}

absl::StatusOr<Bitmap> Executor::Fetch(const std::string& key) { return view_.GetBitmap(key); }

absl::StatusOr<Bitmap> Executor::Universe() {
  // Kept: a breakdown and every negation of a question need it again.
  if (!universe_.has_value()) {
    auto bits = view_.GetBitmap(keys::kAllIndividuals);
    if (!bits.ok()) return bits.status();
    universe_ = std::move(*bits);
  }
  return *universe_;
}

absl::StatusOr<Bitmap> Executor::Evaluate(const v1::Criterion& c) {
  switch (c.kind_case()) {
    case v1::Criterion::kAllOf:
      return EvaluateAnd(c.all_of());
    case v1::Criterion::kAnyOf:
      return EvaluateOr(c.any_of());
    case v1::Criterion::kNegation: {
      auto all = Universe();
      if (!all.ok()) return all;
      auto inner = Evaluate(c.negation());
      if (!inner.ok()) return inner;
      return *all - *inner;
    }
    case v1::Criterion::KIND_NOT_SET:
      return absl::InvalidArgumentError("empty criterion");
    default:
      return EvaluateLeaf(c);
  }
}

absl::StatusOr<Bitmap> Executor::EvaluateAnd(const v1::CriterionList& list) {
  if (list.items_size() == 0) return Universe();  // the canonical "everyone"
  // Point leaves are fetched up front so the planner can order them by their exact size.
  absl::Status fetch_status;
  for (const v1::Criterion& c : list.items()) {
    if (!IsPointLeaf(c)) continue;
    auto bits = EvaluateLeaf(c);
    if (!bits.ok()) return bits.status();
    leaf_cache_[&c] = std::move(*bits);
  }
  std::vector<PlanStep> plan = PlanConjunction(
      list, [&](const v1::Criterion& c) { return leaf_cache_.at(&c).Cardinality(); });

  std::optional<Bitmap> acc;
  for (const PlanStep& step : plan) {
    if (work_ == Work::kShortCircuit && acc.has_value() && acc->Empty()) break;
    Bitmap operand;
    auto cached = leaf_cache_.find(step.criterion);
    if (cached != leaf_cache_.end()) {
      operand = std::move(cached->second);  // each operand is used once
      leaf_cache_.erase(cached);
    } else {
      auto bits = Evaluate(*step.criterion);
      if (!bits.ok()) return bits.status();
      operand = std::move(*bits);
    }
    if (!acc.has_value()) {
      if (step.subtract) {
        auto all = Universe();
        if (!all.ok()) return all.status();
        acc = *all - operand;
      } else {
        acc = std::move(operand);
      }
    } else if (step.subtract) {
      *acc -= operand;
    } else {
      *acc &= operand;
    }
  }
  return acc.has_value() ? std::move(*acc) : Bitmap();
}

absl::StatusOr<Bitmap> Executor::EvaluateOr(const v1::CriterionList& list) {
  std::vector<Bitmap> parts;
  parts.reserve(list.items_size());
  for (const v1::Criterion& c : list.items()) {
    auto bits = Evaluate(c);
    if (!bits.ok()) return bits.status();
    parts.push_back(std::move(*bits));
  }
  std::vector<const Bitmap*> ptrs;
  for (const Bitmap& b : parts) ptrs.push_back(&b);
  return Bitmap::Union(ptrs);
}

absl::StatusOr<ZygosityBitmaps> Executor::Zygosities(const v1::Criterion& leaf) {
  if (leaf.has_gene()) return GeneCarriers(leaf.gene());
  if (!leaf.has_variant()) {
    return absl::InvalidArgumentError("zygosity needs a variant() or gene() criterion");
  }
  const v1::VariantCriterion& v = leaf.variant();
  std::string vkey = keys::Variant({v.assembly(), v.chrom(), v.pos(), v.ref(), v.alt()});
  ZygosityBitmaps z;
  std::vector<std::string> ks = {keys::Genotype(vkey, keys::kHet), keys::Genotype(vkey, keys::kHom),
                                 keys::Genotype(vkey, keys::kHemi)};
  auto bits = view_.GetBitmaps(ks);
  if (!bits.ok()) return bits.status();
  // One cell per person, as for a gene, even when a person has calls of two kinds (from two
  // sources): hom before hemi before het.
  z.hom = std::move((*bits)[1]);
  z.hemi = std::move((*bits)[2]) - z.hom;
  z.het = std::move((*bits)[0]) - z.hom - z.hemi;
  return z;
}

absl::StatusOr<ZygosityBitmaps> Executor::VariantsInRange(const std::string& assembly,
                                                          const std::string& chrom, uint32_t start,
                                                          uint32_t end) {
  std::vector<std::string> variant_keys;
  std::string begin = keys::VariantLowerBound(assembly, chrom, start);
  std::string stop = end == UINT32_MAX ? keys::VariantChromEnd(assembly, chrom)
                                       : keys::VariantLowerBound(assembly, chrom, end + 1);
  absl::Status s = view_.Scan(storage::Family::kVariants, begin, stop,
                              [&](std::string_view key, std::string_view) {
                                variant_keys.emplace_back(key);
                                return true;
                              });
  if (!s.ok()) return s;
  std::vector<std::string> ks;
  ks.reserve(variant_keys.size() * 3);
  for (const std::string& vk : variant_keys) {
    ks.push_back(keys::Genotype(vk, keys::kHet));
    ks.push_back(keys::Genotype(vk, keys::kHom));
    ks.push_back(keys::Genotype(vk, keys::kHemi));
  }
  auto bits = view_.GetBitmaps(ks);
  if (!bits.ok()) return bits.status();
  std::vector<const Bitmap*> het, hom, hemi;
  for (size_t i = 0; i < variant_keys.size(); ++i) {
    het.push_back(&(*bits)[3 * i]);
    hom.push_back(&(*bits)[3 * i + 1]);
    hemi.push_back(&(*bits)[3 * i + 2]);
  }
  ZygosityBitmaps z;
  z.hom = Bitmap::Union(hom);
  z.hemi = Bitmap::Union(hemi) - z.hom;
  z.het = Bitmap::Union(het) - z.hom - z.hemi;
  return z;
}

absl::StatusOr<ZygosityBitmaps> Executor::GeneCarriers(const v1::GeneCriterion& gene) {
  ZygosityBitmaps total;
  // query::Prepare has refused unknown genes and warned about assemblies without a table,
  // unless it was told to leave genes to the executor (Checks::kWhenReached).
  bool known = false;
  for (const std::string& assembly : catalog_.assemblies()) {
    const vocab::GeneTable* table = catalog_.gene_table(assembly);
    if (table == nullptr) continue;
    for (const vocab::GeneSpan& span : table->Find(gene.symbol())) {
      known = true;
      auto z = VariantsInRange(assembly, span.chrom, span.start, span.end);
      if (!z.ok()) return z.status();
      total.hom |= z->hom;
      total.hemi |= z->hemi;
      total.het |= z->het;
    }
  }
  if (!known) {
    return absl::InvalidArgumentError(
        StrCat("gene symbol ", gene.symbol(), " is not in the store's gene tables"));
  }
  total.hemi -= total.hom;
  total.het -= total.hom;
  total.het -= total.hemi;
  return total;
}

namespace {

Bitmap PickZygosity(const ZygosityBitmaps& z, v1::Zygosity which) {
  switch (which) {
    case v1::HETEROZYGOUS:
      return z.het;
    case v1::HOMOZYGOUS:
      return z.hom;
    case v1::HEMIZYGOUS:
      return z.hemi;
    default:
      return z.Any();
  }
}

}  // namespace

absl::StatusOr<Bitmap> Executor::EvaluateLeaf(const v1::Criterion& c) {
  auto cached = leaf_cache_.find(&c);
  if (cached != leaf_cache_.end()) return cached->second;
  switch (c.kind_case()) {
    case v1::Criterion::kVariant: {
      if (c.variant().zygosity() == v1::ANY_ZYGOSITY) {
        // The carriers of any kind are the union of the three bitmaps: the cells Zygosities()
        // separates partition it.
        const v1::VariantCriterion& v = c.variant();
        std::string vkey = keys::Variant({v.assembly(), v.chrom(), v.pos(), v.ref(), v.alt()});
        std::vector<std::string> ks = {keys::Genotype(vkey, keys::kHet),
                                       keys::Genotype(vkey, keys::kHom),
                                       keys::Genotype(vkey, keys::kHemi)};
        auto bits = view_.GetBitmaps(ks);
        if (!bits.ok()) return bits.status();
        const Bitmap* parts[] = {&(*bits)[0], &(*bits)[1], &(*bits)[2]};
        return Bitmap::Union(parts);
      }
      auto z = Zygosities(c);
      if (!z.ok()) return z.status();
      return PickZygosity(*z, c.variant().zygosity());
    }
    case v1::Criterion::kRange: {
      const v1::RangeCriterion& r = c.range();
      auto z = VariantsInRange(r.assembly(), r.chrom(), r.start(), r.end());
      if (!z.ok()) return z.status();
      return z->Any();
    }
    case v1::Criterion::kGene: {
      auto z = GeneCarriers(c.gene());
      if (!z.ok()) return z.status();
      return PickZygosity(*z, c.gene().zygosity());
    }
    case v1::Criterion::kHpo:
      // query::Prepare has made the id primary (or the leaf "no one" when it is unknown).
      return Fetch(keys::Phenotype(c.hpo()));
    case v1::Criterion::kDiagnosis:
      return Fetch(keys::Diagnosis(c.diagnosis()));
    case v1::Criterion::kTreatment:
      return Fetch(keys::Treatment(c.treatment()));
    case v1::Criterion::kSex:
      return Fetch(keys::Sex(vocab::SexCode(c.sex())[0]));
    case v1::Criterion::kAge: {
      uint32_t lo = c.age().min();
      uint32_t hi = c.age().has_max() ? c.age().max() : vocab::kMaxAge;
      std::vector<std::string> ks;
      for (uint32_t age = lo; age <= hi;) {
        uint32_t band = vocab::AgeBandStart(age);
        uint32_t band_end = band >= 100 ? vocab::kMaxAge : band + 9;
        if (age == band && band_end <= hi) {
          ks.push_back(keys::AgeBand(band));  // a whole band in one lookup
          age = band_end + 1;
        } else {
          ks.push_back(keys::AgeYear(age));
          ++age;
        }
      }
      auto bits = view_.GetBitmaps(ks);
      if (!bits.ok()) return bits.status();
      std::vector<const Bitmap*> ptrs;
      for (const Bitmap& b : *bits) ptrs.push_back(&b);
      return Bitmap::Union(ptrs);
    }
    case v1::Criterion::kDataset:
      return Fetch(keys::DatasetMembers(c.dataset()));
    default:
      return absl::InternalError("not a leaf criterion");
  }
}

}  // namespace pmdb::query
