// Helpers shared by the pmdb subcommands: error reporting, opening a store, progress display.
#ifndef PMDB_TOOLS_PMDB_COMMON_H_
#define PMDB_TOOLS_PMDB_COMMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/ingest/summary.h"
#include "node/storage/store.h"
#include "security/audit.h"
#include "tools/pmdb/flags.h"

namespace pmdb::cli {

// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints "pmdb COMMAND: MESSAGE" to stderr and returns kExitFailure.
int Fail(const std::string& command, const absl::Status& status);
// A connection or TLS failure as gRPC words it, said plainly for the person at the command
// line (gRPC's own text kept after it); any other status as it is.
absl::Status PlainError(const absl::Status& status);
int UsageError(const CommandSpec& spec, const absl::Status& status);

// Parses flags; on --help prints the help and sets *exit_code to 0, on error prints it and sets
// *exit_code to kExitUsage. Returns nullopt in both cases.
std::optional<Flags> ParseOrExit(const CommandSpec& spec, int argc, char** argv, int* exit_code);

absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(const std::string& dir, bool create);

// The audit log of a store that the operator's own command opened (--db): every question,
// similar-case search, ingest and opt-out made this way is an entry, as it would be through the
// node, under the local user's name ("local:USER@HOST", role operator, method "Local/...").
// Nothing is shown before its entry is durable.
class LocalAudit {
 public:
  static absl::StatusOr<std::unique_ptr<LocalAudit>> Open(storage::Store* store);
  // Appends the entry and waits; INTERNAL when it could not be written, and then nothing of
  // the answer may be shown. `query` and `released` never hold a subject id.
  // `individuals`: the ordinals of the people an answer showed (similar cases).
  absl::Status Record(const std::string& method, const std::string& query,
                      const absl::Status& outcome, const std::string& released = "",
                      const std::vector<uint32_t>& individuals = {});

 private:
  explicit LocalAudit(std::unique_ptr<security::AuditLog> log);
  std::unique_ptr<security::AuditLog> log_;
  std::string caller_;
};

// A progress line on stderr, drawn only when stderr is a terminal.
// Progress of long work on stderr: on a terminal a bar redrawn in place (and erased when done);
// otherwise a whole line every 10 s (PMDB_PROGRESS_SECONDS) with the rate and, when the total
// is known, the time left, for logs and supervisors.
class ProgressLine {
 public:
  explicit ProgressLine(std::string label);
  ~ProgressLine();
  void Update(const ingest::Progress& p);
  void Done();

 private:
  std::string label_;
  bool terminal_;
  double started_;
  double interval_;
  bool drawn_ = false;
  double last_draw_ = 0;
};

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_COMMON_H_
