#include "node/vocab/ontology.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "node/base/strings.h"

namespace pmdb::vocab {
namespace {

// "HP:0000001 ! All" -> "HP:0000001".
std::string_view FirstWord(std::string_view v) {
  v = Trim(v);
  size_t end = v.find_first_of(" \t!{");
  return end == std::string_view::npos ? v : v.substr(0, end);
}

}  // namespace

absl::StatusOr<Ontology> Ontology::LoadObo(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ontology file ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseObo(buf.str(), path);
}

absl::StatusOr<Ontology> Ontology::ParseObo(std::string_view text, std::string_view source) {
  Ontology o;
  struct Pending {
    std::vector<std::string> parents;
    std::vector<std::string> alt_ids;
  };
  std::vector<Pending> pending;
  enum class Stanza { kHeader, kTerm, kOther } stanza = Stanza::kHeader;
  size_t line_no = 0;
  bool saw_format = false;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    line = Trim(line);
    if (line.empty() || line.front() == '!') continue;
    if (line.front() == '[') {
      if (line == "[Term]") {
        stanza = Stanza::kTerm;
        o.terms_.emplace_back();
        pending.emplace_back();
      } else {
        stanza = Stanza::kOther;  // [Typedef], [Instance]: not part of the term DAG
      }
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat(source, ":", line_no, ": expected 'tag: value' in an OBO file"));
    }
    std::string_view tag = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (stanza == Stanza::kHeader) {
      if (tag == "format-version") saw_format = true;
      if (tag == "data-version") o.version_ = std::string(value);
      continue;
    }
    if (stanza != Stanza::kTerm) continue;
    Term& t = o.terms_.back();
    if (tag == "id") {
      t.id = std::string(FirstWord(value));
    } else if (tag == "name") {
      t.name = std::string(value);
    } else if (tag == "is_a") {
      pending.back().parents.emplace_back(FirstWord(value));
    } else if (tag == "alt_id") {
      pending.back().alt_ids.emplace_back(FirstWord(value));
    } else if (tag == "is_obsolete") {
      t.obsolete = value == "true";
    } else if (tag == "replaced_by") {
      t.replaced_by.emplace_back(FirstWord(value));
    } else if (tag == "consider") {
      t.consider.emplace_back(FirstWord(value));
    }
  }
  if (!saw_format || o.terms_.empty()) {
    return absl::InvalidArgumentError(
        StrCat(source, ": not an OBO ontology (no format-version header or no [Term] stanza)"));
  }
  for (uint32_t i = 0; i < o.terms_.size(); ++i) {
    if (o.terms_[i].id.empty()) {
      return absl::InvalidArgumentError(StrCat(source, ": term #", i + 1, " has no id"));
    }
    if (!o.by_id_.emplace(o.terms_[i].id, i).second) {
      return absl::InvalidArgumentError(
          StrCat(source, ": term ", o.terms_[i].id, " is defined twice"));
    }
  }
  for (uint32_t i = 0; i < o.terms_.size(); ++i) {
    for (const std::string& p : pending[i].parents) {
      auto it = o.by_id_.find(p);
      if (it == o.by_id_.end()) {
        return absl::InvalidArgumentError(
            StrCat(source, ": term ", o.terms_[i].id, " has unknown parent ", p));
      }
      o.terms_[i].parents.push_back(it->second);
      o.terms_[it->second].children.push_back(i);
    }
    for (const std::string& a : pending[i].alt_ids) o.alt_ids_.emplace(a, i);
  }
  return o;
}

std::optional<uint32_t> Ontology::Find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

Ontology::Resolution Ontology::Resolve(std::string_view id) const {
  std::string key(id);
  auto it = by_id_.find(key);
  if (it == by_id_.end()) {
    auto alt = alt_ids_.find(key);
    if (alt == alt_ids_.end()) return {std::nullopt, Match::kUnknown};
    return {alt->second, Match::kAltId};
  }
  const Term& t = terms_[it->second];
  if (!t.obsolete) return {it->second, Match::kExact};
  for (const std::string& r : t.replaced_by) {
    auto rep = by_id_.find(r);
    if (rep != by_id_.end() && !terms_[rep->second].obsolete) {
      return {rep->second, Match::kReplaced};
    }
  }
  return {std::nullopt, Match::kObsolete};
}

namespace {

template <typename Next>
std::vector<uint32_t> Closure(uint32_t start, size_t n, Next next) {
  std::vector<bool> seen(n, false);
  std::vector<uint32_t> out{start};
  seen[start] = true;
  for (size_t i = 0; i < out.size(); ++i) {
    for (uint32_t j : next(out[i])) {
      if (!seen[j]) {
        seen[j] = true;
        out.push_back(j);
      }
    }
  }
  return out;
}

}  // namespace

std::vector<uint32_t> Ontology::AncestorsInclusive(uint32_t term) const {
  return Closure(term, terms_.size(),
                 [&](uint32_t t) -> const std::vector<uint32_t>& { return terms_[t].parents; });
}

std::vector<uint32_t> Ontology::DescendantsInclusive(uint32_t term) const {
  return Closure(term, terms_.size(),
                 [&](uint32_t t) -> const std::vector<uint32_t>& { return terms_[t].children; });
}

}  // namespace pmdb::vocab
