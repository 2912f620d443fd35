#include "node/hub/witness.h"

#include <algorithm>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "security/audit.h"

namespace pmdb::hub {
namespace {

std::string KeyOf(const std::string& region) { return StrCat("witness/", region); }

std::string Short(const std::string& hash) { return security::Hex(hash).substr(0, 16); }

}  // namespace

absl::StatusOr<std::unique_ptr<Witness>> Witness::Open(storage::Store* store,
                                                       const std::vector<std::string>& regions,
                                                       const std::vector<std::string>& accept) {
  std::unique_ptr<Witness> w(new Witness(store));
  auto view = store->Snapshot();
  for (const std::string& r : accept) {
    if (std::find(regions.begin(), regions.end(), r) == regions.end()) {
      return absl::InvalidArgumentError(
          StrCat("--accept-region-audit ", r, ": no region ", r, " is configured at this hub"));
    }
  }
  for (const std::string& r : regions) {
    auto value = view->Get(storage::Family::kMeta, KeyOf(r));
    if (!value.ok()) return value.status();
    v1::WitnessedHead head;
    if (value->has_value() && !head.ParseFromString(**value)) {
      return absl::DataLossError(
          StrCat("the hub's record of region ", r, "'s audit head is damaged"));
    }
    if (std::find(accept.begin(), accept.end(), r) != accept.end()) {
      head.Clear();
      absl::Status kept = w->Keep(r, head);
      if (!kept.ok()) return kept;
    }
    w->heads_[r] = std::move(head);
  }
  return w;
}

v1::AuditHeadRequest Witness::Ask(const std::string& region) const {
  v1::AuditHeadRequest request;
  request.set_at(Last(region).entries());
  return request;
}

v1::WitnessedHead Witness::Last(const std::string& region) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = heads_.find(region);
  return it == heads_.end() ? v1::WitnessedHead() : it->second;
}

std::optional<std::string> Witness::Refusal(const std::string& region) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = heads_.find(region);
  if (it == heads_.end() || it->second.broken().empty()) return std::nullopt;
  return it->second.broken();
}

absl::Status Witness::Observe(const std::string& region, const v1::AuditHeadReply& head,
                              int64_t now_micros) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::WitnessedHead& last = heads_[region];
  if (!last.broken().empty()) return absl::FailedPreconditionError(last.broken());
  std::string broken;
  if (head.region() != region) {
    broken = StrCat("region ", region, " reported the audit head of region ", head.region());
  } else if (last.entries() > 0 && head.at() != last.entries()) {
    broken =
        StrCat("region ", region, " answered about entry ", head.at(), ", not ", last.entries());
  } else if (head.entries() < last.entries()) {
    broken =
        StrCat("region ", region, "'s audit log has ", head.entries(), " entries, but the hub saw ",
               last.entries(), ": it was cut short or an older copy was put back");
  } else if (last.entries() > 0 && head.hash_at() != last.hash()) {
    broken = StrCat("region ", region, "'s audit entry ", last.entries() - 1, " is no longer the ",
                    "one the hub saw (", Short(last.hash()),
                    "): an older copy was put back, or the log was rewritten");
  } else if (head.entries() > 0 && head.head_hash().size() != 32) {
    broken = StrCat("region ", region, " reported a malformed audit head");
  }
  v1::WitnessedHead next = last;
  if (broken.empty()) {
    if (head.entries() == last.entries() && head.head_hash() == last.hash()) {
      return absl::OkStatus();  // nothing new to keep
    }
    next.set_entries(head.entries());
    next.set_hash(head.head_hash());
    next.set_time_unix_micros(now_micros);
    // The node's signature, kept as evidence: `pmdb audit heads` checks it again against the CA.
    absl::Status signed_ok = verify_ ? verify_(region, head) : absl::OkStatus();
    next.set_signature(signed_ok.ok() ? head.signature() : "");
    next.set_signed_time_unix_micros(head.time_unix_micros());
    next.set_certificate(signed_ok.ok() ? head.certificate() : "");
    next.set_signature_problem(signed_ok.ok() ? "" : std::string(signed_ok.message()));
  } else {
    next.set_broken(StrCat(broken, "; the hub no longer forwards questions to it until the hub's ",
                           "operator accepts its log (pmdb hub --accept-region-audit ", region,
                           ")"));
  }
  absl::Status kept = Keep(region, next);
  if (!kept.ok()) return kept;
  last = std::move(next);
  if (!broken.empty()) return absl::FailedPreconditionError(last.broken());
  return absl::OkStatus();
}

absl::Status Witness::Keep(const std::string& region, const v1::WitnessedHead& head) {
  storage::WriteBatch batch = store_->NewBatch();
  batch.Put(storage::Family::kMeta, KeyOf(region), head.SerializeAsString());
  return store_->Write(batch);
}

}  // namespace pmdb::hub
