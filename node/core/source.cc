#include "node/core/source.h"

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "node/storage/store.h"

namespace pmdb::core {
namespace {

template <typename T>
absl::StatusOr<Sourced<T>> WithVersion(absl::StatusOr<T> answer, const storage::ReadView& view) {
  if (!answer.ok()) return answer.status();
  auto version = storage::DataVersion(view);
  if (!version.ok()) return version.status();
  return Sourced<T>{std::move(*answer), std::move(*version)};
}

}  // namespace

absl::StatusOr<std::string> ViewSource::Version() const { return storage::DataVersion(*view_); }

absl::StatusOr<Sourced<query::Answer<uint64_t>>> ViewSource::Count(const query::Engine& engine,
                                                                   const v1::Criterion& criterion,
                                                                   v1::Purpose purpose) const {
  return WithVersion(engine.Count(*view_, criterion, purpose), *view_);
}

absl::StatusOr<Sourced<query::Answer<v1::Breakdown>>> ViewSource::Breakdown(
    const query::Engine& engine, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
    const std::vector<std::string>& diagnoses) const {
  return WithVersion(engine.Breakdown(*view_, criterion, dimensions, purpose, diagnoses), *view_);
}

absl::StatusOr<Sourced<query::Answer<query::AlleleFrequency>>> ViewSource::Frequency(
    const query::Engine& engine, const v1::Criterion& criterion, v1::Purpose purpose) const {
  return WithVersion(engine.Frequency(*view_, criterion, purpose), *view_);
}

absl::StatusOr<Sourced<std::vector<query::Answer<query::AlleleFrequency>>>> ViewSource::Frequencies(
    const query::Engine& engine, const std::vector<v1::Criterion>& sites,
    v1::Purpose purpose) const {
  return WithVersion(engine.Frequencies(*view_, sites, purpose), *view_);
}

std::unique_ptr<Source> StoreSources::Open() const {
  return std::make_unique<ViewSource>(store_->Snapshot());
}

absl::StatusOr<std::optional<PersonRecord>> PersonIn(const storage::ReadView& view,
                                                     uint32_t ordinal) {
  auto raw = view.Get(storage::Family::kIndividuals, storage::keys::Individual(ordinal));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  PersonRecord person;
  if (!person.record.ParseFromString(**raw)) {
    return absl::DataLossError(
        StrCat("the individual record of ordinal ", ordinal, " cannot be read"));
  }
  auto care = view.GetBitmap(storage::keys::Consent("care"));
  if (!care.ok()) return care.status();
  person.care = care->Contains(ordinal);
  return person;
}

absl::StatusOr<std::optional<PersonRecord>> StoreSources::Person(uint32_t ordinal) const {
  return PersonIn(*store_->Snapshot(), ordinal);
}

absl::StatusOr<std::optional<uint32_t>> StoreSources::OrdinalOf(const std::string& subject) const {
  auto held =
      store_->Snapshot()->Get(storage::Family::kIndividuals, storage::keys::SubjectIndex(subject));
  if (!held.ok()) return held.status();
  if (!held->has_value() || (*held)->size() != 4) return std::nullopt;
  return storage::keys::ReadBE32(**held);
}

absl::StatusOr<RankedCases> Sources::RankCases(const v1::CaseQuery&, const CaseSearch&) const {
  return absl::UnimplementedError("one store's cases are ranked from the node's case index");
}

}  // namespace pmdb::core
