#include "query/prepare.h"

#include <algorithm>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/vocab/codes.h"
#include "query/canonical.h"
#include "query/limits.h"
#include "query/parser.h"

namespace pmdb::query {
namespace {

class Resolver {
 public:
  Resolver(const vocab::Catalog& catalog, Checks checks) : catalog_(catalog), checks_(checks) {}

  // The criterion with every leaf checked and normalized; "matches nobody" leaves become an OR
  // of nothing.
  // REQUIRES: `c` passed CheckLimits.
  absl::StatusOr<v1::Criterion> Resolve(const v1::Criterion& c) {
    v1::Criterion out;
    switch (c.kind_case()) {
      case v1::Criterion::kAllOf:
      case v1::Criterion::kAnyOf: {
        const bool is_and = c.has_all_of();
        const v1::CriterionList& in = is_and ? c.all_of() : c.any_of();
        if (in.items_size() == 0) {
          return absl::InvalidArgumentError(is_and ? "AND of nothing" : "OR of nothing");
        }
        v1::CriterionList* list = is_and ? out.mutable_all_of() : out.mutable_any_of();
        for (const v1::Criterion& item : in.items()) {
          auto r = Resolve(item);
          if (!r.ok()) return r.status();
          *list->add_items() = std::move(*r);
        }
        return out;
      }
      case v1::Criterion::kNegation: {
        auto r = Resolve(c.negation());
        if (!r.ok()) return r.status();
        *out.mutable_negation() = std::move(*r);
        return out;
      }
      case v1::Criterion::kVariant: {
        v1::VariantCriterion v = c.variant();
        auto assembly = vocab::NormalizeAssembly(v.assembly());
        if (!assembly.ok()) return assembly.status();
        if (v.pos() == 0 || v.ref().empty() || v.alt().empty()) {
          return absl::InvalidArgumentError(
              "a variant() needs a position and both alleles, e.g. GRCh38:7:55191822:T:G");
        }
        vocab::Allele a = vocab::TrimAlleles(v.pos(), v.ref(), v.alt());
        v.set_assembly(*assembly);
        v.set_chrom(vocab::NormalizeChrom(v.chrom()));
        v.set_pos(a.pos);
        v.set_ref(a.ref);
        v.set_alt(a.alt);
        CheckAssembly(v.assembly());
        *out.mutable_variant() = std::move(v);
        return out;
      }
      case v1::Criterion::kRange: {
        v1::RangeCriterion r = c.range();
        auto assembly = vocab::NormalizeAssembly(r.assembly());
        if (!assembly.ok()) return assembly.status();
        if (r.start() == 0 || r.end() < r.start()) {
          return absl::InvalidArgumentError("a range() needs 0 < START <= END");
        }
        r.set_assembly(*assembly);
        r.set_chrom(vocab::NormalizeChrom(r.chrom()));
        CheckAssembly(r.assembly());
        *out.mutable_range() = std::move(r);
        return out;
      }
      case v1::Criterion::kGene: {
        v1::GeneCriterion g = c.gene();
        g.set_symbol(ToUpper(Trim(g.symbol())));
        if (checks_ == Checks::kBeforeReading) {
          absl::Status s = CheckGene(g.symbol());
          if (!s.ok()) return s;
        }
        *out.mutable_gene() = std::move(g);
        return out;
      }
      case v1::Criterion::kHpo:
        return ResolveHpo(c.hpo());
      case v1::Criterion::kDiagnosis: {
        auto code = vocab::NormalizeIcd10(c.diagnosis());
        if (!code.ok()) return code.status();
        // A code the region's ICD-10 list does not hold (nor any code under it) is answered as
        // written, with a warning, as an HPO id the ontology does not know is. The list is
        // reference data, the same whatever the store holds.
        if (const vocab::CodeList* list = catalog_.icd10();
            list != nullptr && !list->Covers(*code)) {
          Warn(StrCat("diagnosis(", *code, "): not in the region's ICD-10 code list (",
                      list->source(), ")"));
        }
        out.set_diagnosis(*code);
        return out;
      }
      case v1::Criterion::kTreatment: {
        auto code = vocab::NormalizeAtc(c.treatment());
        if (!code.ok()) return code.status();
        out.set_treatment(*code);
        // The ATC's fourteen anatomical main groups; any other first letter is a typo or a code
        // from another system (a warning, as for an HPO id the ontology does not know).
        if (std::string_view("ABCDGHJLMNPRSV").find((*code)[0]) == std::string_view::npos) {
          Warn(StrCat("treatment(", *code, "): ", code->substr(0, 1),
                      " is not an ATC anatomical main group (A B C D G H J L M N P R S V)"));
        }
        return out;
      }
      case v1::Criterion::kSex:
        if (!v1::Sex_IsValid(c.sex())) return absl::InvalidArgumentError("unknown sex");
        return c;
      case v1::Criterion::kAge:
        if (c.age().min() > vocab::kMaxAge || c.age().max() > vocab::kMaxAge) {
          return absl::InvalidArgumentError(StrCat("an age is at most ", vocab::kMaxAge));
        }
        return c;
      case v1::Criterion::kDataset:
        if (!catalog_.datasets().contains(c.dataset())) {
          Warn(StrCat("no dataset '", c.dataset(), "' in this store"));
        }
        return c;
      case v1::Criterion::KIND_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError("empty criterion");
  }

  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }

 private:
  void Warn(std::string message) {
    if (std::find(warnings_.begin(), warnings_.end(), message) == warnings_.end()) {
      warnings_.push_back(std::move(message));
    }
  }

  void CheckAssembly(const std::string& assembly) {
    std::vector<std::string> held = catalog_.assemblies();
    if (std::find(held.begin(), held.end(), assembly) == held.end()) {
      Warn(StrCat("no dataset in this store uses ", assembly));
    }
  }

  absl::Status CheckGene(const std::string& symbol) {
    bool any_table = false;
    bool known = false;
    for (const std::string& assembly : catalog_.assemblies()) {
      const vocab::GeneTable* table = catalog_.gene_table(assembly);
      if (table == nullptr) {
        Warn(StrCat("gene(", symbol, ") did not search the ", assembly,
                    " datasets: the store has no ", assembly, " gene table"));
        continue;
      }
      any_table = true;
      known = known || !table->Find(symbol).empty();
    }
    if (!any_table) {
      std::string assemblies;
      for (const std::string& a : catalog_.assemblies()) StrAppend(&assemblies, " ", a);
      return absl::FailedPreconditionError(
          StrCat("gene(", symbol, ") needs a gene table for the store's assemblies (",
                 Trim(assemblies), "); give one with --genes ASSEMBLY=PATH"));
    }
    if (!known) {
      return absl::InvalidArgumentError(
          StrCat("gene symbol ", symbol, " is not in the store's gene tables"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Criterion> ResolveHpo(const std::string& written) {
    auto id = vocab::NormalizeHpo(written);
    if (!id.ok()) return id.status();
    v1::Criterion out;
    out.set_hpo(*id);
    const vocab::Ontology* o = catalog_.ontology();
    if (o == nullptr) return out;
    vocab::Ontology::Resolution r = o->Resolve(*id);
    switch (r.match) {
      case vocab::Ontology::Match::kExact:
        break;
      case vocab::Ontology::Match::kAltId:
      case vocab::Ontology::Match::kReplaced:
        out.set_hpo(o->term(*r.term).id);
        Warn(StrCat(*id,
                    r.match == vocab::Ontology::Match::kAltId ? " is an alternative id of "
                                                              : " is obsolete, replaced by ",
                    out.hpo()));
        break;
      case vocab::Ontology::Match::kObsolete:
        Warn(StrCat(*id, " is obsolete with no replacement; it matches nobody"));
        out.mutable_any_of();
        break;
      case vocab::Ontology::Match::kUnknown:
        Warn(StrCat(*id, " is not in the ontology (", o->version(), "); it matches nobody"));
        out.mutable_any_of();
        break;
    }
    return out;
  }

  const vocab::Catalog& catalog_;
  const Checks checks_;
  std::vector<std::string> warnings_;
};

// Bytes a leaf adds to the question's text (its strings; other leaves are small and bounded).
size_t LeafBytes(const v1::Criterion& c) {
  switch (c.kind_case()) {
    case v1::Criterion::kHpo:
      return c.hpo().size();
    case v1::Criterion::kDiagnosis:
      return c.diagnosis().size();
    case v1::Criterion::kTreatment:
      return c.treatment().size();
    case v1::Criterion::kDataset:
      return c.dataset().size();
    case v1::Criterion::kGene:
      return c.gene().symbol().size();
    case v1::Criterion::kVariant:
      return c.variant().chrom().size() + c.variant().ref().size() + c.variant().alt().size() +
             c.variant().assembly().size() + 12;
    case v1::Criterion::kRange:
      return c.range().chrom().size() + c.range().assembly().size() + 24;
    default:
      return 8;
  }
}

// A token of the language inside a leaf's parentheses: printable ASCII without spaces,
// parentheses or commas (and, inside variant() and range(), colons).
bool IsToken(std::string_view s, bool colons) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~' || c == '(' || c == ')' || c == ',' || (!colons && c == ':')) {
      return false;
    }
  }
  return true;
}

// A leaf whose text prints back to it alone. A question arriving as a tree (gRPC, Beacon) could
// otherwise carry a leaf such as variant(chrom "1:100:A:T) OR variant(GRCh38:99") whose
// printed, canonical form is that of another question: two questions would share one noise
// draw, and the audit log would record one for the other.
bool WellFormedLeaf(const v1::Criterion& c, std::string* why) {
  auto bad = [why](std::string_view kind) {
    *why = StrCat("a ", kind, "() criterion is not well-formed");
    return false;
  };
  switch (c.kind_case()) {
    case v1::Criterion::kVariant: {
      const v1::VariantCriterion& v = c.variant();
      if (!IsToken(v.assembly(), false) || !IsChromName(v.chrom()) || !IsAllele(v.ref()) ||
          !IsAllele(v.alt())) {
        return bad("variant");
      }
      return true;
    }
    case v1::Criterion::kRange:
      if (!IsToken(c.range().assembly(), false) || !IsChromName(c.range().chrom())) {
        return bad("range");
      }
      return true;
    case v1::Criterion::kGene:
      return IsToken(c.gene().symbol(), false) || bad("gene");
    case v1::Criterion::kHpo:
      return IsToken(c.hpo(), true) || bad("hpo");
    case v1::Criterion::kDiagnosis:
      return IsToken(c.diagnosis(), true) || bad("dx");
    case v1::Criterion::kTreatment:
      return IsToken(c.treatment(), true) || bad("treatment");
    case v1::Criterion::kDataset:
      return IsToken(c.dataset(), false) || bad("dataset");
    default:
      return true;
  }
}

struct Tally {
  size_t criteria = 0;
  size_t bytes = 0;
};

// Counts leaves, their text and depth; stops early once a limit is passed.
bool WithinLimits(const v1::Criterion& c, int depth, const QueryLimits& limits, Tally* tally,
                  std::string* why) {
  if (depth > limits.max_depth) {
    *why = StrCat("a question nests at most ", limits.max_depth, " parentheses and NOTs");
    return false;
  }
  if (c.has_all_of() || c.has_any_of()) {
    for (const v1::Criterion& item : c.has_all_of() ? c.all_of().items() : c.any_of().items()) {
      if (!WithinLimits(item, depth + 1, limits, tally, why)) return false;
    }
    return true;
  }
  if (c.has_negation()) return WithinLimits(c.negation(), depth + 1, limits, tally, why);
  if (!WellFormedLeaf(c, why)) return false;
  if (++tally->criteria > limits.max_criteria) {
    *why = StrCat("a question has at most ", limits.max_criteria, " criteria");
    return false;
  }
  tally->bytes += LeafBytes(c);
  if (tally->bytes > limits.max_bytes) {
    *why = StrCat("a question is at most ", limits.max_bytes, " bytes long");
    return false;
  }
  return true;
}

}  // namespace

absl::Status CheckLimits(const v1::Criterion& question) {
  Tally tally;
  std::string why;
  if (!WithinLimits(question, 0, Limits(), &tally, &why)) return absl::InvalidArgumentError(why);
  return absl::OkStatus();
}

absl::StatusOr<Prepared> Prepare(const v1::Criterion& question, const vocab::Catalog& catalog,
                                 Checks checks) {
  absl::Status limited = CheckLimits(question);
  if (!limited.ok()) return limited;
  Resolver resolver(catalog, checks);
  auto resolved = resolver.Resolve(question);
  if (!resolved.ok()) return resolved.status();
  Prepared p;
  p.criterion = CanonicalCriterion(*resolved);
  p.text = CanonicalText(p.criterion);
  p.warnings = resolver.TakeWarnings();
  return p;
}

}  // namespace pmdb::query
