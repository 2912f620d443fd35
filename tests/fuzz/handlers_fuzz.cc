// The request handlers of a region's node (core::NodeCore) over a real store with people,
// diagnoses, treatments, phenotypes and genotypes: the first byte picks the handler, the rest is
// its request message, any bytes. A researcher's count, breakdown, frequency or catalogue batch
// through the hub, a clinician's similar cases through the hub, and the region's operator's
// exact query and local search must never crash, must answer exactly once (a second answer throws
// from the promise and aborts), and what leaves the region must look released: noised numbers, no
// subject ids, at most the cases the region allows.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <string>

#include "node/core/node_core.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/reference_files.h"
#include "node/ingest/vcf_ingest.h"
#include "query/parser.h"

namespace {

using namespace pmdb;  // NOLINT(google-build-using-namespace): a test harness

constexpr char kHub[] = "spiffe://fuzz-fed/hub";
constexpr char kResearcher[] = "spiffe://fuzz-fed/researcher/anna";
constexpr char kClinician[] = "spiffe://fuzz-fed/region/vast/clinician/cia";
constexpr char kOperator[] = "spiffe://fuzz-fed/region/vast/operator/olle";
constexpr uint32_t kMaxTop = 20;

// Thirty people: sexes, ages 1-89, a diagnosis, a treatment and HPO phenotypes each, and
// genotypes at six sites on chromosome 22 for the first twelve.
std::string People() {
  static const char* kTerms[] = {"HP:0001250", "HP:0000113", "HP:0001407", "HP:0002664",
                                 "HP:0000252", "HP:0001263", "HP:0004322", "HP:0000708"};
  static const char* kDiagnoses[] = {"C50.9", "C34.1", "Q61.2", "G40.3", "E84.0", "I42.0"};
  static const char* kTreatments[] = {"L01EB01", "N03AX14", "A10BA02", "C07AB02"};
  std::string out;
  for (int i = 0; i < 30; ++i) {
    const std::string id = "S" + std::to_string(i);
    out += R"({"id":"p-)" + id + R"(","subject":{"id":")" + id + R"(","sex":")" +
           (i % 3 == 0 ? "MALE" : "FEMALE") +
           R"(","timeAtLastEncounter":{"age":{"iso8601duration":"P)" + std::to_string(1 + i * 3) +
           R"(Y"}}},"phenotypicFeatures":[)";
    for (int t = 0; t < 3; ++t) {
      if (t) out += ",";
      out += R"({"type":{"id":")" + std::string(kTerms[(i + t * 3) % 8]) + R"("}})";
    }
    out += R"(],"diseases":[{"term":{"id":"ICD10:)" + std::string(kDiagnoses[i % 6]) +
           R"("}}],"medicalActions":[{"treatment":{"agent":{"id":"ATC:)" +
           std::string(kTreatments[i % 4]) + R"("}}}],"metaData":{"submittedBy":"fuzz"}})" + "\n";
  }
  return out;
}

std::string Genotypes() {
  std::string out =
      "##fileformat=VCFv4.2\n##contig=<ID=22,length=50818468>\n"
      "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT";
  for (int i = 0; i < 12; ++i) out += "\tS" + std::to_string(i);
  out += "\n";
  static const char* kSites[][3] = {{"16050075", "A", "G"},   {"16050115", "G", "A"},
                                    {"17000000", "C", "T"},   {"17000010", "AT", "A"},
                                    {"20000000", "G", "GTT"}, {"20000050", "T", "C"}};
  for (int s = 0; s < 6; ++s) {
    out += std::string("22\t") + kSites[s][0] + "\t.\t" + kSites[s][1] + "\t" + kSites[s][2] +
           "\t50\tPASS\t.\tGT";
    for (int i = 0; i < 12; ++i)
      out += (i + s) % 4 == 0 ? "\t1/1" : (i + s) % 3 ? "\t0/1" : "\t0/0";
    out += "\n";
  }
  return out;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

template <typename T>
T Check(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "handlers_fuzz setup: %s\n", v.status().ToString().c_str());
    std::abort();
  }
  return *std::move(v);
}

struct Region {
  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<security::AuditLog> audit;
  std::unique_ptr<core::NodeCore> core;
};

// `quantum_ms`: answers paced (a catalogue batch needs it), or 0 for speed.
Region* MakeRegion(uint32_t quantum_ms) {
  auto* r = new Region;
  r->dir = "/tmp/pmdb-fuzz-handlers-" + std::to_string(getpid()) + "/quantum-" +
           std::to_string(quantum_ms);
  std::filesystem::remove_all(r->dir);
  std::filesystem::create_directories(r->dir);
  std::atexit(
      [] { std::filesystem::remove_all("/tmp/pmdb-fuzz-handlers-" + std::to_string(getpid())); });
  r->store = Check(storage::Store::Open(
      r->dir + "/db",
      {.create_if_missing = true, .block_cache_bytes = 8 << 20, .min_free_bytes = 1 << 20}));
  const std::string data = PMDB_SHARED_DATA;
  if (!ingest::RememberReferenceFiles(
           *r->store, {data + "/ontology/hp.obo", {"GRCh38=" + data + "/genes_grch38.tsv"}})
           .ok()) {
    std::abort();
  }
  Write(r->dir + "/people.jsonl", People());
  Check(ingest::IngestPhenopackets(*r->store, r->dir + "/people.jsonl"));
  Write(r->dir + "/calls.vcf", Genotypes());
  Check(ingest::IngestVcf(*r->store,
                          {.path = r->dir + "/calls.vcf", .dataset = "wgs", .assembly = "GRCh38"}));
  r->audit = Check(security::AuditLog::Open(r->store.get()));

  core::NodeSettings settings;
  settings.region = "vast";
  settings.federation = "fuzz-fed";
  core::Sharing researcher{.kinds = {"count", "breakdown", "frequency"}};
  for (const std::string& k : query::LeafKinds()) researcher.criteria.insert(k);
  settings.sharing["researcher"] = researcher;
  settings.sharing["clinician"] = core::Sharing{.kinds = {"similar"}};
  settings.clinician.contact = "genetics@vast.example";
  settings.clinician.max_top = kMaxTop;
  settings.clinician.daily_searches = std::numeric_limits<uint32_t>::max();
  settings.clinician.per_person_matches = std::numeric_limits<uint32_t>::max();
  settings.clinician.min_phenotypes = 1;
  // Budgets and question limits that never run out, so that every input reaches the data.
  const uint64_t kPlenty = uint64_t{1} << 60;
  settings.privacy.researcher_micros = settings.privacy.researcher_yearly_micros = kPlenty;
  settings.privacy.region_micros = settings.privacy.region_yearly_micros = kPlenty;
  settings.privacy.projects.push_back({.id = "p1", .members = {"anna"}});
  settings.disclosure.daily_budget = std::numeric_limits<uint32_t>::max();
  settings.disclosure.near_repeat_limit = std::numeric_limits<uint32_t>::max();
  settings.disclosure.response_quantum_ms = quantum_ms;
  r->core = Check(core::NodeCore::Create(settings, r->store.get(), r->audit.get()));
  return r;
}

call::Credentials As(const char* peer, const char* on_behalf_of = nullptr) {
  call::Credentials c;
  c.peer = security::ParseIdentity(peer);
  if (on_behalf_of) c.on_behalf_of = on_behalf_of;
  return c;
}

// Calls a handler that answers through `done` and waits for its one answer.
template <typename Answer, typename Call>
absl::StatusOr<Answer> Await(Call call) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<Answer>>>();
  auto future = promise->get_future();
  call([promise](absl::StatusOr<Answer> result) { promise->set_value(std::move(result)); });
  return future.get();
}

void Expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "handlers_fuzz: %s\n", what);
    std::abort();
  }
}

void ExpectReleased(const v1::ReleasedCount& c) {
  Expect(c.noise_sd() > 0, "a researcher's number left without noise");
  Expect(c.ci95_low() <= c.ci95_high(), "an interval with its ends swapped");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Region* region = MakeRegion(0);
  if (size == 0) return 0;
  core::NodeCore& core = *region->core;
  const auto* bytes = data + 1;
  const int length = static_cast<int>(size - 1);
  switch (data[0] % 7) {
    case 0: {
      v1::CountRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      auto answer = Await<v1::CountAnswer>(
          [&](auto done) { core.Count(As(kHub, kResearcher), request, done); });
      if (answer.ok() && answer->has_count()) ExpectReleased(answer->count());
      if (answer.ok()) Expect(answer->has_count() != request.cost_only(), "a quote with a number");
      break;
    }
    case 1: {
      v1::BreakdownRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      auto answer = Await<v1::BreakdownAnswer>(
          [&](auto done) { core.Breakdown(As(kHub, kResearcher), request, done); });
      if (answer.ok()) {
        for (const auto& cell : answer->cells()) ExpectReleased(cell.count());
      }
      break;
    }
    case 2: {
      v1::FrequencyRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      auto answer = Await<v1::FrequencyAnswer>(
          [&](auto done) { core.Frequency(As(kHub, kResearcher), request, done); });
      if (answer.ok() && answer->has_ac()) ExpectReleased(answer->ac());
      break;
    }
    case 3: {
      v1::SimilarCasesRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      auto answer = Await<v1::SimilarCasesAnswer>(
          [&](auto done) { core.SimilarCases(As(kHub, kClinician), request, done); });
      if (answer.ok()) {
        Expect(static_cast<uint32_t>(answer->matches_size()) <= kMaxTop, "more cases than allowed");
        for (const auto& match : answer->matches()) {
          Expect(match.subject_id().empty(), "a subject id left the region");
          Expect(!match.case_reference().empty(), "a case without a reference");
        }
      }
      break;
    }
    case 4: {
      v1::AdminQueryRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      (void)core.Query(As(kOperator), request);
      break;
    }
    case 5: {
      v1::LocalSimilarRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      (void)core.LocalSimilarCases(As(kOperator), request);
      break;
    }
    case 6: {
      v1::CatalogueRequest request;
      if (!request.ParseFromArray(bytes, length)) return 0;
      // Catalogues are answered only when paced: a region of its own, paced at the finest step.
      static Region* paced = MakeRegion(1);
      auto answer = Await<v1::CatalogueAnswer>(
          [&](auto done) { paced->core->Catalogue(As(kHub, kResearcher), request, done); });
      if (answer.ok() && !request.cost_only()) {
        Expect(answer->sites_size() == request.sites_size(), "a catalogue of other sites");
        for (const auto& site : answer->sites()) {
          ExpectReleased(site.ac());
          ExpectReleased(site.an());
        }
      }
      break;
    }
  }
  return 0;
}
