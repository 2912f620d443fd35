#include "node/core/contacts.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "security/case_ref.h"

namespace pmdb::core {

namespace keys = storage::keys;

constexpr size_t kMaxReason = 2000;

v1::ContactTicket ContactBook::TicketOf(const v1::ContactRecord& r) const {
  v1::ContactTicket t;
  t.set_request_id(StrCat(region_, "/", r.id()));
  t.set_region(region_);
  t.set_state(r.state());
  t.set_answer(r.answer());
  t.set_created_unix(r.created_unix());
  t.set_answered_unix(r.answered_unix());
  return t;
}

absl::StatusOr<std::string> ContactBook::LocalId(const std::string& id) const {
  std::string local = id;
  size_t slash = id.find('/');
  if (slash != std::string::npos) {
    if (id.substr(0, slash) != region_) {
      return absl::NotFoundError(StrCat("request ", id, " is not one of region ", region_));
    }
    local = id.substr(slash + 1);
  }
  if (local.empty() || local.size() > 64) {
    return absl::InvalidArgumentError("not a contact request id");
  }
  return local;
}

absl::StatusOr<v1::ContactRecord> ContactBook::Read(const std::string& id) const {
  auto view = store_->Snapshot();
  auto raw = view->Get(storage::Family::kContact, keys::Contact(id));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value())
    return absl::NotFoundError(StrCat("no contact request ", region_, "/", id));
  v1::ContactRecord record;
  if (!record.ParseFromString(**raw)) {
    return absl::DataLossError(StrCat("contact request ", id, " cannot be read"));
  }
  return record;
}

absl::Status ContactBook::CheckReason(const std::string& reason) {
  if (Trim(reason).empty()) {
    return absl::InvalidArgumentError("a contact request needs a reason (why you ask)");
  }
  if (reason.size() > kMaxReason) {
    return absl::InvalidArgumentError(
        StrCat("the reason is longer than ", kMaxReason, " characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ContactTicket> ContactBook::Open(const std::string& requester, uint32_t ordinal,
                                                    const std::string& reason,
                                                    const Sources& people) {
  absl::Status checked = CheckReason(reason);
  if (!checked.ok()) return checked;
  // One store: the consent is checked under the write lock, so no opt-out slips in between. A
  // sharded region's is on a shard, which the lock does not cover.
  std::unique_lock<std::mutex> lock;
  if (!people.remote()) lock = store_->WriteLock();
  auto person = people.Person(ordinal);
  if (!person.ok()) {
    // Which shard failed and where it runs stays in the region.
    std::fprintf(stderr, "pmdb: a contact request could not read its case: %s\n",
                 person.status().ToString().c_str());
    return absl::UnavailableError(
        "the region could not check the case now (the reason is in its operator's log)");
  }
  if (!person->has_value() || !(*person)->care) {
    return absl::FailedPreconditionError("the case is no longer available for care use");
  }
  auto id = security::RandomHex(8);
  if (!id.ok()) return id.status();
  if (!lock.owns_lock()) lock = store_->WriteLock();
  v1::ContactRecord record;
  record.set_id(*id);
  record.set_requester(requester);
  record.set_reason(reason);
  record.set_ordinal(ordinal);
  record.set_created_unix(clock_->NowSeconds());
  record.set_state(v1::CONTACT_PENDING);
  storage::WriteBatch batch = store_->NewBatch();
  batch.Put(storage::Family::kContact, keys::Contact(*id), record.SerializeAsString());
  absl::Status written = store_->Write(batch);
  if (!written.ok()) return written;
  return TicketOf(record);
}

absl::StatusOr<v1::ContactTicket> ContactBook::StatusFor(const std::string& requester,
                                                         const std::string& request_id) const {
  auto local = LocalId(request_id);
  if (!local.ok()) return local.status();
  auto record = Read(*local);
  if (!record.ok()) return record.status();
  if (record->requester() != requester) {
    return absl::NotFoundError(StrCat("no contact request ", request_id, " of yours"));
  }
  return TicketOf(*record);
}

absl::StatusOr<v1::ContactListReply> ContactBook::List(v1::ContactState state,
                                                       const Sources& people) const {
  auto view = store_->Snapshot();
  v1::ContactListReply reply;
  std::vector<uint32_t> ordinals;  // of the requests listed
  absl::Status failure;
  absl::Status s = view->Scan(
      storage::Family::kContact, keys::kContactPrefix, keys::PrefixEnd(keys::kContactPrefix),
      [&](std::string_view, std::string_view value) {
        v1::ContactRecord r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          failure = absl::DataLossError("a contact request cannot be read");
          return false;
        }
        if (state != v1::CONTACT_STATE_UNSPECIFIED && r.state() != state) return true;
        v1::ContactView* v = reply.add_requests();
        *v->mutable_ticket() = TicketOf(r);
        v->set_requester(r.requester());
        v->set_reason(r.reason());
        ordinals.push_back(r.ordinal());
        return true;
      });
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  // Where the cases are (the shards of a sharded region); a case nobody holds any more (an
  // opt-out removed the record) is listed without them.
  for (int i = 0; i < reply.requests_size(); ++i) {
    auto person = people.Person(ordinals[i]);
    if (!person.ok()) {
      // The requests are the node's own: list them all, and say why some lack their case.
      if (reply.problem().empty()) {
        reply.set_problem(
            StrCat("some cases could not be read: ", std::string(person.status().message())));
      }
      continue;
    }
    if (!person->has_value()) continue;
    reply.mutable_requests(i)->set_subject_id((*person)->record.subject_id());
    reply.mutable_requests(i)->set_care_unit((*person)->record.care_unit());
  }
  std::sort(reply.mutable_requests()->begin(), reply.mutable_requests()->end(),
            [](const v1::ContactView& a, const v1::ContactView& b) {
              return std::make_pair(a.ticket().created_unix(), a.ticket().request_id()) <
                     std::make_pair(b.ticket().created_unix(), b.ticket().request_id());
            });
  return reply;
}

absl::StatusOr<v1::ContactTicket> ContactBook::Answer(const std::string& operator_uri,
                                                      const v1::ContactAnswerRequest& request,
                                                      uint32_t* ordinal) {
  auto local = LocalId(request.request_id());
  if (!local.ok()) return local.status();
  auto lock = store_->WriteLock();
  auto record = Read(*local);
  if (!record.ok()) return record.status();
  *ordinal = record->ordinal();
  if (record->state() != v1::CONTACT_PENDING) {
    return absl::FailedPreconditionError(StrCat("request ", region_, "/", *local,
                                                " was already answered (",
                                                v1::ContactState_Name(record->state()), ")"));
  }
  record->set_state(request.accept() ? v1::CONTACT_ACCEPTED : v1::CONTACT_DECLINED);
  record->set_answer(request.message());
  record->set_answered_by(operator_uri);
  record->set_answered_unix(clock_->NowSeconds());
  storage::WriteBatch batch = store_->NewBatch();
  batch.Put(storage::Family::kContact, keys::Contact(*local), record->SerializeAsString());
  absl::Status written = store_->Write(batch);
  if (!written.ok()) return written;
  return TicketOf(*record);
}

}  // namespace pmdb::core
