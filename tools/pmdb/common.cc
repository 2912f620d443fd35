#include "tools/pmdb/common.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "node/base/strings.h"
#include "tools/pmdb/output.h"

namespace pmdb::cli {

namespace {

// Set once the command line asked for --json: then failures are JSON on stdout as well.
bool json_errors = false;

}  // namespace

absl::Status PlainError(const absl::Status& status) {
  const std::string raw(status.message());
  if (raw.find("failed to connect to all addresses") == std::string::npos &&
      raw.find("handshake failed") == std::string::npos &&
      raw.find("DNS resolution failed") == std::string::npos) {
    return status;
  }
  // gRPC names the address as "ipv4:127.0.0.1:7104" or "ipv6:[::1]:7104".
  std::string address = "the address you gave";
  for (const char* scheme : {"ipv4:", "ipv6:"}) {
    size_t at = raw.find(scheme);
    if (at == std::string::npos) continue;
    size_t start = at + 5;
    size_t end = raw.find(": ", start);
    address = raw.substr(start, end == std::string::npos ? std::string::npos : end - start);
    break;
  }
  auto has = [&](const char* s) { return raw.find(s) != std::string::npos; };
  std::string plain;
  if (has("certificate verify failed") || has("CERTIFICATE_VERIFY_FAILED")) {
    plain =
        "the server's certificate is not signed by the CA file you gave (--ca or PMDB_CA), "
        "or it has expired";
  } else if (has("Connection refused")) {
    plain = StrCat("nothing answers at ", address,
                   ": is the node (or hub) running, and is that its port?");
  } else if (has("Socket closed") || has("alert")) {
    plain = StrCat("the server at ", address,
                   " closed the connection during the TLS handshake: it most likely refused your "
                   "certificate (not issued by the federation's CA, revoked, expired, or not "
                   "yours: --cert and --key must match), or it is at its connection limit");
  } else if (has("DNS resolution failed")) {
    plain = "the host name could not be resolved (DNS)";
  } else if (has("Connection timed out") || has("Deadline Exceeded")) {
    plain = StrCat("no answer from ", address, " in time (a firewall, or the wrong address?)");
  } else {
    plain = StrCat("cannot reach ", address);
  }
  return absl::Status(status.code(), StrCat(plain, "\n  (gRPC said: ", raw, ")"));
}

int Fail(const std::string& command, const absl::Status& original) {
  absl::Status status = PlainError(original);
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
    : label_(std::move(label)), terminal_(isatty(STDERR_FILENO) == 1), started_(Now()) {
  // Not on a terminal (a log, a pipe, systemd): a whole line now and then instead of a bar
  // redrawn in place. PMDB_PROGRESS_SECONDS sets how often (default 10).
  interval_ = terminal_ ? 0.1 : 10.0;
  if (const char* env = std::getenv("PMDB_PROGRESS_SECONDS"); env != nullptr && !terminal_) {
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end != env && v >= 0) interval_ = v;
  }
  last_draw_ = terminal_ ? 0 : started_;  // a bar at once; a log line after the interval
}

ProgressLine::~ProgressLine() { Done(); }

void ProgressLine::Update(const ingest::Progress& p) {
  double now = Now();
  if (now - last_draw_ < interval_) return;
  last_draw_ = now;
  const double elapsed = std::max(1e-3, now - started_);
  std::string line = terminal_ ? StrCat("\r  ", label_, " ") : StrCat("pmdb: ", label_, " ");
  double frac = -1;
  if (p.bytes_total > 0) {
    frac = std::min(1.0, static_cast<double>(p.bytes_done) / p.bytes_total);
    if (terminal_) {
      int width = 30;
      int filled = static_cast<int>(frac * width);
      StrAppend(&line, "[", std::string(filled, '#'), std::string(width - filled, '.'), "] ");
    }
    StrAppend(&line, static_cast<int>(frac * 100), "%  ");
  }
  if (p.records > 0 || p.bytes_total == 0) {
    StrAppend(&line, WithThousands(p.records), " records, ",
              WithThousands(static_cast<uint64_t>(p.records / elapsed)), "/s");
  } else {
    StrAppend(&line, WithThousands(p.bytes_done), " of ", WithThousands(p.bytes_total), " bytes, ",
              WithThousands(static_cast<uint64_t>(p.bytes_done / elapsed / 1024)), " KiB/s");
  }
  if (frac > 0.01 && frac < 1) {
    StrAppend(&line, ", about ", static_cast<uint64_t>(elapsed * (1 - frac) / frac + 0.5),
              " s left");
  }
  StrAppend(&line, terminal_ ? " " : "\n");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = terminal_;
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
