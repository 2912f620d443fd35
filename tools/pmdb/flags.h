// Command-line flags for pmdb subcommands: each command declares its flags with help text, and
// --help is generated from those declarations so it never drifts from what is accepted.
#ifndef PMDB_TOOLS_PMDB_FLAGS_H_
#define PMDB_TOOLS_PMDB_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pmdb::cli {

struct FlagSpec {
  std::string name;         // without the leading --
  std::string value_name;   // empty for a boolean switch
  std::string help;
  bool repeated = false;
};

struct CommandSpec {
  std::string name;
  std::string usage;        // e.g. "pmdb query --db DIR [options] EXPR"
  std::string summary;      // one paragraph
  std::vector<FlagSpec> flags;
  std::string examples;     // shown at the end of --help
  bool takes_positional = false;
};

class Flags {
 public:
  // Parses argv after the subcommand name. --help sets help().
  static absl::StatusOr<Flags> Parse(const CommandSpec& spec, int argc, char** argv);

  bool Has(const std::string& name) const { return values_.contains(name); }
  bool Bool(const std::string& name) const { return Has(name); }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& All(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

std::string HelpText(const CommandSpec& spec);

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_FLAGS_H_
