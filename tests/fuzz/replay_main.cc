// Runs a fuzz target without libFuzzer, for ./tools/test: every file of the corpora given (files
// or directories), then a bounded number of deterministic mutations of them — bytes flipped,
// inserted, deleted, repeated, and two inputs spliced — so that each target meets inputs nobody
// wrote on every build. The real fuzzing, coverage-guided, is tools/fuzz (clang, libFuzzer).
//   TARGET_fuzz CORPUS... [--runs N]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(std::string s, const std::vector<std::string>& pool, std::mt19937_64& rng) {
  const int steps = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < steps; ++i) {
    size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0:  // flip a byte
        if (!s.empty()) s[at % s.size()] = static_cast<char>(rng());
        break;
      case 1:  // insert a byte, often a structural one
        s.insert(at, 1, "()[]{},:\"\\ \n\t0-9AN"[rng() % 20]);
        break;
      case 2:  // delete a run
        if (!s.empty()) s.erase(at % s.size(), 1 + rng() % 8);
        break;
      case 3: {  // repeat a run
        if (s.empty()) break;
        size_t from = rng() % s.size();
        std::string run = s.substr(from, 1 + rng() % 16);
        for (int k = static_cast<int>(rng() % 64); k > 0; --k) s.insert(at, run);
        break;
      }
      case 4: {  // splice in part of another input
        const std::string& other = pool[rng() % pool.size()];
        if (other.empty()) break;
        size_t from = rng() % other.size();
        s.insert(at, other.substr(from, 1 + rng() % 64));
        break;
      }
      default:  // truncate
        s.resize(at);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  long runs = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atol(argv[++i]);
      continue;
    }
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) inputs.push_back(ReadAll(f));
    } else if (std::filesystem::is_regular_file(p, ec)) {
      inputs.push_back(ReadAll(p));
    } else {
      std::fprintf(stderr, "no such corpus: %s\n", argv[i]);
      return 2;
    }
  }
  inputs.push_back("");
  for (const std::string& in : inputs) Run(in);
  std::mt19937_64 rng(20261206);
  for (long i = 0; i < runs; ++i) Run(Mutate(inputs[rng() % inputs.size()], inputs, rng));
  std::printf("replayed %zu inputs and %ld mutations without a failure\n", inputs.size(), runs);
  return 0;
}
