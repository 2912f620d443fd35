#include "node/call/finish.h"

namespace pmdb::call {
namespace {

absl::Status AuditFailed() {
  return absl::InternalError("the audit log could not be written; nothing was released");
}

void SetOutcome(v1::AuditEntry& entry, const absl::Status& outcome) {
  entry.set_outcome(outcome.ok() ? "ok" : absl::StatusCodeToString(outcome.code()));
  if (!outcome.ok()) {
    entry.clear_released();
    entry.clear_individuals();
  }
}

}  // namespace

v1::AuditEntry NewEntry(security::Method method, std::string_view region) {
  v1::AuditEntry e;
  e.set_method(security::MethodName(method));
  e.set_region(std::string(region));
  return e;
}

void Finish(security::AuditLog& log, v1::AuditEntry entry, const absl::Status& outcome,
            std::function<void(absl::Status)> done) {
  SetOutcome(entry, outcome);
  log.Append(std::move(entry), [outcome, done = std::move(done)](absl::Status written) {
    done(written.ok() ? outcome : AuditFailed());
  });
}

absl::Status FinishAndWait(security::AuditLog& log, v1::AuditEntry entry,
                           const absl::Status& outcome) {
  SetOutcome(entry, outcome);
  if (!log.AppendAndWait(std::move(entry)).ok()) return AuditFailed();
  return outcome;
}

}  // namespace pmdb::call
