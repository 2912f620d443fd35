#include "tools/pmdb/flags.h"

#include <cstdlib>

#include "absl/status/statusor.h"
#include "node/base/strings.h"

namespace pmdb::cli {

absl::StatusOr<Flags> Flags::Parse(const CommandSpec& spec, int argc, char** argv) {
  Flags flags;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help_ = true;
      continue;
    }
    if (arg == "--") {
      for (++i; i < argc; ++i) flags.positional_.push_back(argv[i]);
      break;
    }
    if (!arg.starts_with("--")) {
      if (!spec.takes_positional) {
        return absl::InvalidArgumentError(
            StrCat("unexpected argument '", arg, "' (see pmdb ", spec.name, " --help)"));
      }
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* f = nullptr;
    for (const FlagSpec& candidate : spec.flags) {
      if (candidate.name == name) f = &candidate;
    }
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("unknown flag --", name, " (see pmdb ", spec.name, " --help)"));
    }
    if (f->value_name.empty()) {
      if (has_value) return absl::InvalidArgumentError(StrCat("--", name, " takes no value"));
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(StrCat("--", name, " needs a value: ", f->value_name));
      }
      value = argv[++i];
    }
    auto& slot = flags.values_[name];
    if (!slot.empty() && !f->repeated) {
      return absl::InvalidArgumentError(StrCat("--", name, " given twice"));
    }
    slot.push_back(value);
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

const std::vector<std::string>& Flags::All(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

std::string HelpText(const CommandSpec& spec) {
  std::string out = StrCat("usage: ", spec.usage, "\n\n", spec.summary, "\n\noptions:\n");
  for (const FlagSpec& f : spec.flags) {
    std::string left = StrCat("  --", f.name, f.value_name.empty() ? "" : " ", f.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    // Wrap help text under its column.
    std::string line = left;
    size_t col = 28;
    for (std::string_view word : Split(f.help, ' ')) {
      if (col + word.size() > 100 && col > 28) {
        line += "\n" + std::string(28, ' ');
        col = 28;
      }
      StrAppend(&line, word, " ");
      col += word.size() + 1;
    }
    StrAppend(&out, line, f.repeated ? "(repeatable)" : "", "\n");
  }
  StrAppend(&out, "  --help                    this text\n");
  if (!spec.examples.empty()) StrAppend(&out, "\nexamples:\n", spec.examples);
  return out;
}

}  // namespace pmdb::cli
