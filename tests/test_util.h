// Test helpers: temporary directories, running the pmdb binary, reference data paths, and a
// dump of a store's full contents for before/after comparisons.
#ifndef PMDB_TESTS_TEST_UTIL_H_
#define PMDB_TESTS_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/storage/store.h"
#include "pmdb/v1/answers.pb.h"

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
// Runs argv[0] with the arguments, extra environment entries ("NAME=value") added; with
// `kill_after_us` >= 0 the process gets SIGKILL that long after it started, if still running.
CommandResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  int64_t kill_after_us = -1);
// Runs pmdb with the arguments.
CommandResult Pmdb(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                   int64_t kill_after_us = -1);

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// Every key and value of every family, merge operands folded, for exact comparisons.
std::map<std::string, std::string> DumpStore(const storage::Store& store);

std::unique_ptr<storage::Store> OpenOrDie(const std::string& dir, bool create = true);

// The fixture of every test that needs one fresh store: a temporary directory and the store
// in it (dir_/db). Derived fixtures call StoreTest::SetUp() first.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenOrDie(dir_.Path("db")); }
  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

// Waits for an asynchronous call that reports through a callback taking absl::StatusOr<T>:
//   auto a = AwaitResult<v1::CountAnswer>([&](auto done) { core.Count(who, request, done); });
template <typename T, typename Call>
absl::StatusOr<T> AwaitResult(Call call) {
  std::promise<absl::StatusOr<T>> promise;
  call([&](absl::StatusOr<T> r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

// One JSON document as protobuf's JSON reader sees it; a document that does not parse is an
// empty Value (kind not set), so assertions on it fail.
google::protobuf::Value ParseJson(const std::string& text);
// The value at a dotted path: "regions.0.count.low"; a null Value when the path is absent.
google::protobuf::Value JsonAt(const google::protobuf::Value& root, const std::string& path);
// Shorthands for JsonAt(...).number_value() / .string_value() / .bool_value().
double JsonNumber(const google::protobuf::Value& root, const std::string& path);
std::string JsonString(const google::protobuf::Value& root, const std::string& path);
bool JsonBool(const google::protobuf::Value& root, const std::string& path);
// The keys of a JSON object, sorted.
std::vector<std::string> JsonKeys(const google::protobuf::Value& object);
// The top-level keys of a count's JSON answer, whoever answered (docs/json.md).
inline std::vector<std::string> CountAnswerKeys() {
  return {"count", "disclosure", "kind", "partial", "query", "regions", "warnings"};
}

// A released number [low, high].
inline v1::ReleasedCount Released(uint64_t low, uint64_t high) {
  v1::ReleasedCount c;
  c.set_low(low);
  c.set_high(high);
  return c;
}

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Matches an absl::Status or StatusOr with `code` whose message contains `part`:
//   EXPECT_THAT(core.Count(...), StatusIs(absl::StatusCode::kPermissionDenied, "shares nothing"));
MATCHER_P2(StatusIs, code, part,
           std::string(negation ? "isn't" : "is") + " a status " + absl::StatusCodeToString(code) +
               " containing \"" + part + "\"") {
  const absl::Status& s = StatusOf(arg);
  *result_listener << "which is " << s.ToString();
  return s.code() == code && std::string(s.message()).find(part) != std::string::npos;
}

// Matches an OK absl::Status or StatusOr, showing the error otherwise.
MATCHER(IsOk, "is OK") {
  const absl::Status& s = StatusOf(arg);
  *result_listener << "which is " << s.ToString();
  return s.ok();
}

}  // namespace pmdb::testing

#endif  // PMDB_TESTS_TEST_UTIL_H_
