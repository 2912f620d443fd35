#include "node/ingest/subjects.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"

namespace pmdb::ingest {

namespace keys = storage::keys;

void BitAccumulator::Finish(storage::WriteBatch& batch) {
  for (auto& [key, bits] : removes_) {
    bits.Optimize();
    batch.RemoveBits(key, bits);
  }
  for (auto& [key, bits] : adds_) {
    bits.Optimize();
    batch.AddBits(key, bits);
  }
  adds_.clear();
  removes_.clear();
}

absl::StatusOr<SubjectRegistry> SubjectRegistry::Load(const storage::ReadView& view) {
  auto next = view.Get(storage::Family::kMeta, keys::kMetaNextOrdinal);
  if (!next.ok()) return next.status();
  auto range = storage::ShardRangeOf(view);
  if (!range.ok()) return range.status();
  uint32_t value = range->first;
  if (next->has_value()) {
    if ((*next)->size() != 4) return absl::DataLossError("the store's next ordinal is corrupt");
    value = keys::ReadBE32(**next);
  }
  return SubjectRegistry(view, value, *range);
}

absl::StatusOr<SubjectRegistry::Subject*> SubjectRegistry::Resolve(std::string_view subject_id) {
  return Find(subject_id, /*read_record=*/true);
}

absl::StatusOr<std::optional<uint32_t>> SubjectRegistry::Ordinal(std::string_view subject_id) {
  auto subject = Find(subject_id, /*read_record=*/false);
  if (!subject.ok()) return subject.status();
  if (*subject == nullptr) return std::nullopt;
  return (*subject)->ordinal;
}

absl::StatusOr<SubjectRegistry::Subject*> SubjectRegistry::Find(std::string_view subject_id,
                                                                bool read_record) {
  if (subject_id.empty()) return absl::InvalidArgumentError("empty subject id");
  auto it = subjects_.find(subject_id);
  if (it != subjects_.end()) return &it->second;
  if (auto f = flushed_.find(subject_id); f != flushed_.end() && f->second.part != kInStore) {
    // Flushed into an earlier part: its record is there, not yet in the store.
    if (staged_ == nullptr) return absl::InternalError("a flushed subject with no staged write");
    auto bytes = staged_->StagedValue(f->second.part, storage::Family::kIndividuals,
                                      keys::Individual(f->second.ordinal));
    if (!bytes.ok()) return bytes.status();
    Subject subject;
    subject.ordinal = f->second.ordinal;
    subject.is_new = f->second.is_new;
    subject.indexed = f->second.is_new;
    subject.part = f->second.part;
    if (!bytes->has_value() || !subject.record.ParseFromString(**bytes)) {
      return absl::DataLossError("a staged individual record is missing or corrupt");
    }
    flushed_.erase(f);
    auto [pos, inserted] = subjects_.emplace(std::string(subject_id), std::move(subject));
    return &pos->second;
  } else if (f != flushed_.end()) {
    flushed_.erase(f);  // unchanged so far: read from the store again
  }

  auto opted_out = view_->Get(storage::Family::kIndividuals, keys::OptOut(subject_id));
  if (!opted_out.ok()) return opted_out.status();
  Subject subject;
  if (opted_out->has_value()) {
    v1::OptOut record;
    if (!record.ParseFromString(**opted_out)) return absl::DataLossError("an opt-out is corrupt");
    bool all = true;
    for (const std::string& p : AllPurposes()) {
      bool has = std::find(record.purposes().begin(), record.purposes().end(), p) !=
                 record.purposes().end();
      all &= has;
      if (has) subject.withheld.push_back(p);
    }
    if (all) return nullptr;
  }
  auto ordinal = view_->Get(storage::Family::kIndividuals, keys::SubjectIndex(subject_id));
  if (!ordinal.ok()) return ordinal.status();
  if (ordinal->has_value()) {
    if ((*ordinal)->size() != 4) return absl::DataLossError("a subject index entry is corrupt");
    subject.ordinal = keys::ReadBE32(**ordinal);
    if (!read_record) {
      ++known_;
      scratch_ = std::move(subject);
      return &scratch_;
    }
    auto record = view_->Get(storage::Family::kIndividuals, keys::Individual(subject.ordinal));
    if (!record.ok()) return record.status();
    if (!record->has_value() || !subject.record.ParseFromString(**record)) {
      return absl::DataLossError("an individual record is missing or corrupt");
    }
  } else {
    if (next_ == UINT32_MAX) {
      return absl::ResourceExhaustedError("the store holds the maximum of 2^32-1 individuals");
    }
    if (next_ >= range_.end) {
      // New people go to the region's newest shard (docs/operations.md, "A sharded region").
      return absl::ResourceExhaustedError(
          StrCat("this shard's range of individuals [", range_.first, ", ", range_.end,
                 ") is full: ingest new people into the region's newest shard (pmdb shard add)"));
    }
    subject.ordinal = next_++;
    subject.is_new = true;
    subject.record.set_subject_id(std::string(subject_id));
  }
  auto [pos, inserted] = subjects_.emplace(std::string(subject_id), std::move(subject));
  return &pos->second;
}

void SubjectRegistry::Flush(storage::WriteBatch& batch, BitAccumulator& bits, uint64_t part) {
  for (const auto& [id, s] : subjects_) {
    bool written = (s.is_new && !s.indexed) || s.dirty;
    if (written) {
      batch.Put(storage::Family::kIndividuals, keys::Individual(s.ordinal),
                s.record.SerializeAsString());
    }
    // Where a later part finds the record again: this part, an earlier one, or the store.
    flushed_[id] = {s.ordinal, s.is_new, written ? part : s.part};
    if (!s.is_new || s.indexed) continue;
    std::string ordinal;
    keys::AppendBE32(&ordinal, s.ordinal);
    batch.Put(storage::Family::kIndividuals, keys::SubjectIndex(id), ordinal);
    bits.Add(std::string(keys::kAllIndividuals), s.ordinal);
    for (const std::string& p : AllPurposes()) {
      if (std::find(s.withheld.begin(), s.withheld.end(), p) == s.withheld.end()) {
        bits.Add(keys::Consent(p), s.ordinal);
      }
    }
    if (!s.record.has_clinical_record()) bits.Add(keys::Sex('U'), s.ordinal);
  }
  subjects_.clear();
}

void SubjectRegistry::Finish(storage::WriteBatch& batch, BitAccumulator& bits) {
  Flush(batch, bits, staged_ == nullptr ? 0 : staged_->parts());
  std::string next;
  keys::AppendBE32(&next, next_);
  batch.Put(storage::Family::kMeta, keys::kMetaNextOrdinal, next);
}

uint64_t SubjectRegistry::new_count() const {
  uint64_t n = 0;
  for (const auto& [id, s] : subjects_) n += s.is_new;
  for (const auto& [id, f] : flushed_) n += f.is_new;
  return n;
}

std::vector<std::string> EffectiveClinicalKeys(const v1::IndividualRecord& record) {
  if (!record.has_clinical_record()) return {keys::Sex('U')};
  return {record.clinical_keys().begin(), record.clinical_keys().end()};
}

void SetClinicalKeys(SubjectRegistry::Subject& subject, const std::vector<std::string>& new_keys,
                     BitAccumulator& bits) {
  // A new subject has no bits in the store yet; only what this batch added counts (until a
  // flushed part gave it its membership bits, sex "unknown" among them).
  std::vector<std::string> old_keys =
      subject.is_new && !subject.indexed
          ? std::vector<std::string>(subject.record.clinical_keys().begin(),
                                     subject.record.clinical_keys().end())
          : EffectiveClinicalKeys(subject.record);
  std::set<std::string> old_set(old_keys.begin(), old_keys.end());
  std::set<std::string> new_set(new_keys.begin(), new_keys.end());
  for (const std::string& k : old_set) {
    if (!new_set.contains(k)) bits.Remove(k, subject.ordinal);
  }
  for (const std::string& k : new_set) {
    if (!old_set.contains(k)) bits.Add(k, subject.ordinal);
  }
  subject.record.clear_clinical_keys();
  for (const std::string& k : new_set) subject.record.add_clinical_keys(k);
  subject.record.set_has_clinical_record(true);
  subject.dirty = true;
}

}  // namespace pmdb::ingest
