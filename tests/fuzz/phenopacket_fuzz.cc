// Phenopacket v2 JSON lines as a region's files hold them: reading never crashes or hangs, and a
// malformed line is an error naming its place.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "node/ingest/phenopacket_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    std::string p = "/tmp/pmdb-fuzz-" + std::to_string(getpid()) + ".jsonl";
    std::atexit(
        [] { std::remove(("/tmp/pmdb-fuzz-" + std::to_string(getpid()) + ".jsonl").c_str()); });
    return p;
  }();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::map<std::string, uint64_t> unknown;
  absl::Status s = pmdb::ingest::ReadPhenopackets(
      path, [](pmdb::ingest::ReadPacket&&) { return absl::OkStatus(); }, &unknown);
  if (!s.ok() && s.message().find(path) == std::string::npos) std::abort();  // names the file
  return 0;
}
