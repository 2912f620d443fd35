#include "query/federation.h"

#include <map>

#include "node/base/strings.h"

namespace pmdb::query {
namespace {

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

std::string Key(const v1::ReleasedCell& cell) {
  std::string k;
  for (const std::string& l : cell.labels()) StrAppend(&k, l, "\x1f");
  return k;
}

}  // namespace

v1::ReleasedCount AddReleased(const v1::ReleasedCount& a, const v1::ReleasedCount& b) {
  v1::ReleasedCount sum;
  sum.set_low(SaturatingAdd(a.low(), b.low()));
  sum.set_high(SaturatingAdd(a.high(), b.high()));
  return sum;
}

MergedBreakdown MergeBreakdowns(
    const std::vector<std::pair<std::string, const v1::BreakdownAnswer*>>& answers) {
  MergedBreakdown out;
  std::map<std::string, size_t> index;
  for (const auto& [region, answer] : answers) {
    for (const v1::ReleasedCell& cell : answer->cells()) {
      std::string key = Key(cell);
      auto it = index.find(key);
      if (it == index.end()) {
        index.emplace(key, out.totals.size());
        v1::ReleasedCell total;
        *total.mutable_labels() = cell.labels();
        *total.mutable_count() = cell.count();
        total.set_suppressed(cell.suppressed());
        total.set_complementary(cell.complementary());
        out.totals.push_back(std::move(total));
      } else {
        v1::ReleasedCell& total = out.totals[it->second];
        *total.mutable_count() = AddReleased(total.count(), cell.count());
        total.set_suppressed(total.suppressed() || cell.suppressed());
        total.set_complementary(total.complementary() || cell.complementary());
      }
      v1::ReleasedCell regional = cell;
      regional.add_labels(region);
      out.cells.push_back(std::move(regional));
    }
  }
  return out;
}

std::string FormatReleased(const v1::ReleasedCount& c) {
  if (c.high() == UINT64_MAX) return c.low() == 0 ? "hidden" : StrCat(">=", WithThousands(c.low()));
  if (c.low() == c.high()) return WithThousands(c.low());
  if (c.low() == 0) return StrCat("<", WithThousands(c.high() + 1));
  return StrCat(WithThousands(c.low()), "-", WithThousands(c.high()));
}

}  // namespace pmdb::query
