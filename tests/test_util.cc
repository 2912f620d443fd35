#include "tests/test_util.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace pmdb::testing {

TempDir::TempDir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/pmdb-test-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string SharedData(const std::string& relative) {
  return std::string(PMDB_SHARED_DATA) + "/" + relative;
}

std::string PmdbBinary() { return PMDB_BIN; }

namespace {

std::string Slurp(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

}  // namespace

CommandResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  int64_t kill_after_us) {
  CommandResult result;
  TempDir io;
  std::string out_path = io.Path("out"), err_path = io.Path("err");
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (kill_after_us >= 0) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kill_after_us);
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= until) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  } else {
    waitpid(pid, &status, 0);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  int fd = open(out_path.c_str(), O_RDONLY);
  result.out = Slurp(fd);
  close(fd);
  fd = open(err_path.c_str(), O_RDONLY);
  result.err = Slurp(fd);
  close(fd);
  return result;
}

CommandResult Pmdb(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   int64_t kill_after_us) {
  std::vector<std::string> argv = {PmdbBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, env, kill_after_us);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, std::string> DumpStore(const storage::Store& store) {
  std::map<std::string, std::string> out;
  auto view = store.Snapshot();
  for (auto family :
       {storage::Family::kMeta, storage::Family::kIndividuals, storage::Family::kVariants,
        storage::Family::kBitmaps, storage::Family::kAudit, storage::Family::kContact}) {
    std::string prefix(1, static_cast<char>('0' + static_cast<int>(family)));
    EXPECT_TRUE(view->Scan(family, "", "",
                           [&](std::string_view k, std::string_view v) {
                             out[prefix + std::string(k)] = std::string(v);
                             return true;
                           })
                    .ok());
  }
  return out;
}

std::unique_ptr<storage::Store> OpenOrDie(const std::string& dir, bool create) {
  storage::StoreOptions options;
  options.create_if_missing = create;
  auto store = storage::Store::Open(dir, options);
  if (!store.ok()) {
    ADD_FAILURE() << "cannot open store " << dir << ": " << store.status().message();
    std::abort();
  }
  return std::move(*store);
}

google::protobuf::Value ParseJson(const std::string& text) {
  google::protobuf::Value v;
  if (!google::protobuf::util::JsonStringToMessage(text, &v).ok()) return {};
  return v;
}

google::protobuf::Value JsonAt(const google::protobuf::Value& root, const std::string& path) {
  google::protobuf::Value null;
  null.set_null_value(google::protobuf::NULL_VALUE);
  const google::protobuf::Value* at = &root;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '.');) {
    if (at->has_struct_value()) {
      auto it = at->struct_value().fields().find(part);
      if (it == at->struct_value().fields().end()) return null;
      at = &it->second;
    } else if (at->has_list_value()) {
      size_t i = std::stoul(part);
      if (i >= static_cast<size_t>(at->list_value().values_size())) return null;
      at = &at->list_value().values(static_cast<int>(i));
    } else {
      return null;
    }
  }
  return *at;
}

double JsonNumber(const google::protobuf::Value& root, const std::string& path) {
  return JsonAt(root, path).number_value();
}
std::string JsonString(const google::protobuf::Value& root, const std::string& path) {
  return JsonAt(root, path).string_value();
}
bool JsonBool(const google::protobuf::Value& root, const std::string& path) {
  return JsonAt(root, path).bool_value();
}
std::vector<std::string> JsonKeys(const google::protobuf::Value& object) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : object.struct_value().fields()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace pmdb::testing
