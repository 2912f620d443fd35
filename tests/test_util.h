// Test helpers: temporary directories, running the pmdb binary, reference data paths, and a
// dump of a store's full contents for before/after comparisons.
#ifndef PMDB_TESTS_TEST_UTIL_H_
#define PMDB_TESTS_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "node/storage/store.h"

namespace pmdb::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A file under ../shared/data.
std::string SharedData(const std::string& relative);
// The pmdb binary under test.
std::string PmdbBinary();

struct CommandResult {
  int exit_code = -1;
  int signal = 0;  // non-zero when the process was killed by a signal
  std::string out;
  std::string err;
};
// Runs argv[0] with the arguments, extra environment entries ("NAME=value") added.
CommandResult Run(const std::vector<std::string>& argv,
                  const std::vector<std::string>& env = {});
// Runs pmdb with the arguments.
CommandResult Pmdb(const std::vector<std::string>& args,
                   const std::vector<std::string>& env = {});

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// Every key and value of every family, merge operands folded, for exact comparisons.
std::map<std::string, std::string> DumpStore(const storage::Store& store);

std::unique_ptr<storage::Store> OpenOrDie(const std::string& dir, bool create = true);

}  // namespace pmdb::testing

#endif  // PMDB_TESTS_TEST_UTIL_H_
