// The hub as a witness of every region's audit chain.
//
// A region's budgets are rebuilt from its own audit log, so whoever can rewrite a node's store
// (and the anchor file beside it) could hand spent budget back: cut the log short, put back an
// older copy, or edit entries and re-link the chain. A node cannot catch that by itself. The hub
// can: it asks every region for its chain's head now and then (RegionService/AuditHead), keeps
// the last length and hash it saw in its own store, and asks next time for the hash of that
// same entry. A chain that got shorter, or whose witnessed entry changed, was rolled back or
// rewritten; the hub then stops forwarding questions to that region, says why in every answer
// (the region is reported as unavailable with the reason, never counted as zero), and keeps
// refusing across its own restarts until the hub's operator accepts the region's log as it is now
// (`pmdb hub --accept-region-audit REGION`).
//
// What it cannot catch: entries written since the hub's last look and rolled back before its
// next one. The interval bounds that window (`[hub] witness_interval_s`, 30 s by default).
// Thread-safe.
#ifndef PMDB_NODE_HUB_WITNESS_H_
#define PMDB_NODE_HUB_WITNESS_H_

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "node/storage/store.h"
#include "pmdb/v1/audit.pb.h"
#include "pmdb/v1/region.pb.h"

namespace pmdb::hub {

class Witness {
 public:
  // Loads what the hub witnessed of `regions` from its store (which must outlive the witness).
  // The regions in `accept` start afresh: what was witnessed of them, and why they were refused,
  // is forgotten, and their next head is taken as it is.
  static absl::StatusOr<std::unique_ptr<Witness>> Open(storage::Store* store,
                                                       const std::vector<std::string>& regions,
                                                       const std::vector<std::string>& accept);

  // What to ask `region` (the length witnessed last, 0 for none).
  v1::AuditHeadRequest Ask(const std::string& region) const;
  // Checks the region's reply against what was witnessed and keeps it when consistent. Returns
  // the problem when the chain was shortened or rewritten (the region is then refused from now
  // on), or when the write to the hub's store failed.
  absl::Status Observe(const std::string& region, const v1::AuditHeadReply& head,
                       int64_t now_micros);
  // Checks each new head's signature (security/signed_head.h); a head that fails is kept, for
  // what it says about the chain, without the signature and with why (WitnessedHead).
  void set_verifier(
      std::function<absl::Status(const std::string& region, const v1::AuditHeadReply& head)>
          verify) {
    verify_ = std::move(verify);
  }
  // Why the hub no longer forwards to `region`, if it does not.
  std::optional<std::string> Refusal(const std::string& region) const;
  v1::WitnessedHead Last(const std::string& region) const;

 private:
  explicit Witness(storage::Store* store) : store_(store) {}
  absl::Status Keep(const std::string& region, const v1::WitnessedHead& head);

  storage::Store* store_;
  std::function<absl::Status(const std::string&, const v1::AuditHeadReply&)> verify_;
  mutable std::mutex mu_;
  std::map<std::string, v1::WitnessedHead> heads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_WITNESS_H_
