#include "query/canonical.h"

#include <algorithm>
#include <map>
#include <vector>

#include "node/base/strings.h"
#include "query/parser.h"

namespace pmdb::query {
namespace {

constexpr char kTrue[] = "TRUE";
constexpr char kFalse[] = "FALSE";

struct Node {
  enum Kind { kLeaf, kAnd, kOr, kNot, kConst } kind = kLeaf;
  std::string text;            // the canonical text of this node
  std::vector<Node> children;  // kAnd / kOr: the operands, sorted by text; kNot: the operand
  v1::Criterion criterion;     // kLeaf: the leaf as written
};

Node Const(bool value) { return {Node::kConst, value ? kTrue : kFalse, {}, {}}; }

Node Canonical(const v1::Criterion& c);

// AND (is_and) or OR of the operands: flattened, deduplicated, sorted, simplified.
Node Combine(const v1::CriterionList& list, bool is_and) {
  const Node::Kind self = is_and ? Node::kAnd : Node::kOr;
  const Node::Kind other = is_and ? Node::kOr : Node::kAnd;
  const std::string identity = is_and ? kTrue : kFalse;   // A AND TRUE = A
  const std::string absorbing = is_and ? kFalse : kTrue;  // A AND FALSE = FALSE
  std::map<std::string, Node> items;
  for (const v1::Criterion& item : list.items()) {
    Node n = Canonical(item);
    if (n.kind == self) {
      for (Node& child : n.children) items.emplace(child.text, std::move(child));
    } else if (n.text == absorbing) {
      return Const(!is_and);
    } else if (n.text != identity) {
      items.emplace(n.text, std::move(n));
    }
  }
  for (const auto& [text, node] : items) {
    if (node.kind == Node::kNot && items.count(node.children[0].text) > 0) {
      return Const(!is_and);  // A AND NOT A, A OR NOT A
    }
  }
  // Absorption: an operand of the other operator that has one of our operands among its own
  // is implied by that operand (AND) or implies it (OR).
  for (auto it = items.begin(); it != items.end();) {
    bool absorbed = false;
    if (it->second.kind == other) {
      for (const Node& inner : it->second.children)
        absorbed = absorbed || items.count(inner.text) > 0;
    }
    it = absorbed ? items.erase(it) : std::next(it);
  }
  if (items.empty()) return Const(is_and);
  if (items.size() == 1) return std::move(items.begin()->second);
  Node out{self, "", {}, {}};
  for (auto& [text, node] : items) {
    StrAppend(&out.text, out.text.empty() ? "(" : (is_and ? " AND " : " OR "), text);
    out.children.push_back(std::move(node));
  }
  out.text += ")";
  return out;
}

Node Canonical(const v1::Criterion& c) {
  switch (c.kind_case()) {
    case v1::Criterion::kAllOf:
      return Combine(c.all_of(), /*is_and=*/true);
    case v1::Criterion::kAnyOf:
      return Combine(c.any_of(), /*is_and=*/false);
    case v1::Criterion::kNegation: {
      Node inner = Canonical(c.negation());
      if (inner.kind == Node::kConst) return Const(inner.text == kFalse);
      if (inner.kind == Node::kNot) return std::move(inner.children[0]);
      Node out{Node::kNot, StrCat("NOT ", inner.text), {}, {}};
      out.children.push_back(std::move(inner));
      return out;
    }
    case v1::Criterion::kAge:
      if (c.age().has_max() && c.age().max() < c.age().min()) return Const(false);
      return {Node::kLeaf, FormatCriterion(c), {}, c};
    default:
      return {Node::kLeaf, FormatCriterion(c), {}, c};
  }
}

v1::Criterion TreeOf(const Node& n) {
  v1::Criterion out;
  switch (n.kind) {
    case Node::kLeaf:
      return n.criterion;
    case Node::kConst:
      if (n.text == kTrue) {
        out.mutable_all_of();
      } else {
        out.mutable_any_of();
      }
      return out;
    case Node::kNot:
      *out.mutable_negation() = TreeOf(n.children[0]);
      return out;
    case Node::kAnd:
    case Node::kOr: {
      v1::CriterionList* list = n.kind == Node::kAnd ? out.mutable_all_of() : out.mutable_any_of();
      for (const Node& child : n.children) *list->add_items() = TreeOf(child);
      return out;
    }
  }
  return out;
}

}  // namespace

std::string CanonicalText(const v1::Criterion& criterion) { return Canonical(criterion).text; }

v1::Criterion CanonicalCriterion(const v1::Criterion& criterion) {
  return TreeOf(Canonical(criterion));
}

}  // namespace pmdb::query
