// A region's sovereignty settings: whether it takes part, what it shares with which role of end
// user, and its disclosure rules. Read from the node's configuration.
#ifndef PMDB_NODE_SERVICE_SETTINGS_H_
#define PMDB_NODE_SERVICE_SETTINGS_H_

#include <map>
#include <set>
#include <string>

#include "security/disclosure.h"

namespace pmdb::service {

struct Sharing {
  std::set<std::string> kinds;     // "count", "breakdown", "frequency"
  std::set<std::string> criteria;  // leaf kinds, see query::LeafKinds()
};

struct NodeSettings {
  std::string region;
  std::string federation;  // from the node's own certificate
  bool participate = true;
  std::map<std::string, Sharing> sharing;  // by role name; a role without an entry gets nothing
  security::DisclosureRules disclosure;
};

inline constexpr char kVersion[] = "0.1.0";

}  // namespace pmdb::service

#endif  // PMDB_NODE_SERVICE_SETTINGS_H_
