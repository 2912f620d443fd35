// Source: where a region's exact answers come from — one store's snapshot, or the shards a
// region's store is split across (node/shard/shard_set.h). The Releaser (releaser.h) checks a
// question with the node's engine before any data is read, asks its Source for the exact value
// and turns it into what may leave; nothing about disclosure happens here.
//
// Every exact value comes with the data version it was read at, which disclosure control keys
// its noise on: a store's own version, or for a sharded region the shards' versions together.
#ifndef PMDB_NODE_CORE_SOURCE_H_
#define PMDB_NODE_CORE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/core/similar.h"
#include "node/storage/read_view.h"
#include "pmdb/v1/query.pb.h"
#include "pmdb/v1/records.pb.h"
#include "query/engine.h"

namespace pmdb::storage {
class Store;
}

namespace pmdb::core {

template <typename Answer>
struct Sourced {
  Answer answer;
  std::string version;  // the data version it was read at
};

class Source {
 public:
  virtual ~Source() = default;

  // The data version answers would be read at now (a quote's key).
  virtual absl::StatusOr<std::string> Version() const = 0;

  // The engine's own calls (query/engine.h), evaluated with `engine`'s options wherever the
  // people are.
  virtual absl::StatusOr<Sourced<query::Answer<uint64_t>>> Count(const query::Engine& engine,
                                                                 const v1::Criterion& criterion,
                                                                 v1::Purpose purpose) const = 0;
  virtual absl::StatusOr<Sourced<query::Answer<v1::Breakdown>>> Breakdown(
      const query::Engine& engine, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
      const std::vector<std::string>& diagnoses) const = 0;
  virtual absl::StatusOr<Sourced<query::Answer<query::AlleleFrequency>>> Frequency(
      const query::Engine& engine, const v1::Criterion& criterion, v1::Purpose purpose) const = 0;
  virtual absl::StatusOr<Sourced<std::vector<query::Answer<query::AlleleFrequency>>>> Frequencies(
      const query::Engine& engine, const std::vector<v1::Criterion>& sites,
      v1::Purpose purpose) const = 0;
};

// One store's snapshot: every answer through it is read at that one point in time.
class ViewSource final : public Source {
 public:
  explicit ViewSource(std::unique_ptr<storage::ReadView> view)
      : owned_(std::move(view)), view_(owned_.get()) {}
  // A view the caller keeps alive.
  explicit ViewSource(const storage::ReadView& view) : view_(&view) {}

  absl::StatusOr<std::string> Version() const override;
  absl::StatusOr<Sourced<query::Answer<uint64_t>>> Count(const query::Engine& engine,
                                                         const v1::Criterion& criterion,
                                                         v1::Purpose purpose) const override;
  absl::StatusOr<Sourced<query::Answer<v1::Breakdown>>> Breakdown(
      const query::Engine& engine, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
      const std::vector<std::string>& diagnoses) const override;
  absl::StatusOr<Sourced<query::Answer<query::AlleleFrequency>>> Frequency(
      const query::Engine& engine, const v1::Criterion& criterion,
      v1::Purpose purpose) const override;
  absl::StatusOr<Sourced<std::vector<query::Answer<query::AlleleFrequency>>>> Frequencies(
      const query::Engine& engine, const std::vector<v1::Criterion>& sites,
      v1::Purpose purpose) const override;

  const storage::ReadView& view() const { return *view_; }

 private:
  std::unique_ptr<storage::ReadView> owned_;
  const storage::ReadView* view_;
};

// How many people a region holds, and with which consent.
struct PeopleCounts {
  uint64_t individuals = 0;
  uint64_t research = 0;
  uint64_t care = 0;
};

// One person as a contact request needs them: the record (subject id, care unit) and whether
// the person's care consent stands now.
struct PersonRecord {
  v1::IndividualRecord record;
  bool care = false;
};

// Gives the Source for a question: a fresh one per call (a new snapshot of the store, or the
// region's shards as they stand).
class Sources {
 public:
  virtual ~Sources() = default;
  virtual std::unique_ptr<Source> Open() const = 0;
  // A description of where the data is, for the operators' status ("" for one store).
  virtual std::string Describe() const { return ""; }
  // The people on the shards (a store's own are read from it directly: nullopt).
  virtual std::optional<absl::StatusOr<PeopleCounts>> People() const { return std::nullopt; }
  // The person with `ordinal`, wherever they are; nullopt when nobody has it.
  virtual absl::StatusOr<std::optional<PersonRecord>> Person(uint32_t ordinal) const = 0;
  // The ordinal of the person with `subject` id, wherever they are; nullopt when nobody has it.
  virtual absl::StatusOr<std::optional<uint32_t>> OrdinalOf(const std::string& subject) const = 0;
  // True when the people are elsewhere than the node's own store (its write lock covers none).
  virtual bool remote() const { return false; }
  // A sharded region's similar-case search: every shard scores its own cases with the region's
  // information content, and their best `search.top` come back merged (core::MergeRanked), not
  // yet presented (core::PresentCases). One store is ranked by the core from its own case index:
  // UNIMPLEMENTED.
  virtual absl::StatusOr<RankedCases> RankCases(const v1::CaseQuery& question,
                                                const CaseSearch& search) const;
};

// The person with `ordinal` in `view`; nullopt when nobody has it.
absl::StatusOr<std::optional<PersonRecord>> PersonIn(const storage::ReadView& view,
                                                     uint32_t ordinal);

// A store's snapshot per question.
class StoreSources final : public Sources {
 public:
  explicit StoreSources(const storage::Store* store) : store_(store) {}
  std::unique_ptr<Source> Open() const override;
  absl::StatusOr<std::optional<PersonRecord>> Person(uint32_t ordinal) const override;
  absl::StatusOr<std::optional<uint32_t>> OrdinalOf(const std::string& subject) const override;

 private:
  const storage::Store* store_;
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_SOURCE_H_
