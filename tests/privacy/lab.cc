#include "tests/privacy/lab.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "node/server/config.h"
#include "node/storage/keys.h"
#include "node/storage/store.h"
#include "node/vocab/catalog.h"
#include "query/engine.h"
#include "query/parser.h"

namespace pmdb::privacy {
namespace {

using testing::SixRegions;

double ValueOf(const v1::ReleasedCount& c) {
  if (c.high() == std::numeric_limits<uint64_t>::max()) return static_cast<double>(c.low());
  return (static_cast<double>(c.low()) + static_cast<double>(c.high())) / 2;
}

Part PartOf(const v1::RegionPart& p) {
  Part part;
  part.status = p.status();
  part.detail = p.detail();
  if (p.has_count()) {
    part.value = ValueOf(p.count().count());
    part.exact = p.count().count().low() == p.count().count().high();
  }
  return part;
}

// A question the hub refused for every region at once (it knew none could afford it): to the
// attacker, as if every region had refused it with the hub's reason.
template <typename Parts>
void RefusedAtTheHub(const grpc::Status& status, Parts* parts) {
  if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) return;
  for (const std::string& region : SixRegions()) {
    Part& part = (*parts)[region];
    part.status = v1::REGION_REFUSED;
    part.detail = status.error_message();
  }
}

uint64_t PrivacySeed() {
  const char* s = std::getenv("PMDB_PRIVACY_SEED");
  return s == nullptr ? 1 : std::strtoull(s, nullptr, 10);
}

}  // namespace

const char* NameOf(Defences d) { return d == Defences::kOff ? "off" : "defaults"; }

bool CountReply::ok(const std::string& region) const {
  auto p = parts.find(region);
  return status.ok() && p != parts.end() && p->second.status == v1::REGION_OK;
}

bool BreakdownReply::ok(const std::string& region) const {
  auto p = parts.find(region);
  return status.ok() && p != parts.end() && p->second.status == v1::REGION_OK;
}

bool FrequencyReply::ok(const std::string& region) const {
  auto p = ac.find(region);
  return status.ok() && p != ac.end() && p->second.status == v1::REGION_OK;
}

Lab::Lab(LabOptions options) : options_(options), fed_(options.individuals, options.variants) {
  auto example = server::LoadNodeConfig(PMDB_SOURCE_DIR "/deploy/node.example.toml");
  EXPECT_TRUE(example.ok()) << example.status();
  for (const std::string& region : SixRegions()) {
    core::NodeSettings& s = fed_.node_config(region).settings;
    if (options_.defences == Defences::kDefaults && example.ok()) {
      s.disclosure = example->settings.disclosure;
      s.privacy = example->settings.privacy;
    } else {
      s.disclosure.differential_privacy = false;
      s.disclosure.close_side_channels = false;
      s.disclosure.noise = options_.off_noise;
    }
  }
  PinNoiseKeys();
  ReadCohorts();
}

void Lab::PinNoiseKeys() {
  for (const std::string& region : SixRegions()) {
    std::seed_seq seq{PrivacySeed(), static_cast<uint64_t>(std::hash<std::string>{}(region))};
    std::mt19937_64 rng(seq);
    std::string key;
    while (key.size() < 32) key.push_back(static_cast<char>(rng() & 0xff));
    auto store = storage::Store::Open(fed_.db(region), {});
    ASSERT_TRUE(store.ok()) << store.status();
    storage::WriteBatch batch = (*store)->NewBatch();
    batch.Put(storage::Family::kMeta, storage::keys::kMetaNoiseSecret, key);
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
}

void Lab::ReadCohorts() {
  const std::regex id_re(R"re("subject":\{"id":"([^"]+)")re");
  const std::regex sex_re(R"re("sex":"([A-Z_]+)")re");
  const std::regex age_re(R"re("timeAtLastEncounter":\{"age":\{"iso8601duration":"P(\d+)Y")re");
  for (const std::string& region : SixRegions()) {
    std::string dir = fed_.dir().Path(region + "-cohort");
    std::map<std::string, size_t> index;  // subject id -> people_
    std::ifstream in(dir + "/phenopackets.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      std::smatch id, sex, age;
      ASSERT_TRUE(std::regex_search(line, id, id_re)) << line.substr(0, 200);
      Person p;
      p.region = region;
      p.id = id[1];
      if (std::regex_search(line, sex, sex_re)) {
        p.sex = sex[1] == "FEMALE"      ? 'F'
                : sex[1] == "MALE"      ? 'M'
                : sex[1] == "OTHER_SEX" ? 'O'
                                        : 'U';
      }
      if (std::regex_search(line, age, age_re)) p.age = std::stoul(age[1]);
      index[p.id] = people_.size();
      people_.push_back(std::move(p));
    }
    std::string vcf = dir + "/cohort.vcf.gz";
    auto samples = testing::Run({"bcftools", "query", "-l", vcf});
    ASSERT_EQ(samples.exit_code, 0) << samples.err;
    std::vector<size_t> column;  // sample column -> people_
    for (absl::string_view s : absl::StrSplit(samples.out, '\n', absl::SkipEmpty())) {
      auto at = index.find(std::string(s));
      ASSERT_NE(at, index.end()) << "a sample without a phenopacket in " << region;
      column.push_back(at->second);
    }
    auto rows = testing::Run({"bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n", vcf});
    ASSERT_EQ(rows.exit_code, 0) << rows.err;
    std::vector<std::string> sites;
    for (absl::string_view row : absl::StrSplit(rows.out, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(row, '\t');
      ASSERT_EQ(f.size(), 4 + column.size());
      sites.push_back(absl::StrCat("variant(GRCh38:", f[0], ":", f[1], ":", f[2], ":", f[3], ")"));
      for (size_t i = 0; i < column.size(); ++i) {
        absl::string_view gt = f[4 + i];
        people_[column[i]].alt.push_back(
            static_cast<uint8_t>(std::count(gt.begin(), gt.end(), '1')));
      }
    }
    if (sites_.empty()) sites_ = sites;
    ASSERT_EQ(sites, sites_) << "the regions' cohorts should share their sites";
  }
}

void Lab::AddResearcher(const std::string& name, const std::string& project,
                        uint64_t project_budget_micros) {
  fed_.Issue("researcher/" + name, name);
  for (const std::string& region : SixRegions()) {
    auto& projects = fed_.node_config(region).settings.privacy.projects;
    auto p = std::find_if(projects.begin(), projects.end(),
                          [&](const security::Project& q) { return q.id == project; });
    if (p == projects.end()) {
      projects.push_back(
          {.id = project, .members = {name}, .budget_micros = project_budget_micros});
    } else {
      p->members.insert(name);
    }
  }
}

void Lab::Start() {
  fed_.StartNodes();
  fed_.StartHub(10000);
}

double Lab::CarrierShare(size_t site) const {
  double carriers = 0;
  for (const Person& p : people_) carriers += p.alt[site] > 0 ? 1 : 0;
  return carriers / static_cast<double>(people_.size());
}

size_t Lab::SiteWithShare(double share) const {
  size_t best = 0;
  for (size_t s = 1; s < sites_.size(); ++s) {
    if (std::abs(CarrierShare(s) - share) < std::abs(CarrierShare(best) - share)) best = s;
  }
  return best;
}

std::map<std::string, uint64_t> Lab::ExactBreakdown(
    const std::string& region, const std::string& expr, const std::vector<v1::Dimension>& dims,
    const std::vector<std::string>& diagnoses) const {
  std::map<std::string, uint64_t> out;
  auto store = storage::Store::Open(fed_.db(region), {.read_only = true});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return out;
  auto view = (*store)->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << criterion.status();
  if (!catalog.ok() || !criterion.ok()) return out;
  auto b = query::Engine(*catalog, query::Engine::kExact)
               .Breakdown(*view, *criterion, dims, v1::RESEARCH, diagnoses);
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok()) return out;
  for (const auto& cell : b->value.cells()) out[absl::StrJoin(cell.labels(), ",")] = cell.count();
  return out;
}

v1::FederationService::Stub& Lab::Hub(const std::string& who) {
  auto& stub = hubs_[who];
  if (stub == nullptr) stub = fed_.Hub(who);
  return *stub;
}

CountReply Lab::Count(const std::string& who, const std::string& expr) {
  CountReply reply;
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << expr << ": " << criterion.status();
  if (!criterion.ok()) return reply;
  v1::CountRequest req;
  *req.mutable_criterion() = *criterion;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::FederatedCount out;
  auto started = std::chrono::steady_clock::now();
  reply.status = Hub(who).Count(&ctx, req, &out);
  reply.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++asked_;
  for (const v1::RegionPart& p : out.regions()) {
    reply.parts[p.region()] = PartOf(p);
    if (p.has_count()) reply.rho += p.count().disclosure().rho();
  }
  RefusedAtTheHub(reply.status, &reply.parts);
  return reply;
}

BreakdownReply Lab::Breakdown(const std::string& who, const std::string& expr,
                              const std::vector<v1::Dimension>& dims,
                              const std::vector<std::string>& diagnoses) {
  BreakdownReply reply;
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << expr << ": " << criterion.status();
  if (!criterion.ok()) return reply;
  v1::BreakdownRequest req;
  *req.mutable_criterion() = *criterion;
  for (v1::Dimension d : dims) req.add_dimensions(d);
  for (const std::string& d : diagnoses) req.add_diagnoses(d);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::FederatedBreakdown out;
  reply.status = Hub(who).Breakdown(&ctx, req, &out);
  ++asked_;
  for (const v1::RegionPart& p : out.regions()) {
    reply.parts[p.region()] = PartOf(p);
    if (p.has_breakdown()) reply.rho[p.region()] = p.breakdown().disclosure().rho();
  }
  RefusedAtTheHub(reply.status, &reply.parts);
  for (const v1::ReleasedCell& cell : out.cells()) {
    if (cell.labels().empty()) continue;
    std::vector<std::string> labels(cell.labels().begin(), cell.labels().end() - 1);
    Part part;
    part.status = v1::REGION_OK;
    part.value = ValueOf(cell.count());
    part.exact =
        !cell.suppressed() && !cell.complementary() && cell.count().low() == cell.count().high();
    reply.cells[cell.labels(cell.labels_size() - 1)][absl::StrJoin(labels, ",")] = part;
  }
  return reply;
}

FrequencyReply Lab::Frequency(const std::string& who, const std::string& expr) {
  FrequencyReply reply;
  auto criterion = query::ParseCriterion(expr);
  EXPECT_TRUE(criterion.ok()) << expr << ": " << criterion.status();
  if (!criterion.ok()) return reply;
  v1::FrequencyRequest req;
  *req.mutable_criterion() = *criterion;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::FederatedFrequency out;
  reply.status = Hub(who).Frequency(&ctx, req, &out);
  ++asked_;
  for (const v1::RegionPart& p : out.regions()) {
    Part ac = PartOf(p), an = ac;
    if (p.has_frequency()) {
      ac.value = ValueOf(p.frequency().ac());
      an.value = ValueOf(p.frequency().an());
    }
    reply.ac[p.region()] = ac;
    reply.an[p.region()] = an;
  }
  RefusedAtTheHub(reply.status, &reply.ac);
  RefusedAtTheHub(reply.status, &reply.an);
  return reply;
}

void Confusion::Add(bool truth, bool guess) {
  if (truth) {
    (guess ? tp : fn) += 1;
  } else {
    (guess ? fp : tn) += 1;
  }
}

double Confusion::BalancedAccuracy() const {
  double tpr = positives() == 0 ? 0.5 : static_cast<double>(tp) / positives();
  double tnr = negatives() == 0 ? 0.5 : static_cast<double>(tn) / negatives();
  return (tpr + tnr) / 2;
}

void Outcome::Print() const {
  std::printf(
      "[privacy] %-28s defences=%-8s targets=%-4d questions=%-4d refused-parts=%-4d "
      "%s=%.3f%s%s\n",
      attack.c_str(), NameOf(defences), targets, questions, refused, measure.c_str(), success,
      refusal.empty() ? "" : " first-refusal=", refusal.c_str());
  std::fflush(stdout);
}

std::string VacuousPair(int index) {
  // Chromosome 1 holds no site of the cohorts (they are on 22).
  return absl::StrCat("variant(GRCh38:1:", 1000 + 2 * index,
                      ":A:C) OR variant(GRCh38:1:", 1001 + 2 * index, ":A:C)");
}

}  // namespace pmdb::privacy
