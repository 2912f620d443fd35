// A region's sovereignty settings: whether it takes part, what it shares with which role of end
// user, and its disclosure rules. Read from the node's configuration.
#ifndef PMDB_NODE_CORE_SETTINGS_H_
#define PMDB_NODE_CORE_SETTINGS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "security/disclosure.h"
#include "security/privacy_budget.h"

namespace pmdb::core {

struct Sharing {
  std::set<std::string> kinds;     // "count", "breakdown", "frequency"; "similar" for clinicians
  std::set<std::string> criteria;  // leaf kinds, see query::LeafKinds()
};

// What the region tells a clinician about reaching the care unit of a similar case.
struct ClinicianSharing {
  std::string contact;  // the region's contact point, e.g. a clinical genetics unit's address
  int64_t reference_ttl_seconds = 30 * 86400;  // how long a case reference stays valid
  uint32_t max_top = 100;                      // most matches one answer may hold
  uint32_t daily_searches = 200;               // searches per clinician per UTC day
  // Probing defences (docs/disclosure.md, "Similar cases"): a search names at least this many
  // observed phenotypes; matches scoring below min_score are not returned; one person is
  // returned to one clinician at most per_person_matches times in per_person_days (after that
  // they are left out of that clinician's results until the window has moved on).
  uint32_t min_phenotypes = 3;
  double min_score = 0.2;
  uint32_t per_person_matches = 5;
  uint32_t per_person_days = 30;
};

// The anonymous public tier ([public], off by default): anyone may ask whether a variant is seen
// in the region, and gets a boolean taken from a carrier count with noise of its own, charged to
// a budget of its own (the project "public", which counts in the region's budgets like any
// project). docs/beacon.md, "The public tier".
struct PublicTier {
  bool enabled = false;
  security::NoiseScale scale{2000};  // sd 20 on the carrier count behind each answer
  uint32_t threshold = 60;           // "seen" when the noised count is at least this
  uint64_t budget_micros = 500'000;  // rho 0.5 per period
  uint32_t period_days = 30;
  uint64_t share_millionths = 100'000;  // of the region's budgets
};

// The public tier's budget is the project of this id, with the one member below: a name no
// certificate can carry, so no researcher shares it.
inline constexpr char kPublicProject[] = "public";
inline constexpr char kPublicMember[] = "(public)";
inline constexpr char kPublicCaller[] = "public:anonymous";

struct NodeSettings {
  std::string region;
  std::string federation;  // from the node's own certificate
  bool participate = true;
  std::map<std::string, Sharing> sharing;  // by role name; a role without an entry gets nothing
  security::DisclosureRules disclosure;
  security::PrivacyBudgets privacy;  // researchers' budgets and projects
  ClinicianSharing clinician;
  PublicTier public_tier;
  // The node's certificate and key (its [tls] files), which sign the audit heads the hub
  // witnesses; empty: unsigned.
  std::string head_certificate;
  std::string head_key;
  // The federation's CA (its [tls] ca): the other regions' certificates in a national round
  // must chain to it. Empty: the node gives no shares of national totals.
  std::string federation_ca;
};

inline constexpr char kVersion[] = "0.1.0";

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SETTINGS_H_
