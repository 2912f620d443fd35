#include "node/ingest/consent.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/ingest/subjects.h"
#include "node/storage/keys.h"
#include "pmdb/v1/records.pb.h"

namespace pmdb::ingest {

namespace keys = storage::keys;
using storage::Bitmap;

absl::StatusOr<WithdrawalSummary> WithdrawConsent(storage::Store& store, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot open"));
  WithdrawalSummary summary;
  std::map<std::string, std::set<std::string>> requests;  // subject -> purposes
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view l = Trim(line);
    if (l.empty() || l.front() == '#') continue;
    ++summary.lines;
    size_t space = l.find_first_of(" \t");
    std::string subject(l.substr(0, space));
    auto& purposes = requests[subject];
    if (space == std::string_view::npos) {
      purposes.insert(AllPurposes().begin(), AllPurposes().end());
      continue;
    }
    std::string purpose = ToLower(Trim(l.substr(space)));
    if (std::find(AllPurposes().begin(), AllPurposes().end(), purpose) == AllPurposes().end()) {
      return absl::InvalidArgumentError(StrCat(path, ":", line_no, ": unknown purpose '", purpose,
                                               "' (expected research or care, or nothing for "
                                               "every purpose)"));
    }
    purposes.insert(purpose);
  }

  auto lock = store.WriteLock();
  auto view = store.Snapshot();
  storage::WriteBatch batch = store.NewBatch();
  Bitmap removed;
  std::map<std::string, Bitmap> purpose_removals;
  for (const auto& [subject, purposes] : requests) {
    v1::OptOut opt_out;
    auto existing = view->Get(storage::Family::kIndividuals, keys::OptOut(subject));
    if (!existing.ok()) return existing.status();
    if (existing->has_value() && !opt_out.ParseFromString(**existing)) {
      return absl::DataLossError("an opt-out record is corrupt");
    }
    std::set<std::string> all(opt_out.purposes().begin(), opt_out.purposes().end());
    all.insert(purposes.begin(), purposes.end());
    opt_out.clear_purposes();
    for (const std::string& p : all) opt_out.add_purposes(p);
    batch.Put(storage::Family::kIndividuals, keys::OptOut(subject), opt_out.SerializeAsString());

    auto ordinal = view->Get(storage::Family::kIndividuals, keys::SubjectIndex(subject));
    if (!ordinal.ok()) return ordinal.status();
    if (!ordinal->has_value()) {
      ++summary.not_in_store;
      continue;
    }
    uint32_t o = keys::ReadBE32(**ordinal);
    if (all.size() == AllPurposes().size()) {
      removed.Add(o);
      batch.Delete(storage::Family::kIndividuals, keys::Individual(o));
      batch.Delete(storage::Family::kIndividuals, keys::SubjectIndex(subject));
      ++summary.removed;
      continue;
    }
    for (const std::string& p : purposes) {
      purpose_removals[keys::Consent(p)].Add(o);
      if (p == "research") ++summary.withdrawn_research;
      if (p == "care") ++summary.withdrawn_care;
    }
  }
  for (auto& [key, bits] : purpose_removals) batch.RemoveBits(key, bits);

  // Remove everyone withdrawn from every purpose from every bitmap that holds them.
  if (!removed.Empty()) {
    absl::Status decode_error;
    absl::Status s = view->Scan(storage::Family::kBitmaps, "", "",
                                [&](std::string_view key, std::string_view value) {
                                  auto bits = Bitmap::Deserialize(value);
                                  if (!bits.ok()) {
                                    decode_error = bits.status();
                                    return false;
                                  }
                                  if (bits->AndCardinality(removed) > 0) {
                                    batch.RemoveBits(key, removed);
                                    ++summary.bitmaps_rewritten;
                                  }
                                  return true;
                                });
    if (!s.ok()) return s;
    if (!decode_error.ok()) return decode_error;
  }
  absl::Status written = store.Write(batch);
  if (!written.ok()) return written;
  return summary;
}

}  // namespace pmdb::ingest
