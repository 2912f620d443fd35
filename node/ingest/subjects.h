// SubjectRegistry: maps subject ids to dense individual ordinals during one ingest, and
// BitAccumulator: collects the bitmap changes of one ingest, one bitmap per key.
//
// Both live for one write transaction: read through a snapshot, then Finish() everything into
// one WriteBatch; a large write flushes them part by part into a storage::StagedWrite on the
// way (SubjectRegistry::Flush), which keeps memory to one part. Callers hold the store's write
// lock in between. Not thread-safe.
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
  // Subject::part of a record the store holds.
  static constexpr uint64_t kInStore = UINT64_MAX;
  struct Subject {
    uint32_t ordinal = 0;
    bool is_new = false;
    v1::IndividualRecord record;
    // Purposes the subject opted out of before they were first ingested.
    std::vector<std::string> withheld;
    // The record changed and must be written back.
    bool dirty = false;
    // A new subject whose index entry and membership bits an earlier part of this write holds.
    bool indexed = false;
    // The earlier part of this write that holds the record; kInStore: the store does.
    uint64_t part = kInStore;
  };

  static absl::StatusOr<SubjectRegistry> Load(const storage::ReadView& view);

  // The subject, created if unknown; null when the subject opted out of every purpose.
  // The pointer stays valid until Flush() or Finish().
  absl::StatusOr<Subject*> Resolve(std::string_view subject_id);

  // The subject's ordinal, the subject made if unknown, without reading the record of a known
  // one: for an ingest that only sets bits (a VCF), which leaves known records as they are.
  // Nothing when the subject opted out of every purpose. Each subject once per write.
  absl::StatusOr<std::optional<uint32_t>> Ordinal(std::string_view subject_id);

  // Writes new and changed records and the subject index; new subjects join the
  // all-individuals bitmap and both consent purposes (opt-out model), and sex "unknown" unless a
  // clinical record gave them a sex. Then forgets the records: what is kept of a subject is its
  // ordinal and `part`, the index of the staged part the batch becomes, where Resolve() reads
  // the record back should the subject come again.
  void Flush(storage::WriteBatch& batch, BitAccumulator& bits, uint64_t part);

  // Flush() for a write of one batch (or its last part), and the next ordinal.
  void Finish(storage::WriteBatch& batch, BitAccumulator& bits);

  // Where Resolve() finds the records of subjects flushed into earlier parts.
  void ReadFlushedFrom(storage::StagedWrite* staged) { staged_ = staged; }

  // Whether this write has resolved the subject before (and it did not opt out).
  bool Touched(std::string_view subject_id) const {
    return subjects_.find(subject_id) != subjects_.end() ||
           flushed_.find(subject_id) != flushed_.end();
  }

  uint64_t new_count() const;
  uint64_t touched_count() const { return subjects_.size() + flushed_.size() + known_; }

 private:
  struct Flushed {
    uint32_t ordinal;
    bool is_new;
    uint64_t part;
  };
  SubjectRegistry(const storage::ReadView& view, uint32_t next, storage::ShardRange range)
      : view_(&view), next_(next), range_(range) {}
  // Resolve(), reading the record of a known subject only with `read_record`.
  absl::StatusOr<Subject*> Find(std::string_view subject_id, bool read_record);
  const storage::ReadView* view_;
  storage::StagedWrite* staged_ = nullptr;
  uint32_t next_;
  storage::ShardRange range_;  // where new ordinals may go
  std::map<std::string, Subject, std::less<>> subjects_;
  std::map<std::string, Flushed, std::less<>> flushed_;
  // Known subjects given their ordinal by Ordinal(), held nowhere.
  uint64_t known_ = 0;
  // What Find() returns for them.
  Subject scratch_;
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
