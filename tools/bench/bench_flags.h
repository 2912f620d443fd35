// What the benchmark drivers that talk to running servers share: `--name value` flags and the
// certificate files of a benchmark's certificate directory.
#ifndef PMDB_TOOLS_BENCH_BENCH_FLAGS_H_
#define PMDB_TOOLS_BENCH_BENCH_FLAGS_H_

#include <map>
#include <string>

#include "security/peer_check.h"

namespace pmdb::bench {

class BenchFlags {
 public:
  // `program` names the driver in error messages. Reads `--name value` pairs from argv.
  BenchFlags(std::string program, int argc, char** argv);

  // The flag's value; without one, `fallback`, or (no fallback) exits with status 2 saying the
  // flag is required.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Has(const std::string& name) const { return values_.contains(name); }

 private:
  std::string program_;
  std::map<std::string, std::string> values_;
};

// DIR/WHO.crt, DIR/WHO.key, DIR/ca.crt and DIR/ca.crl.
security::TlsFiles CertFiles(const std::string& dir, const std::string& who);

}  // namespace pmdb::bench

#endif  // PMDB_TOOLS_BENCH_BENCH_FLAGS_H_
