// How every call on a node and on the hub begins and ends: an audit entry naming the method and
// the region, and one Finish that records the outcome and only then lets the answer go. Nothing
// is released before its entry is durable; when the entry cannot be written the caller gets
// INTERNAL and nothing else. A failed call releases nothing, so its entry says nothing was
// released and touched no one.
#ifndef PMDB_NODE_CALL_FINISH_H_
#define PMDB_NODE_CALL_FINISH_H_

#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmdb/v1/audit.pb.h"
#include "security/audit.h"
#include "security/policy.h"

namespace pmdb::call {

// How an asynchronous call hands back its result. It runs exactly once, on any thread.
template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// An entry for a call to `method`; `region` is empty at the hub.
v1::AuditEntry NewEntry(security::Method method, std::string_view region);

// Sets the entry's outcome, appends it, and runs `done` once it is durable (on the audit
// writer thread) with `outcome`, or with INTERNAL when the entry could not be written.
void Finish(security::AuditLog& log, v1::AuditEntry entry, const absl::Status& outcome,
            std::function<void(absl::Status)> done);

// The same for a call with a result: `done` gets the result only once the entry is durable.
template <typename T>
void Finish(security::AuditLog& log, v1::AuditEntry entry, absl::StatusOr<T> result,
            Done<T> done) {
  absl::Status outcome = result.status();
  auto kept = std::make_shared<absl::StatusOr<T>>(std::move(result));
  Finish(log, std::move(entry), outcome,
         [kept, done = std::move(done)](absl::Status s) {
           if (s.ok()) {
             done(std::move(*kept));
           } else {
             done(std::move(s));
           }
         });
}

// Synchronous form for calls that already run on their own thread (the operators' calls).
absl::Status FinishAndWait(security::AuditLog& log, v1::AuditEntry entry,
                           const absl::Status& outcome);

template <typename T>
absl::StatusOr<T> FinishAndWait(security::AuditLog& log, v1::AuditEntry entry,
                                absl::StatusOr<T> result) {
  absl::Status s = FinishAndWait(log, std::move(entry), result.status());
  if (!s.ok()) return s;
  return result;
}

}  // namespace pmdb::call

#endif  // PMDB_NODE_CALL_FINISH_H_
