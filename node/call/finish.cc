#include "node/call/finish.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include "node/base/log.h"

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

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the log line of a finished call says, taken from its entry before it is appended (and
// the arrival time cleared, so that it is never stored).
struct CallLine {
  std::string caller, role, via, method, region, outcome, query_hash;
  uint64_t rho_micros = 0;
  int64_t arrived = 0;

  explicit CallLine(v1::AuditEntry& e)
      : caller(e.caller()),
        role(e.role()),
        via(e.via()),
        method(e.method()),
        region(e.region()),
        outcome(e.outcome()),
        // The question only as a hash of its text: what it asked stays in the audit log.
        query_hash(e.query().empty() ? ""
                                     : security::Hex(security::Sha256(e.query())).substr(0, 16)),
        rho_micros(e.rho_micros()),
        arrived(e.arrived_steady_nanos()) {
    e.clear_arrived_steady_nanos();
  }

  void Emit(const absl::Status& written) const {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t salt = std::random_device()();
    char id[17];
    std::snprintf(id, sizeof id, "%016llx",
                  static_cast<unsigned long long>((salt << 32) ^ counter.fetch_add(1)));
    log::Line line(written.ok() ? "info" : "error", "call");
    line.Str("request_id", id).Str("method", method).Str("caller", caller).Str("role", role);
    if (!via.empty()) line.Str("via", via);
    if (!region.empty()) line.Str("region", region);
    line.Str("status", written.ok() ? outcome : "INTERNAL (audit log not written)");
    if (arrived > 0) line.Num("latency_ms", static_cast<double>(SteadyNanos() - arrived) / 1e6);
    if (rho_micros > 0) line.Num("rho_charged", static_cast<double>(rho_micros) / 1e6);
    if (!query_hash.empty()) line.Str("query_sha256", query_hash);
    line.Emit();
  }
};

}  // namespace

v1::AuditEntry NewEntry(security::Method method, std::string_view region) {
  v1::AuditEntry e;
  e.set_method(security::MethodName(method));
  e.set_region(std::string(region));
  e.set_arrived_steady_nanos(SteadyNanos());
  return e;
}

void Finish(security::AuditLog& log, v1::AuditEntry entry, const absl::Status& outcome,
            std::function<void(absl::Status)> done) {
  SetOutcome(entry, outcome);
  auto line = log::Enabled() ? std::make_shared<CallLine>(entry) : nullptr;
  entry.clear_arrived_steady_nanos();
  log.Append(std::move(entry), [outcome, line, done = std::move(done)](absl::Status written) {
    if (line != nullptr) line->Emit(written);
    done(written.ok() ? outcome : AuditFailed());
  });
}

absl::Status FinishAndWait(security::AuditLog& log, v1::AuditEntry entry,
                           const absl::Status& outcome) {
  SetOutcome(entry, outcome);
  std::optional<CallLine> line;
  if (log::Enabled()) line.emplace(entry);
  entry.clear_arrived_steady_nanos();
  absl::Status written = log.AppendAndWait(std::move(entry));
  if (line.has_value()) line->Emit(written);
  if (!written.ok()) return AuditFailed();
  return outcome;
}

}  // namespace pmdb::call
