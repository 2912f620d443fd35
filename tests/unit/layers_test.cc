// The include edges between layers, checked against the table at the top of
// docs/architecture.md (between the layers:begin and layers:end markers): every source file
// under node/, query/, security/ and tools/ may include only from the folders its folder's row
// names, and foreign headers only where the row allows them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace pmdb::testing {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::set<std::string> may_include;
  std::set<std::string> foreign;
};
using Table = std::map<std::string, Row>;  // folder -> row

// The backquoted words of one table cell.
std::set<std::string> Words(const std::string& cell) {
  std::set<std::string> out;
  std::regex word("`([^`]+)`");
  for (auto it = std::sregex_iterator(cell.begin(), cell.end(), word); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) cells.push_back(cell);
  return cells;
}

Table ParseTable(const std::string& markdown) {
  Table table;
  size_t begin = markdown.find("<!-- layers:begin -->");
  size_t end = markdown.find("<!-- layers:end -->");
  if (begin == std::string::npos || end == std::string::npos) return table;
  std::stringstream in(markdown.substr(begin, end - begin));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells = Cells(line);
    if (cells.size() < 4) continue;
    std::set<std::string> folder = Words(cells[0]);
    if (folder.size() != 1) continue;
    table[*folder.begin()] = {Words(cells[2]), Words(cells[3])};
  }
  return table;
}

// The table's folder that holds `path` (the longest match), or "" when none does.
std::string FolderOf(const Table& table, const std::string& path) {
  std::string best;
  for (const auto& [folder, row] : table) {
    if (path.starts_with(folder + "/") && folder.size() > best.size()) best = folder;
  }
  return best;
}

// Which foreign library an include names, or "" for one that is allowed everywhere.
std::string ForeignLibrary(const std::string& include) {
  if (include.ends_with(".grpc.pb.h") || include.starts_with("grpcpp/") ||
      include.starts_with("grpc/")) {
    return "grpc";
  }
  for (const char* lib : {"rocksdb", "openssl", "htslib", "toml++"}) {
    if (include.starts_with(std::string(lib) + "/")) return lib;
  }
  if (include == "sqlite3.h") return "sqlite";
  if (include == "libpq-fe.h") return "postgresql";
  return "";
}

// The project folder an include names, or "" for a system or library header.
std::string ProjectFolder(const Table& table, const std::string& include) {
  if (include.starts_with("pmdb/v1/")) return "proto";
  return FolderOf(table, include);
}

// Every include of `content` (the file at `path`) that crosses an edge the table does not
// allow, as "path:line: ...".
std::vector<std::string> Violations(const Table& table, const std::string& path,
                                    const std::string& content) {
  std::vector<std::string> out;
  std::string folder = FolderOf(table, path);
  if (folder.empty()) return {path + ": in no folder of the layer table"};
  const Row& row = table.at(folder);
  std::regex include_line(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::stringstream in(content);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (!std::regex_search(line, m, include_line)) continue;
    std::string include = m[1];
    std::string where = path + ":" + std::to_string(n) + ": " + folder;
    std::string lib = ForeignLibrary(include);
    if (!lib.empty() && row.foreign.count(lib) == 0) {
      out.push_back(where + " may not include " + lib + " headers (" + include + ")");
      continue;
    }
    std::string target = ProjectFolder(table, include);
    if (target.empty() || target == folder) continue;
    if (lib.empty() && row.may_include.count(target) == 0) {
      out.push_back(where + " may not include " + target + " (" + include + ")");
    }
  }
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Table TheTable() { return ParseTable(ReadFile(fs::path(PMDB_SOURCE_DIR) / "docs/architecture.md")); }

TEST(LayersTest, TheTableNamesEveryFolderOfTheTree) {
  Table table = TheTable();
  ASSERT_GE(table.size(), 10u) << "docs/architecture.md has no layer table";
  for (const char* folder : {"node/core", "node/hub", "node/transport", "node/vocab", "query",
                             "security", "node/storage"}) {
    EXPECT_EQ(table.count(folder), 1u) << folder;
  }
  for (const auto& [folder, row] : table) {
    EXPECT_TRUE(fs::is_directory(fs::path(PMDB_SOURCE_DIR) / folder)) << folder;
    for (const std::string& to : row.may_include) {
      EXPECT_EQ(table.count(to), 1u) << folder << " names " << to << ", which has no row";
    }
  }
}

TEST(LayersTest, NoSourceFileIncludesAcrossAForbiddenEdge) {
  Table table = TheTable();
  ASSERT_FALSE(table.empty());
  fs::path root(PMDB_SOURCE_DIR);
  std::vector<std::string> problems;
  size_t files = 0;
  for (const char* top : {"node", "query", "security", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      std::string ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      ++files;
      std::string path = fs::relative(entry.path(), root).string();
      for (std::string& v : Violations(table, path, ReadFile(entry.path()))) {
        problems.push_back(std::move(v));
      }
    }
  }
  EXPECT_GT(files, 100u);
  std::string all;
  for (const std::string& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << all;
}

// The checker itself: edges the table forbids are found and named.
TEST(LayersTest, TheCheckerNamesForbiddenEdges) {
  Table table = TheTable();
  ASSERT_FALSE(table.empty());
  auto core = Violations(table, "node/core/x.cc",
                         "#include \"node/core/node_core.h\"\n"
                         "#include <grpcpp/server_context.h>\n"
                         "#include \"pmdb/v1/region.grpc.pb.h\"\n"
                         "#include \"node/transport/status.h\"\n"
                         "#include \"pmdb/v1/answers.pb.h\"\n"
                         "#include \"absl/status/status.h\"\n");
  ASSERT_EQ(core.size(), 3u);
  EXPECT_EQ(core[0], "node/core/x.cc:2: node/core may not include grpc headers (grpcpp/server_context.h)");
  EXPECT_EQ(core[1], "node/core/x.cc:3: node/core may not include grpc headers (pmdb/v1/region.grpc.pb.h)");
  EXPECT_EQ(core[2], "node/core/x.cc:4: node/core may not include node/transport (node/transport/status.h)");
  auto query = Violations(table, "query/engine.cc", "#include \"node/ingest/vcf_ingest.h\"\n");
  ASSERT_EQ(query.size(), 1u);
  EXPECT_EQ(query[0], "query/engine.cc:1: query may not include node/ingest (node/ingest/vcf_ingest.h)");
  EXPECT_EQ(Violations(table, "query/engine.cc", "#include <rocksdb/db.h>\n").size(), 1u);
  EXPECT_EQ(Violations(table, "node/storage/store.cc", "#include <rocksdb/db.h>\n").size(), 0u);
  EXPECT_EQ(Violations(table, "elsewhere/x.cc", "").size(), 1u);
}

}  // namespace
}  // namespace pmdb::testing
