#include "node/vocab/gene_table.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/vocab/codes.h"

namespace pmdb::vocab {

absl::StatusOr<GeneTable> GeneTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open gene table ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return Parse(buf.str(), path);
}

absl::StatusOr<GeneTable> GeneTable::Parse(std::string_view text, std::string_view source) {
  GeneTable table;
  size_t line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::vector<std::string_view> f = Split(line, '\t');
    if (line_no == 1 && !f.empty() && f[0] == "symbol") continue;
    uint32_t start = 0, end = 0;
    if (f.size() < 5 || f[0].empty() || !ParseUint32(f[3], &start) ||
        !ParseUint32(f[4], &end) || start == 0 || end < start) {
      return absl::InvalidArgumentError(StrCat(
          source, ":", line_no,
          ": expected symbol, entrez_id, chrom, start, end (tab-separated, 1-based positions)"));
    }
    table.genes_[ToUpper(f[0])].push_back({NormalizeChrom(f[2]), start, end});
  }
  if (table.genes_.empty()) return absl::InvalidArgumentError(StrCat(source, ": no genes"));
  return table;
}

const std::vector<GeneSpan>& GeneTable::Find(std::string_view symbol) const {
  static const std::vector<GeneSpan> kNone;
  auto it = genes_.find(ToUpper(symbol));
  return it == genes_.end() ? kNone : it->second;
}

}  // namespace pmdb::vocab
