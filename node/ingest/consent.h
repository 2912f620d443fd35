// Consent withdrawal under the Swedish opt-out model: everyone takes part until they opt out.
//
// Input: one subject id per line, optionally followed by whitespace and a purpose ("research" or
// "care"); no purpose means every purpose. A subject out of every purpose is removed: record,
// subject index and every bitmap bit, and a marker keeps later ingests from adding them again.
// A subject out of one purpose leaves that purpose's consent bitmap, which every query ANDs with.
// Subjects not in the store are remembered too, so their data is refused when it arrives.
// One write batch for the whole file.
#ifndef PMDB_NODE_INGEST_CONSENT_H_
#define PMDB_NODE_INGEST_CONSENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "node/storage/store.h"

namespace pmdb::ingest {

struct WithdrawalSummary {
  uint64_t lines = 0;
  uint64_t removed = 0;              // out of every purpose: all data deleted
  uint64_t withdrawn_research = 0;   // out of research only
  uint64_t withdrawn_care = 0;       // out of care only
  uint64_t not_in_store = 0;         // remembered for later ingests
  uint64_t bitmaps_rewritten = 0;
};

absl::StatusOr<WithdrawalSummary> WithdrawConsent(storage::Store& store, const std::string& path);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_CONSENT_H_
