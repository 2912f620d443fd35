#include "query/parser.h"

#include <cctype>
#include <vector>

#include "node/base/strings.h"
#include "node/vocab/codes.h"
#include "query/limits.h"

namespace pmdb::query {

bool IsChromName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsAllele(std::string_view s) {
  if (s == "*") return true;
  if (s.size() > 2 && s.front() == '<' && s.back() == '>') {
    return s.substr(1, s.size() - 2).find_first_of(" \t(),:<>") == std::string_view::npos;
  }
  if (s.empty()) return false;
  for (char c : s) {
    if (std::string_view("ACGTNacgtn").find(c) == std::string_view::npos) return false;
  }
  return true;
}

namespace {

struct Token {
  enum Kind { kName, kLParen, kRParen, kEnd } kind;
  std::string text;
  size_t column;  // 1-based
};

absl::Status ErrorAt(size_t column, std::string_view message) {
  return absl::InvalidArgumentError(StrCat("column ", column, ": ", message));
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<v1::Criterion> Parse() {
    auto result = ParseOr();
    if (!result.ok()) return result;
    Token t = Peek();
    if (t.kind != Token::kEnd) {
      return ErrorAt(t.column, StrCat("expected AND, OR or the end of the query, found '",
                                      t.kind == Token::kRParen ? ")" : t.text, "'"));
    }
    return result;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  Token Peek() {
    size_t saved = pos_;
    Token t = Next();
    pos_ = saved;
    return t;
  }

  Token Next() {
    SkipSpace();
    size_t column = pos_ + 1;
    if (pos_ >= text_.size()) return {Token::kEnd, "", column};
    char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      return {Token::kLParen, "(", column};
    }
    if (c == ')') {
      ++pos_;
      return {Token::kRParen, ")", column};
    }
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
           text_[pos_] != '(' && text_[pos_] != ')') {
      ++pos_;
    }
    return {Token::kName, std::string(text_.substr(start, pos_ - start)), column};
  }

  static bool IsKeyword(const Token& t, std::string_view kw) {
    return t.kind == Token::kName && ToUpper(t.text) == kw;
  }

  absl::StatusOr<v1::Criterion> ParseOr() {
    auto first = ParseAnd();
    if (!first.ok()) return first;
    if (!IsKeyword(Peek(), "OR")) return first;
    v1::Criterion out;
    *out.mutable_any_of()->add_items() = std::move(*first);
    while (IsKeyword(Peek(), "OR")) {
      Next();
      auto next = ParseAnd();
      if (!next.ok()) return next;
      *out.mutable_any_of()->add_items() = std::move(*next);
    }
    return out;
  }

  absl::StatusOr<v1::Criterion> ParseAnd() {
    auto first = ParseUnary();
    if (!first.ok()) return first;
    if (!IsKeyword(Peek(), "AND")) return first;
    v1::Criterion out;
    *out.mutable_all_of()->add_items() = std::move(*first);
    while (IsKeyword(Peek(), "AND")) {
      Next();
      auto next = ParseUnary();
      if (!next.ok()) return next;
      *out.mutable_all_of()->add_items() = std::move(*next);
    }
    return out;
  }

  // One more level of nesting (a NOT or a parenthesis), refused past kMaxDepth so that no
  // question can exhaust the stack.
  absl::Status Deeper(size_t column) {
    if (++depth_ > limits_.max_depth) {
      return ErrorAt(
          column, StrCat("a question nests at most ", limits_.max_depth, " parentheses and NOTs"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Criterion> ParseUnary() {
    if (IsKeyword(Peek(), "NOT")) {
      Token not_token = Next();
      if (auto s = Deeper(not_token.column); !s.ok()) return s;
      auto inner = ParseUnary();
      --depth_;
      if (!inner.ok()) return inner;
      v1::Criterion out;
      *out.mutable_negation() = std::move(*inner);
      return out;
    }
    return ParsePrimary();
  }

  absl::StatusOr<v1::Criterion> ParsePrimary() {
    Token t = Next();
    if (t.kind == Token::kLParen) {
      if (auto s = Deeper(t.column); !s.ok()) return s;
      auto inner = ParseOr();
      --depth_;
      if (!inner.ok()) return inner;
      Token close = Next();
      if (close.kind != Token::kRParen) {
        return ErrorAt(close.column, StrCat("expected ')' to close the '(' at column ", t.column));
      }
      return inner;
    }
    if (t.kind == Token::kEnd) return ErrorAt(t.column, "expected a criterion, found the end");
    if (t.kind == Token::kRParen) return ErrorAt(t.column, "expected a criterion, found ')'");
    if (IsKeyword(t, "AND") || IsKeyword(t, "OR")) {
      return ErrorAt(t.column, StrCat("expected a criterion before ", ToUpper(t.text)));
    }
    // A function call: name '(' raw arguments ')'.
    if (++criteria_ > limits_.max_criteria) {
      return ErrorAt(t.column,
                     StrCat("a question has at most ", limits_.max_criteria, " criteria"));
    }
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '(') {
      return ErrorAt(t.column, StrCat("unknown word '", t.text,
                                      "'; expected a criterion such as gene(BRCA1) or dx(C34)"));
    }
    size_t open_column = pos_ + 1;
    ++pos_;
    size_t close = text_.find(')', pos_);
    if (close == std::string_view::npos) {
      return ErrorAt(open_column, StrCat("'(' of ", t.text, " is never closed"));
    }
    std::string_view raw = text_.substr(pos_, close - pos_);
    size_t args_column = pos_ + 1;
    pos_ = close + 1;
    std::vector<std::string_view> args;
    for (std::string_view a : Split(raw, ',')) args.push_back(Trim(a));
    return MakeLeaf(ToLower(t.text), t.column, args, args_column);
  }

  absl::StatusOr<v1::Zygosity> ParseZygosity(std::string_view s, size_t column) {
    std::string z = ToLower(s);
    if (z == "het" || z == "heterozygous") return v1::HETEROZYGOUS;
    if (z == "hom" || z == "homozygous") return v1::HOMOZYGOUS;
    if (z == "hemi" || z == "hemizygous") return v1::HEMIZYGOUS;
    if (z == "any") return v1::ANY_ZYGOSITY;
    return ErrorAt(column, StrCat("unknown zygosity '", s, "' (expected het, hom or hemi)"));
  }

  absl::StatusOr<v1::Criterion> MakeLeaf(const std::string& name, size_t column,
                                         const std::vector<std::string_view>& args,
                                         size_t args_column) {
    v1::Criterion c;
    auto want_args = [&](size_t min, size_t max, std::string_view usage) -> absl::Status {
      if (args.size() < min || args.size() > max || args[0].empty()) {
        return ErrorAt(column, StrCat(name, "() takes ", usage));
      }
      return absl::OkStatus();
    };
    auto wrap = [&](absl::Status s) -> absl::Status {
      if (s.ok()) return s;
      return ErrorAt(args_column, std::string(s.message()));
    };
    if (name == "variant") {
      if (auto s = want_args(1, 2, "ASSEMBLY:CHROM:POS:REF:ALT[,zygosity]"); !s.ok()) return s;
      std::vector<std::string_view> f = Split(args[0], ':');
      for (std::string_view& field : f) field = Trim(field);
      uint32_t pos = 0;
      if (f.size() != 5 || !ParseUint32(f[2], &pos) || pos == 0 || !IsChromName(f[1]) ||
          !IsAllele(f[3]) || !IsAllele(f[4])) {
        return ErrorAt(args_column,
                       "expected ASSEMBLY:CHROM:POS:REF:ALT with alleles of A, C, G, T and N "
                       "(or a symbolic <ALT> or *), e.g. GRCh38:7:55191822:T:G");
      }
      auto assembly = vocab::NormalizeAssembly(f[0]);
      if (!assembly.ok()) return wrap(assembly.status());
      vocab::Allele a = vocab::TrimAlleles(pos, f[3], f[4]);
      auto* v = c.mutable_variant();
      v->set_assembly(*assembly);
      v->set_chrom(vocab::NormalizeChrom(f[1]));
      v->set_pos(a.pos);
      v->set_ref(a.ref);
      v->set_alt(a.alt);
      if (args.size() == 2) {
        auto z = ParseZygosity(args[1], args_column);
        if (!z.ok()) return z.status();
        v->set_zygosity(*z);
      }
    } else if (name == "range") {
      if (auto s = want_args(1, 1, "ASSEMBLY:CHROM:START-END"); !s.ok()) return s;
      std::vector<std::string_view> f = Split(args[0], ':');
      std::vector<std::string_view> se = f.size() == 3 ? Split(f[2], '-') : f;
      uint32_t start = 0, end = 0;
      if (f.size() != 3 || se.size() != 2 || !ParseUint32(se[0], &start) ||
          !ParseUint32(se[1], &end) || start == 0 || end < start) {
        return ErrorAt(args_column,
                       "expected ASSEMBLY:CHROM:START-END with START <= END, e.g. "
                       "GRCh38:17:43044295-43125483");
      }
      auto assembly = vocab::NormalizeAssembly(f[0]);
      if (!assembly.ok()) return wrap(assembly.status());
      auto* r = c.mutable_range();
      r->set_assembly(*assembly);
      r->set_chrom(vocab::NormalizeChrom(f[1]));
      r->set_start(start);
      r->set_end(end);
    } else if (name == "gene") {
      if (auto s = want_args(1, 2, "SYMBOL[,zygosity]"); !s.ok()) return s;
      c.mutable_gene()->set_symbol(ToUpper(args[0]));
      if (args.size() == 2) {
        auto z = ParseZygosity(args[1], args_column);
        if (!z.ok()) return z.status();
        c.mutable_gene()->set_zygosity(*z);
      }
    } else if (name == "hpo") {
      if (auto s = want_args(1, 1, "one HPO id, e.g. hpo(HP:0002090)"); !s.ok()) return s;
      auto id = vocab::NormalizeHpo(args[0]);
      if (!id.ok()) return wrap(id.status());
      c.set_hpo(*id);
    } else if (name == "dx") {
      if (auto s = want_args(1, 1, "one ICD-10 code, e.g. dx(C34)"); !s.ok()) return s;
      auto code = vocab::NormalizeIcd10(args[0]);
      if (!code.ok()) return wrap(code.status());
      c.set_diagnosis(*code);
    } else if (name == "treatment") {
      if (auto s = want_args(1, 1, "one ATC code, e.g. treatment(L01EB)"); !s.ok()) return s;
      auto code = vocab::NormalizeAtc(args[0]);
      if (!code.ok()) return wrap(code.status());
      c.set_treatment(*code);
    } else if (name == "sex") {
      if (auto s = want_args(1, 1, "F, M, O (other) or U (unknown)"); !s.ok()) return s;
      std::string v = ToUpper(args[0]);
      if (v == "F" || v == "FEMALE") {
        c.set_sex(v1::FEMALE);
      } else if (v == "M" || v == "MALE") {
        c.set_sex(v1::MALE);
      } else if (v == "O" || v == "OTHER") {
        c.set_sex(v1::OTHER_SEX);
      } else if (v == "U" || v == "UNKNOWN") {
        c.set_sex(v1::UNKNOWN_SEX);
      } else {
        return ErrorAt(args_column, StrCat("unknown sex '", args[0], "' (expected F, M, O or U)"));
      }
    } else if (name == "age") {
      if (auto s = want_args(1, 1, "MIN-MAX, MIN- or an age in years"); !s.ok()) return s;
      std::vector<std::string_view> mm = Split(args[0], '-');
      uint32_t lo = 0, hi = 0;
      auto* a = c.mutable_age();
      if (mm.size() == 1 && ParseUint32(mm[0], &lo) && lo <= vocab::kMaxAge) {
        a->set_min(lo);
        a->set_max(lo);
      } else if (mm.size() == 2 && ParseUint32(mm[0], &lo) && mm[1].empty() &&
                 lo <= vocab::kMaxAge) {
        a->set_min(lo);
      } else if (mm.size() == 2 && ParseUint32(mm[0], &lo) && ParseUint32(mm[1], &hi) && lo <= hi &&
                 hi <= vocab::kMaxAge) {
        a->set_min(lo);
        a->set_max(hi);
      } else {
        return ErrorAt(args_column,
                       StrCat("expected an age range in years such as 60-69, 60- or 65 (at most ",
                              vocab::kMaxAge, ")"));
      }
    } else if (name == "dataset") {
      if (auto s = want_args(1, 1, "one dataset id"); !s.ok()) return s;
      c.set_dataset(std::string(args[0]));
    } else {
      return ErrorAt(column, StrCat("unknown criterion '", name,
                                    "'; expected variant, range, gene, hpo, dx, treatment, sex, "
                                    "age or dataset"));
    }
    return c;
  }

  std::string_view text_;
  size_t pos_ = 0;
  const QueryLimits limits_ = Limits();
  int depth_ = 0;
  size_t criteria_ = 0;
};

void FormatInto(const v1::Criterion& c, std::string* out, int parent_precedence);

// Precedence: OR 1, AND 2, NOT and leaves 3.
int Precedence(const v1::Criterion& c) {
  switch (c.kind_case()) {
    case v1::Criterion::kAnyOf:
      return 1;
    case v1::Criterion::kAllOf:
      return 2;
    default:
      return 3;
  }
}

void FormatList(const v1::CriterionList& list, std::string_view op, int precedence,
                std::string* out) {
  for (int i = 0; i < list.items_size(); ++i) {
    if (i > 0) StrAppend(out, " ", op, " ");
    FormatInto(list.items(i), out, precedence);
  }
}

void FormatInto(const v1::Criterion& c, std::string* out, int parent_precedence) {
  bool parens = Precedence(c) < parent_precedence ||
                (Precedence(c) == parent_precedence && Precedence(c) < 3);
  if (parens) out->push_back('(');
  auto zyg = [](v1::Zygosity z) {
    return z == v1::ANY_ZYGOSITY ? std::string() : StrCat(",", vocab::ZygosityName(z));
  };
  switch (c.kind_case()) {
    case v1::Criterion::kAllOf:
      FormatList(c.all_of(), "AND", 2, out);
      break;
    case v1::Criterion::kAnyOf:
      FormatList(c.any_of(), "OR", 1, out);
      break;
    case v1::Criterion::kNegation:
      out->append("NOT ");
      FormatInto(c.negation(), out, 3);
      break;
    case v1::Criterion::kVariant: {
      const auto& v = c.variant();
      StrAppend(out, "variant(", v.assembly(), ":", v.chrom(), ":", v.pos(), ":", v.ref(), ":",
                v.alt(), zyg(v.zygosity()), ")");
      break;
    }
    case v1::Criterion::kRange: {
      const auto& r = c.range();
      StrAppend(out, "range(", r.assembly(), ":", r.chrom(), ":", r.start(), "-", r.end(), ")");
      break;
    }
    case v1::Criterion::kGene:
      StrAppend(out, "gene(", c.gene().symbol(), zyg(c.gene().zygosity()), ")");
      break;
    case v1::Criterion::kHpo:
      StrAppend(out, "hpo(", c.hpo(), ")");
      break;
    case v1::Criterion::kDiagnosis:
      StrAppend(out, "dx(", c.diagnosis(), ")");
      break;
    case v1::Criterion::kTreatment:
      StrAppend(out, "treatment(", c.treatment(), ")");
      break;
    case v1::Criterion::kSex:
      StrAppend(out, "sex(", vocab::SexCode(c.sex()), ")");
      break;
    case v1::Criterion::kAge: {
      const auto& a = c.age();
      if (!a.has_max()) {
        StrAppend(out, "age(", a.min(), "-)");
      } else if (a.max() == a.min()) {
        StrAppend(out, "age(", a.min(), ")");
      } else {
        StrAppend(out, "age(", a.min(), "-", a.max(), ")");
      }
      break;
    }
    case v1::Criterion::kDataset:
      StrAppend(out, "dataset(", c.dataset(), ")");
      break;
    case v1::Criterion::KIND_NOT_SET:
      out->append("<empty>");
      break;
  }
  if (parens) out->push_back(')');
}

}  // namespace

absl::StatusOr<v1::Criterion> ParseCriterion(std::string_view text) {
  const size_t max_bytes = Limits().max_bytes;
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        StrCat("a question is at most ", max_bytes, " bytes long; this one has ", text.size()));
  }
  return Parser(text).Parse();
}

std::string FormatCriterion(const v1::Criterion& criterion) {
  std::string out;
  FormatInto(criterion, &out, 0);
  return out;
}

std::string FormatParseError(std::string_view text, const absl::Status& status) {
  std::string message(status.message());
  size_t column = 0;
  if (message.starts_with("column ")) {
    size_t colon = message.find(':');
    uint32_t c = 0;
    if (colon != std::string::npos &&
        ParseUint32(std::string_view(message).substr(7, colon - 7), &c)) {
      column = c;
    }
  }
  if (column == 0) return message;
  return StrCat(message, "\n  ", text, "\n  ", std::string(column - 1, ' '), "^");
}

namespace {

const char* LeafKind(v1::Criterion::KindCase k) {
  switch (k) {
    case v1::Criterion::kVariant:
      return "variant";
    case v1::Criterion::kRange:
      return "range";
    case v1::Criterion::kGene:
      return "gene";
    case v1::Criterion::kHpo:
      return "hpo";
    case v1::Criterion::kDiagnosis:
      return "dx";
    case v1::Criterion::kTreatment:
      return "treatment";
    case v1::Criterion::kSex:
      return "sex";
    case v1::Criterion::kAge:
      return "age";
    case v1::Criterion::kDataset:
      return "dataset";
    default:
      return "";
  }
}

void CollectLeaves(const v1::Criterion& c, std::vector<Leaf>* out) {
  switch (c.kind_case()) {
    case v1::Criterion::kAllOf:
      for (const v1::Criterion& item : c.all_of().items()) CollectLeaves(item, out);
      return;
    case v1::Criterion::kAnyOf:
      for (const v1::Criterion& item : c.any_of().items()) CollectLeaves(item, out);
      return;
    case v1::Criterion::kNegation:
      CollectLeaves(c.negation(), out);
      return;
    case v1::Criterion::KIND_NOT_SET:
      return;
    default:
      out->push_back(Leaf{LeafKind(c.kind_case()), FormatCriterion(c)});
  }
}

}  // namespace

std::vector<Leaf> Leaves(const v1::Criterion& criterion) {
  std::vector<Leaf> out;
  CollectLeaves(criterion, &out);
  return out;
}

const std::vector<std::string>& LeafKinds() {
  static const std::vector<std::string> kinds = {"variant",   "range", "gene", "hpo",    "dx",
                                                 "treatment", "sex",   "age",  "dataset"};
  return kinds;
}

}  // namespace pmdb::query
