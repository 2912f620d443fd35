#include "tools/pmdb/common.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "node/base/strings.h"
#include "tools/pmdb/output.h"

namespace pmdb::cli {

namespace {

// Set once the command line asked for --json: then failures are JSON on stdout as well.
bool json_errors = false;

}  // namespace

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "pmdb " << command << ": " << std::string(status.message()) << "\n";
  if (json_errors) std::cout << ErrorJson(status) << "\n";
  return kExitFailure;
}

int UsageError(const CommandSpec& spec, const absl::Status& status) {
  if (json_errors) std::cout << ErrorJson(status) << "\n";
  std::cerr << "pmdb " << spec.name << ": " << std::string(status.message()) << "\n"
            << "usage: " << spec.usage << "   (pmdb " << spec.name << " --help for more)\n";
  return kExitUsage;
}

std::optional<Flags> ParseOrExit(const CommandSpec& spec, int argc, char** argv, int* exit_code) {
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") break;
    if (std::string_view(argv[i]) == "--json") json_errors = true;
  }
  auto flags = Flags::Parse(spec, argc, argv);
  if (!flags.ok()) {
    *exit_code = UsageError(spec, flags.status());
    return std::nullopt;
  }
  if (flags->help()) {
    std::cout << HelpText(spec);
    *exit_code = 0;
    return std::nullopt;
  }
  return std::move(*flags);
}

absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(const std::string& dir, bool create) {
  if (dir.empty()) return absl::InvalidArgumentError("--db DIR is required");
  storage::StoreOptions options;
  options.create_if_missing = create;
  return storage::Store::Open(dir, options);
}

namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressLine::ProgressLine(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() { Done(); }

void ProgressLine::Update(const ingest::Progress& p) {
  if (!enabled_) return;
  double now = Now();
  if (now - last_draw_ < 0.1) return;
  last_draw_ = now;
  std::string line = StrCat("\r  ", label_, " ");
  if (p.bytes_total > 0) {
    int width = 30;
    double frac = std::min(1.0, static_cast<double>(p.bytes_done) / p.bytes_total);
    int filled = static_cast<int>(frac * width);
    StrAppend(&line, "[", std::string(filled, '#'), std::string(width - filled, '.'), "] ",
              static_cast<int>(frac * 100), "%  ");
  }
  if (p.records > 0 || p.bytes_total == 0) {
    StrAppend(&line, WithThousands(p.records), " records ");
  } else {
    StrAppend(&line, WithThousands(p.bytes_done), " of ", WithThousands(p.bytes_total), " bytes ");
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Done() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

absl::StatusOr<std::unique_ptr<LocalAudit>> LocalAudit::Open(storage::Store* store) {
  auto log = security::AuditLog::Open(store);
  if (!log.ok()) return log.status();
  return std::unique_ptr<LocalAudit>(new LocalAudit(std::move(*log)));
}

LocalAudit::LocalAudit(std::unique_ptr<security::AuditLog> log) : log_(std::move(log)) {
  const passwd* pw = getpwuid(getuid());
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  caller_ = StrCat("local:", pw != nullptr ? pw->pw_name : StrCat("uid", getuid()), "@",
                   host[0] != '\0' ? host : "localhost");
}

absl::Status LocalAudit::Record(const std::string& method, const std::string& query,
                                const absl::Status& outcome, const std::string& released,
                                const std::vector<uint32_t>& individuals) {
  v1::AuditEntry entry;
  entry.set_caller(caller_);
  entry.set_role("operator");
  entry.set_method(method);
  entry.set_query(query);
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  if (outcome.ok()) {
    entry.set_released(released);
    for (uint32_t i : individuals) entry.add_individuals(i);
  }
  if (!log_->AppendAndWait(std::move(entry)).ok()) {
    return absl::InternalError("the store's audit log could not be written; nothing is shown");
  }
  return absl::OkStatus();
}

}  // namespace pmdb::cli
