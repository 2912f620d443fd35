// Contact requests at the region that holds the case: a clinician's request to reach the care
// unit of a similar case, stored in the `contact` family until the region's operator answers.
// The requester sees only their own requests; the operators see all, with the subject id and
// care unit, because they must find the patient's clinic. Writes take the store's write lock,
// so two answers to one request cannot both succeed. Thread-safe.
#ifndef PMDB_NODE_CORE_CONTACTS_H_
#define PMDB_NODE_CORE_CONTACTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "node/base/clock.h"
#include "node/core/source.h"
#include "node/storage/store.h"
#include "pmdb/v1/records.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::core {

class ContactBook {
 public:
  // `store` and `clock` must outlive the book.
  ContactBook(std::string region, storage::Store* store, const Clock* clock)
      : region_(std::move(region)), store_(store), clock_(clock) {}

  // INVALID_ARGUMENT unless the reason says something and is at most 2000 characters.
  static absl::Status CheckReason(const std::string& reason);

  // Stores a new pending request from `requester` about the case with `ordinal`, which must
  // still have care consent where `people` holds them (FAILED_PRECONDITION otherwise).
  absl::StatusOr<v1::ContactTicket> Open(const std::string& requester, uint32_t ordinal,
                                         const std::string& reason, const Sources& people);

  // One of `requester`'s requests; another's is NOT_FOUND, as if it did not exist.
  absl::StatusOr<v1::ContactTicket> StatusFor(const std::string& requester,
                                              const std::string& request_id) const;

  // Every request in `state` (all for CONTACT_STATE_UNSPECIFIED), oldest first, each with the
  // case's subject id and care unit as `people` holds them.
  absl::StatusOr<v1::ContactListReply> List(v1::ContactState state, const Sources& people) const;

  // The operator's answer; FAILED_PRECONDITION when the request was already answered.
  // `ordinal` receives the case the request concerned, for the audit log.
  absl::StatusOr<v1::ContactTicket> Answer(const std::string& operator_uri,
                                           const v1::ContactAnswerRequest& request,
                                           uint32_t* ordinal);

 private:
  absl::StatusOr<v1::ContactRecord> Read(const std::string& id) const;
  // "vast/1a2b…" or "1a2b…" -> "1a2b…" when the region matches.
  absl::StatusOr<std::string> LocalId(const std::string& id) const;
  v1::ContactTicket TicketOf(const v1::ContactRecord& r) const;

  std::string region_;
  storage::Store* store_;
  const Clock* clock_;
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_CONTACTS_H_
