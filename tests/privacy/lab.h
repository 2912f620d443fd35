// The attack lab: the six-region federation of the integration tests (real stores, real nodes
// and hub over mutual TLS), set up either with the disclosure defences off — thresholds only,
// what pmdb had before differential privacy — or exactly as deploy/node.example.toml sets up a
// region. The lab also gives the attacks their ground truth, read from the files that were
// ingested, and a researcher's view of the hub's answers, region by region.
//
// The noise key of every store is derived from PMDB_PRIVACY_SEED (default 1) before the nodes
// start, so a run is reproducible; running with other seeds measures the spread.
#ifndef PMDB_TESTS_PRIVACY_LAB_H_
#define PMDB_TESTS_PRIVACY_LAB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pmdb/v1/federation.grpc.pb.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::privacy {

enum class Defences {
  kOff,       // differential_privacy = false and close_side_channels = false: the small-count
              // threshold (and optional noise), an AND that stops at an empty intersection, genes
              // checked only when reached, no pacing
  kDefaults,  // [disclosure], [privacy] and [[projects]] of deploy/node.example.toml
};
const char* NameOf(Defences d);

struct LabOptions {
  Defences defences = Defences::kDefaults;
  int individuals = 200;   // per region
  int variants = 120;      // sites, shared by the regions
  uint32_t off_noise = 0;  // with the defences off: consistent noise within +/- this
};

// One person as the cohort files describe them: what an attacker may know about a target.
struct Person {
  std::string region;
  std::string id;
  char sex = 'U';  // F, M, O, U
  uint32_t age = 0;
  std::vector<uint8_t> alt;  // alternate alleles at each site (a missing genotype counts 0)
};

// One number of one region's part of an answer, as the attacker reads it.
struct Part {
  v1::RegionStatus status = v1::REGION_STATUS_UNSPECIFIED;
  std::string detail;  // why a region refused
  double value = 0;    // the released number; the middle of a released range
  bool exact = false;  // released as one number, not a range
};

struct CountReply {
  grpc::Status status;
  double seconds = 0;                 // the researcher's wall time for the whole call
  std::map<std::string, Part> parts;  // by region
  double rho = 0;                     // summed over the regions' parts
  bool ok(const std::string& region) const;
  double value(const std::string& region) const { return parts.at(region).value; }
};

struct BreakdownReply {
  grpc::Status status;
  std::map<std::string, Part> parts;                         // status by region
  std::map<std::string, std::map<std::string, Part>> cells;  // region -> cell labels -> number
  std::map<std::string, double> rho;                         // what each region charged
  bool ok(const std::string& region) const;
};

struct FrequencyReply {
  grpc::Status status;
  std::map<std::string, Part> ac, an;  // by region (status and detail in both)
  bool ok(const std::string& region) const;
};

class Lab {
 public:
  explicit Lab(LabOptions options);

  // Before Start: gives `name` a certificate (researcher/<name>) and membership of `project`,
  // created with the default project budget when no region has it yet.
  void AddResearcher(const std::string& name, const std::string& project,
                     uint64_t project_budget_micros = 2'000'000);
  void Start();

  Defences defences() const { return options_.defences; }
  // Criterion text of each site: variant(GRCh38:22:POS:REF:ALT).
  const std::vector<std::string>& sites() const { return sites_; }
  const std::vector<Person>& people() const { return people_; }
  // Share of all people carrying the site's alternate allele.
  double CarrierShare(size_t site) const;
  // The site whose carrier share is closest to `share`.
  size_t SiteWithShare(double share) const;

  // The exact breakdown in a region's store (before Start): cell labels joined by ",".
  std::map<std::string, uint64_t> ExactBreakdown(
      const std::string& region, const std::string& expr, const std::vector<v1::Dimension>& dims,
      const std::vector<std::string>& diagnoses = {}) const;
  uint64_t ExactCount(const std::string& region, const std::string& expr) const {
    return fed_.ExactCount(region, expr);
  }

  // Questions to the hub as researcher `who`.
  CountReply Count(const std::string& who, const std::string& expr);
  BreakdownReply Breakdown(const std::string& who, const std::string& expr,
                           const std::vector<v1::Dimension>& dims,
                           const std::vector<std::string>& diagnoses = {});
  FrequencyReply Frequency(const std::string& who, const std::string& expr);
  int asked() const { return asked_; }

 private:
  v1::FederationService::Stub& Hub(const std::string& who);
  void PinNoiseKeys();
  void ReadCohorts();

  LabOptions options_;
  testing::Federation fed_;
  std::vector<std::string> sites_;
  std::vector<Person> people_;
  std::map<std::string, std::unique_ptr<v1::FederationService::Stub>> hubs_;
  int asked_ = 0;
};

// How well guesses of a hidden bit matched the truth.
struct Confusion {
  int tp = 0, fn = 0, tn = 0, fp = 0;
  void Add(bool truth, bool guess);
  int positives() const { return tp + fn; }
  int negatives() const { return tn + fp; }
  // The mean of the true-positive and true-negative rates: 0.5 is a coin toss.
  double BalancedAccuracy() const;
};

// One attack's outcome, printed as one line for the record (docs/disclosure.md).
struct Outcome {
  std::string attack;
  Defences defences = Defences::kOff;
  int targets = 0;
  int questions = 0;
  int refused = 0;      // region parts refused
  double success = 0;   // the attack's own measure (see each attack)
  std::string measure;  // what `success` is
  std::string refusal;  // the first refusal's reason, if any
  void Print() const;
};

// Two criteria that select nobody — variants on a chromosome the cohorts do not have — distinct
// for every index. One pair per rewrite makes every rewrite differ from every other in at least
// four criteria.
std::string VacuousPair(int index);

}  // namespace pmdb::privacy

#endif  // PMDB_TESTS_PRIVACY_LAB_H_
