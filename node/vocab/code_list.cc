#include "node/vocab/code_list.h"

#include <filesystem>
#include <fstream>

#include "node/base/strings.h"
#include "node/vocab/codes.h"

namespace pmdb::vocab {

absl::StatusOr<CodeList> CodeList::LoadIcd10(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot read the ICD-10 code list ", path));
  CodeList list;
  list.source_ = std::filesystem::path(path).filename().string();
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    std::string_view code = text.substr(0, text.find_first_of(" \t"));
    auto normalized = NormalizeIcd10(code);
    if (!normalized.ok()) {
      return absl::InvalidArgumentError(StrCat(path, ":", number, ": '", code.substr(0, 40),
                                               "' is not an ICD-10 code (one code per line, "
                                               "optionally followed by its title)"));
    }
    list.codes_.insert(*std::move(normalized));
  }
  if (in.bad()) return absl::DataLossError(StrCat("error reading the ICD-10 code list ", path));
  if (list.codes_.empty()) {
    return absl::InvalidArgumentError(StrCat(path, " holds no ICD-10 code"));
  }
  return list;
}

bool CodeList::Covers(std::string_view normalized) const {
  auto it = codes_.lower_bound(normalized);
  return it != codes_.end() && std::string_view(*it).starts_with(normalized);
}

}  // namespace pmdb::vocab
