// VCF as a region's sequencing pipeline writes it, or a broken one: ingesting never crashes,
// and a refused file leaves the store exactly as it was (its data version unchanged).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "node/ingest/vcf_ingest.h"
#include "node/storage/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = "/tmp/pmdb-fuzz-vcf-" + std::to_string(getpid());
  static pmdb::storage::Store* store = [] {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto s = pmdb::storage::Store::Open(
        dir + "/db",
        {.create_if_missing = true, .block_cache_bytes = 8 << 20, .min_free_bytes = 1 << 20});
    if (!s.ok()) std::abort();
    std::atexit([] { std::filesystem::remove_all(dir); });
    return s->release();
  }();
  const std::string path = dir + "/input.vcf";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto before = pmdb::storage::DataVersion(*store->Snapshot());
  pmdb::ingest::VcfIngestOptions options;
  options.path = path;
  options.dataset = "fuzz";
  options.assembly = "GRCh38";
  auto summary = pmdb::ingest::IngestVcf(*store, options);
  if (!summary.ok() && *pmdb::storage::DataVersion(*store->Snapshot()) != *before) std::abort();
  return 0;
}
