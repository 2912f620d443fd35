// SubjectRegistry: maps subject ids to dense individual ordinals during one ingest, and
// BitAccumulator: collects the bitmap changes of one ingest, one bitmap per key.
//
// Both live for one write transaction: read through a snapshot, then Finish() everything into
// one WriteBatch. Callers hold the store's write lock in between. Not thread-safe.
#ifndef PMDB_NODE_INGEST_SUBJECTS_H_
#define PMDB_NODE_INGEST_SUBJECTS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "node/storage/bitmap.h"
#include "node/storage/read_view.h"
#include "node/storage/store.h"
#include "pmdb/v1/records.pb.h"

namespace pmdb::ingest {

class BitAccumulator {
 public:
  void Add(const std::string& key, uint32_t ordinal) { adds_[key].Add(ordinal); }
  void Remove(const std::string& key, uint32_t ordinal) { removes_[key].Add(ordinal); }
  // Writes one merge operand per key: removals first, then additions.
  void Finish(storage::WriteBatch& batch);

 private:
  std::map<std::string, storage::Bitmap> adds_, removes_;
};

class SubjectRegistry {
 public:
  struct Subject {
    uint32_t ordinal = 0;
    bool is_new = false;
    v1::IndividualRecord record;
    // Purposes the subject opted out of before they were first ingested.
    std::vector<std::string> withheld;
    // The record changed and must be written back.
    bool dirty = false;
  };

  static absl::StatusOr<SubjectRegistry> Load(const storage::ReadView& view);

  // The subject, created if unknown; null when the subject opted out of every purpose.
  // The pointer stays valid until Finish().
  absl::StatusOr<Subject*> Resolve(std::string_view subject_id);

  // Writes new and changed records, the subject index and the next ordinal; new subjects join
  // the all-individuals bitmap and both consent purposes (opt-out model), and sex "unknown"
  // unless a clinical record gave them a sex.
  void Finish(storage::WriteBatch& batch, BitAccumulator& bits);

  uint64_t new_count() const;
  uint64_t touched_count() const { return subjects_.size(); }

 private:
  explicit SubjectRegistry(const storage::ReadView& view, uint32_t next)
      : view_(&view), next_(next) {}
  const storage::ReadView* view_;
  uint32_t next_;
  std::map<std::string, Subject, std::less<>> subjects_;
};

// The clinical bitmap keys a stored record has bits in (see IndividualRecord.clinical_keys).
std::vector<std::string> EffectiveClinicalKeys(const v1::IndividualRecord& record);

// Gives the subject a clinical record with these keys: bits of keys no longer present are
// removed, new ones added, and the record remembers the new set.
// Purposes a subject can opt out of.
inline const std::vector<std::string>& AllPurposes() {
  static const std::vector<std::string> kAll = {"care", "research"};
  return kAll;
}

void SetClinicalKeys(SubjectRegistry::Subject& subject, const std::vector<std::string>& keys,
                     BitAccumulator& bits);

}  // namespace pmdb::ingest

#endif  // PMDB_NODE_INGEST_SUBJECTS_H_
