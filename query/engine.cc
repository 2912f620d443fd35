#include "query/engine.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/vocab/codes.h"
#include "query/executor.h"
#include "query/prepare.h"

namespace pmdb::query {

namespace keys = storage::keys;
using storage::Bitmap;

namespace {

absl::StatusOr<Bitmap> Consented(const storage::ReadView& view, v1::Purpose purpose) {
  return view.GetBitmap(keys::Consent(PurposeName(purpose)));
}

// Evaluates the criterion and applies consent.
absl::StatusOr<Bitmap> Matching(Executor& ex, const storage::ReadView& view,
                                const v1::Criterion& criterion, v1::Purpose purpose) {
  auto bits = ex.Evaluate(criterion);
  if (!bits.ok()) return bits;
  auto consent = Consented(view, purpose);
  if (!consent.ok()) return consent;
  *bits &= *consent;
  return bits;
}

struct Cell {
  std::string label;
  Bitmap members;
  // Everyone of the universe in no other cell of the dimension, whose other cells are then
  // disjoint (the age bands' "unknown"): counted from the others, never built over the universe.
  bool rest = false;
};

// The first variant() or gene() criterion reachable through ANDs only, so that its carriers
// are a superset of the result. In a canonical tree "first" is in canonical order, so it is the
// same leaf for every question with the same canonical text.
const v1::Criterion* FindGenotypeLeaf(const v1::Criterion& c) {
  if (c.has_variant() || c.has_gene()) return &c;
  if (c.has_all_of()) {
    for (const v1::Criterion& item : c.all_of().items()) {
      if (const v1::Criterion* found = FindGenotypeLeaf(item)) return found;
    }
  }
  return nullptr;
}

absl::StatusOr<std::vector<Cell>> DimensionCells(v1::Dimension d, Executor& ex,
                                                 const storage::ReadView& view,
                                                 const v1::Criterion& criterion,
                                                 const std::vector<std::string>& diagnoses) {
  std::vector<Cell> cells;
  switch (d) {
    case v1::SEX: {
      for (char s : {'F', 'M', 'O', 'U'}) {
        auto bits = view.GetBitmap(keys::Sex(s));
        if (!bits.ok()) return bits.status();
        cells.push_back({std::string(1, s), std::move(*bits)});
      }
      return cells;
    }
    case v1::AGE_BAND: {
      std::vector<std::string> ks;
      for (uint32_t band = 0; band <= 100; band += 10) ks.push_back(keys::AgeBand(band));
      auto bits = view.GetBitmaps(ks);
      if (!bits.ok()) return bits.status();
      for (uint32_t i = 0; i < bits->size(); ++i) {
        cells.push_back({vocab::AgeBandLabel(i * 10), std::move((*bits)[i])});
      }
      cells.push_back({"unknown", Bitmap(), /*rest=*/true});  // a person has one age
      return cells;
    }
    case v1::DIAGNOSIS: {
      std::vector<std::string> ks;
      std::vector<std::string> labels = diagnoses;
      if (labels.empty()) {  // exact answers only (Engine::Breakdown refused the others)
        absl::Status s = view.Scan(
            storage::Family::kBitmaps, keys::kDiagnosisPrefix,
            keys::PrefixEnd(keys::kDiagnosisPrefix), [&](std::string_view key, std::string_view) {
              std::string_view code = key.substr(keys::kDiagnosisPrefix.size());
              if (code.size() == 3) labels.emplace_back(code);
              return true;
            });
        if (!s.ok()) return s;
      }
      for (const std::string& c : labels) ks.push_back(keys::Diagnosis(c));
      // Anyone with a diagnosis is in the bitmap of its chapter letter.
      for (char letter = 'A'; letter <= 'Z'; ++letter) {
        ks.push_back(keys::Diagnosis(std::string(1, letter)));
      }
      auto bits = view.GetBitmaps(ks);
      if (!bits.ok()) return bits.status();
      std::vector<const Bitmap*> letters;
      for (size_t i = labels.size(); i < bits->size(); ++i) letters.push_back(&(*bits)[i]);
      Bitmap diagnosed = Bitmap::Union(letters);
      auto all = ex.Universe();
      if (!all.ok()) return all.status();
      Bitmap named;
      for (size_t i = 0; i < labels.size(); ++i) {
        named |= (*bits)[i];
        cells.push_back({labels[i], std::move((*bits)[i])});
      }
      if (!diagnoses.empty()) cells.push_back({"other", diagnosed - named});
      cells.push_back({"none", *all - diagnosed});
      return cells;
    }
    case v1::ZYGOSITY: {
      const v1::Criterion* leaf = FindGenotypeLeaf(criterion);
      if (leaf == nullptr) {
        return absl::InvalidArgumentError(
            "a breakdown by zygosity needs a variant() or gene() criterion joined to the rest "
            "of the query by AND");
      }
      auto z = ex.Zygosities(*leaf);
      if (!z.ok()) return z.status();
      cells.push_back({"het", std::move(z->het)});
      cells.push_back({"hom", std::move(z->hom)});
      cells.push_back({"hemi", std::move(z->hemi)});
      return cells;
    }
    default:
      return absl::InvalidArgumentError("unknown breakdown dimension");
  }
}

// The variant of a frequency question and the cohort it is counted in (an AND of the other
// operands, or nothing for everyone); null unless the tree has exactly one variant() at the top.
const v1::Criterion* SplitFrequency(const v1::Criterion& canonical, v1::Criterion* cohort) {
  if (canonical.has_variant()) return &canonical;
  if (!canonical.has_all_of()) return nullptr;
  const v1::Criterion* variant = nullptr;
  for (const v1::Criterion& item : canonical.all_of().items()) {
    if (item.has_variant()) {
      if (variant != nullptr) return nullptr;
      variant = &item;
    } else {
      *cohort->mutable_all_of()->add_items() = item;
    }
  }
  return variant;
}

absl::Status FrequencyShapeError() {
  return absl::InvalidArgumentError(
      "a frequency needs exactly one variant() criterion, alone or ANDed with criteria that "
      "choose the cohort (e.g. variant(GRCh38:7:55191822:T:G) AND sex(F))");
}

}  // namespace

absl::StatusOr<Prepared> Engine::CheckBreakdown(const v1::Criterion& criterion,
                                                const std::vector<v1::Dimension>& dimensions,
                                                const std::vector<std::string>& diagnoses) const {
  absl::Status checked = CheckDimensions(dimensions).status();
  if (!checked.ok()) return checked;
  auto named = CheckDiagnoses(dimensions, diagnoses);
  if (!named.ok()) return named.status();
  auto q = Prepare(criterion, *catalog_, options_.checks);
  if (!q.ok()) return q.status();
  for (v1::Dimension d : dimensions) {
    if (d == v1::DIAGNOSIS && named->empty() && options_.public_cells) {
      return absl::InvalidArgumentError(
          "a breakdown by diagnosis that leaves the region needs the ICD-10 codes of its cells "
          "named (for example --diagnoses C50,C34,E11): cells listed from the data would tell "
          "which diagnoses the region holds");
    }
    if (d == v1::ZYGOSITY && FindGenotypeLeaf(q->criterion) == nullptr) {
      return absl::InvalidArgumentError(
          "a breakdown by zygosity needs a variant() or gene() criterion joined to the rest of "
          "the query by AND");
    }
  }
  return q;
}

absl::StatusOr<Prepared> Engine::CheckFrequency(const v1::Criterion& criterion) const {
  auto q = Prepare(criterion, *catalog_, options_.checks);
  if (!q.ok()) return q.status();
  v1::Criterion cohort;
  if (SplitFrequency(q->criterion, &cohort) == nullptr) return FrequencyShapeError();
  return q;
}

absl::StatusOr<Prepared> Engine::CheckCount(const v1::Criterion& criterion) const {
  return Prepare(criterion, *catalog_, options_.checks);
}

absl::StatusOr<Answer<uint64_t>> Engine::Count(const storage::ReadView& view,
                                               const v1::Criterion& criterion,
                                               v1::Purpose purpose) const {
  auto q = Prepare(criterion, *catalog_, options_.checks);
  if (!q.ok()) return q.status();
  Executor ex(view, *catalog_, options_.work);
  auto bits = ex.Evaluate(q->criterion);
  if (!bits.ok()) return bits.status();
  auto consent = Consented(view, purpose);
  if (!consent.ok()) return consent.status();
  return Answer<uint64_t>{bits->AndCardinality(*consent), std::move(q->warnings),
                          std::move(q->text)};
}

absl::StatusOr<Answer<v1::Breakdown>> Engine::Breakdown(
    const storage::ReadView& view, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
    const std::vector<std::string>& diagnoses) const {
  auto q = CheckBreakdown(criterion, dimensions, diagnoses);
  if (!q.ok()) return q.status();
  auto named = CheckDiagnoses(dimensions, diagnoses);
  if (!named.ok()) return named.status();
  Executor ex(view, *catalog_, options_.work);
  auto result = Matching(ex, view, q->criterion, purpose);
  if (!result.ok()) return result.status();
  v1::Breakdown out;
  std::vector<std::vector<Cell>> dims;
  for (v1::Dimension d : dimensions) {
    out.add_dimensions(d);
    auto cells = DimensionCells(d, ex, view, q->criterion, *named);
    if (!cells.ok()) return cells.status();
    dims.push_back(std::move(*cells));
  }
  // Every step is bounded by the set broken down (or one of its rows), never by the universe:
  // a "rest" cell is the set's members of the universe less its disjoint siblings.
  std::optional<Bitmap> universe;
  auto load_universe = [&]() -> absl::Status {
    if (universe.has_value()) return absl::OkStatus();
    auto all = ex.Universe();
    if (!all.ok()) return all.status();
    universe = std::move(*all);
    return absl::OkStatus();
  };
  auto counts = [&](const std::vector<Cell>& dim,
                    const Bitmap& base) -> absl::StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> n(dim.size(), 0);
    std::optional<size_t> rest;
    uint64_t others = 0;
    for (size_t i = 0; i < dim.size(); ++i) {
      if (dim[i].rest) {
        rest = i;
        continue;
      }
      n[i] = base.AndCardinality(dim[i].members);
      others += n[i];
    }
    if (rest.has_value()) {
      if (absl::Status s = load_universe(); !s.ok()) return s;
      n[*rest] = base.AndCardinality(*universe) - others;
    }
    return n;
  };
  auto rows = [&](const std::vector<Cell>& dim,
                  const Bitmap& base) -> absl::StatusOr<std::vector<Bitmap>> {
    std::vector<Bitmap> r(dim.size());
    std::optional<size_t> rest;
    for (size_t i = 0; i < dim.size(); ++i) {
      if (dim[i].rest) {
        rest = i;
      } else {
        r[i] = base & dim[i].members;
      }
    }
    if (rest.has_value()) {
      if (absl::Status s = load_universe(); !s.ok()) return s;
      Bitmap left = base & *universe;
      for (size_t i = 0; i < dim.size(); ++i) {
        if (i != *rest) left -= r[i];
      }
      r[*rest] = std::move(left);
    }
    return r;
  };
  if (dims.size() == 1) {
    auto n = counts(dims[0], *result);
    if (!n.ok()) return n.status();
    for (size_t i = 0; i < dims[0].size(); ++i) {
      auto* cell = out.add_cells();
      cell->add_labels(dims[0][i].label);
      cell->set_count((*n)[i]);
    }
  } else {
    auto first = rows(dims[0], *result);
    if (!first.ok()) return first.status();
    for (size_t i = 0; i < dims[0].size(); ++i) {
      auto n = counts(dims[1], (*first)[i]);
      if (!n.ok()) return n.status();
      for (size_t j = 0; j < dims[1].size(); ++j) {
        auto* cell = out.add_cells();
        cell->add_labels(dims[0][i].label);
        cell->add_labels(dims[1][j].label);
        cell->set_count((*n)[j]);
      }
    }
  }
  return Answer<v1::Breakdown>{std::move(out), std::move(q->warnings), std::move(q->text)};
}

absl::StatusOr<Answer<AlleleFrequency>> Engine::Frequency(const storage::ReadView& view,
                                                          const v1::Criterion& criterion,
                                                          v1::Purpose purpose) const {
  auto q = Prepare(criterion, *catalog_, options_.checks);
  if (!q.ok()) return q.status();
  // The split into the variant and its cohort is made on the canonical tree.
  v1::Criterion cohort;
  const v1::Criterion* variant = SplitFrequency(q->criterion, &cohort);
  if (variant == nullptr) return FrequencyShapeError();
  Executor ex(view, *catalog_, options_.work);
  Bitmap people;
  if (cohort.has_all_of()) {
    auto bits = ex.Evaluate(cohort.all_of().items_size() == 1 ? cohort.all_of().items(0) : cohort);
    if (!bits.ok()) return bits.status();
    people = std::move(*bits);
  } else {
    auto all = ex.Universe();
    if (!all.ok()) return all.status();
    people = std::move(*all);
  }
  auto consent = Consented(view, purpose);
  if (!consent.ok()) return consent.status();
  people &= *consent;

  auto f = AlleleFrequencyOf(view, variant->variant(), people);
  if (!f.ok()) return f.status();
  return Answer<AlleleFrequency>{*f, std::move(q->warnings), std::move(q->text)};
}

absl::StatusOr<std::vector<Answer<AlleleFrequency>>> Engine::Frequencies(
    const storage::ReadView& view, const std::vector<v1::Criterion>& sites,
    v1::Purpose purpose) const {
  std::vector<Prepared> prepared;
  prepared.reserve(sites.size());
  for (const v1::Criterion& site : sites) {
    auto q = Prepare(site, *catalog_, options_.checks);
    if (!q.ok()) return q.status();
    if (!q->criterion.has_variant()) return FrequencyShapeError();
    prepared.push_back(*std::move(q));
  }
  Executor ex(view, *catalog_, options_.work);
  auto all = ex.Universe();
  if (!all.ok()) return all.status();
  auto consent = Consented(view, purpose);
  if (!consent.ok()) return consent.status();
  Bitmap people = std::move(*all);
  people &= *consent;
  std::vector<Answer<AlleleFrequency>> out;
  out.reserve(prepared.size());
  for (Prepared& q : prepared) {
    auto f = AlleleFrequencyOf(view, q.criterion.variant(), people);
    if (!f.ok()) return f.status();
    out.push_back({*f, std::move(q.warnings), std::move(q.text)});
  }
  return out;
}

absl::StatusOr<AlleleFrequency> Engine::AlleleFrequencyOf(const storage::ReadView& view,
                                                          const v1::VariantCriterion& v,
                                                          const Bitmap& people) const {
  std::string vkey = keys::Variant({v.assembly(), v.chrom(), v.pos(), v.ref(), v.alt()});
  std::string prefix = keys::GenotypePrefix(vkey);
  // The site's genotype bitmaps by kind: het, hom, hemi, in (genotyped), ac+<extra copies>,
  // an<called alleles> for calls that are not diploid.
  std::map<std::string, Bitmap, std::less<>> kinds;
  absl::Status decode_error;
  absl::Status s =
      view.Scan(storage::Family::kBitmaps, prefix, keys::PrefixEnd(prefix),
                [&](std::string_view key, std::string_view value) {
                  auto bits = Bitmap::Deserialize(value);
                  if (!bits.ok()) {
                    decode_error = bits.status();
                    return false;
                  }
                  kinds.emplace(std::string(key.substr(prefix.size())), std::move(*bits));
                  return true;
                });
  if (!s.ok()) return s;
  if (!decode_error.ok()) return decode_error;
  auto kind = [&](std::string_view k) -> const Bitmap& {
    static const Bitmap kNone;
    auto it = kinds.find(k);
    return it == kinds.end() ? kNone : it->second;
  };
  AlleleFrequency f;
  if (options_.bounded_contributions) {
    // Two copies: homozygous, or one copy and more; one copy: the rest of the carriers. Two
    // called alleles for everyone genotyped, one for a haploid call, none for a no-call.
    Bitmap carriers = kind(keys::kHet) | kind(keys::kHemi);
    std::vector<const Bitmap*> extra;
    for (const auto& [k, bits] : kinds) {
      if (k.starts_with("ac+")) extra.push_back(&bits);
    }
    Bitmap two = kind(keys::kHom) | (carriers & Bitmap::Union(extra));
    Bitmap one = carriers - two;
    Bitmap called = kind(keys::kGenotyped) - kind(keys::AlleleNumberKind(0));
    Bitmap haploid = called & kind(keys::AlleleNumberKind(1));
    f.ac = people.AndCardinality(one) + 2 * people.AndCardinality(two);
    f.an = 2 * people.AndCardinality(called) - people.AndCardinality(haploid);
    return f;
  }
  int64_t an = 0;
  int64_t ac = 0;
  for (const auto& [k, bits] : kinds) {
    int64_t n = static_cast<int64_t>(people.AndCardinality(bits));
    uint32_t copies = 0;
    if (k == keys::kHet || k == keys::kHemi) {
      ac += n;
    } else if (k == keys::kHom) {
      ac += 2 * n;
    } else if (k.starts_with("ac+") && ParseUint32(std::string_view(k).substr(3), &copies)) {
      ac += static_cast<int64_t>(copies) * n;
    } else if (k == keys::kGenotyped) {
      an += 2 * n;
    } else if (k.starts_with("an") && ParseUint32(std::string_view(k).substr(2), &copies)) {
      an += (static_cast<int64_t>(copies) - 2) * n;
    }
  }
  f.ac = static_cast<uint64_t>(ac);
  f.an = static_cast<uint64_t>(std::max<int64_t>(an, 0));
  return f;
}

absl::StatusOr<v1::Dimension> ParseDimension(std::string_view name) {
  std::string n = ToLower(name);
  if (n == "sex") return v1::SEX;
  if (n == "age_band" || n == "age") return v1::AGE_BAND;
  if (n == "diagnosis" || n == "dx") return v1::DIAGNOSIS;
  if (n == "zygosity") return v1::ZYGOSITY;
  return absl::InvalidArgumentError(StrCat("unknown breakdown dimension '", name,
                                           "' (expected sex, age_band, diagnosis or zygosity)"));
}

absl::StatusOr<std::vector<v1::Dimension>> CheckDimensions(
    const std::vector<v1::Dimension>& dimensions) {
  if (dimensions.empty() || dimensions.size() > 2) {
    return absl::InvalidArgumentError("a breakdown has one or two dimensions");
  }
  for (v1::Dimension d : dimensions) {
    if (d != v1::SEX && d != v1::AGE_BAND && d != v1::DIAGNOSIS && d != v1::ZYGOSITY) {
      return absl::InvalidArgumentError(
          StrCat("unknown breakdown dimension ", static_cast<int>(d)));
    }
  }
  if (dimensions.size() == 2 && dimensions[0] == dimensions[1]) {
    return absl::InvalidArgumentError("the two breakdown dimensions must differ");
  }
  return dimensions;
}

absl::StatusOr<std::vector<v1::Dimension>> CheckDimensions(
    const google::protobuf::RepeatedField<int>& dimensions) {
  std::vector<v1::Dimension> out;
  for (int d : dimensions) out.push_back(static_cast<v1::Dimension>(d));
  return CheckDimensions(out);
}

absl::StatusOr<std::vector<std::string>> CheckDiagnoses(
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses) {
  if (diagnoses.empty()) return diagnoses;
  if (std::find(dimensions.begin(), dimensions.end(), v1::DIAGNOSIS) == dimensions.end()) {
    return absl::InvalidArgumentError(
        "diagnosis codes of cells are named without a breakdown "
        "by diagnosis");
  }
  if (diagnoses.size() > kMaxDiagnosisCells) {
    return absl::InvalidArgumentError(
        StrCat("a breakdown by diagnosis has at most ", kMaxDiagnosisCells, " named codes"));
  }
  std::vector<std::string> out;
  for (const std::string& d : diagnoses) {
    auto code = vocab::NormalizeIcd10(d);
    if (!code.ok()) return code.status();
    if (std::find(out.begin(), out.end(), *code) == out.end()) out.push_back(*code);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> CheckDiagnoses(
    const std::vector<v1::Dimension>& dimensions,
    const google::protobuf::RepeatedPtrField<std::string>& diagnoses) {
  return CheckDiagnoses(dimensions, std::vector<std::string>(diagnoses.begin(), diagnoses.end()));
}

uint32_t CellsPerPerson(const std::vector<v1::Dimension>& dimensions,
                        const std::vector<std::string>& diagnoses) {
  if (std::find(dimensions.begin(), dimensions.end(), v1::DIAGNOSIS) == dimensions.end()) {
    return 1;
  }
  return static_cast<uint32_t>(std::max<size_t>(diagnoses.size(), 1));
}

absl::StatusOr<std::vector<v1::Dimension>> ParseDimensions(std::string_view list) {
  std::vector<v1::Dimension> out;
  for (std::string_view name : Split(list, ',')) {
    auto d = ParseDimension(Trim(name));
    if (!d.ok()) return d.status();
    out.push_back(*d);
  }
  return CheckDimensions(out);
}

std::string FormatDimensions(const std::vector<v1::Dimension>& dimensions) {
  std::string out;
  for (v1::Dimension d : dimensions) StrAppend(&out, out.empty() ? "" : ",", DimensionName(d));
  return out;
}

std::string DimensionName(v1::Dimension d) {
  switch (d) {
    case v1::SEX:
      return "sex";
    case v1::AGE_BAND:
      return "age_band";
    case v1::DIAGNOSIS:
      return "diagnosis";
    case v1::ZYGOSITY:
      return "zygosity";
    default:
      return "unspecified";
  }
}

std::string PurposeName(v1::Purpose p) { return p == v1::CARE ? "care" : "research"; }

}  // namespace pmdb::query
