#include "tools/bench/bench_flags.h"

#include <cstdlib>
#include <iostream>

namespace pmdb::bench {

BenchFlags::BenchFlags(std::string program, int argc, char** argv) : program_(std::move(program)) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) break;
    values_[k.substr(2)] = argv[i + 1];
  }
}

std::string BenchFlags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  if (fallback.empty()) {
    std::cerr << program_ << ": --" << name << " is required\n";
    std::exit(2);
  }
  return fallback;
}

security::TlsFiles CertFiles(const std::string& dir, const std::string& who) {
  security::TlsFiles f;
  f.cert = dir + "/" + who + ".crt";
  f.key = dir + "/" + who + ".key";
  f.ca = dir + "/ca.crt";
  f.crl = dir + "/ca.crl";
  return f;
}

}  // namespace pmdb::bench
