#include "node/core/releaser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "node/base/strings.h"
#include "node/storage/store.h"
#include "security/audit.h"
#include "security/released.h"

namespace pmdb::core {
namespace {

template <typename Answer>
void AddWarnings(const std::vector<std::string>& warnings, Answer& a) {
  for (const std::string& w : warnings) a.add_warnings(w);
}

}  // namespace

absl::Status Releaser::AfterReading(absl::Status status, std::string_view kind) const {
  if (status.ok() || discloser_ == nullptr) return status;
  // The real error stays in the region: its text may name a key, a file or a record.
  std::fprintf(stderr, "pmdb: a %.*s answer failed while reading data: %s\n",
               static_cast<int>(kind.size()), kind.data(), status.ToString().c_str());
  return absl::InternalError(kCouldNotAnswer);
}

template <typename T>
absl::StatusOr<query::Answer<T>> Releaser::Evaluated(absl::StatusOr<query::Answer<T>> evaluated,
                                                     const query::Prepared& checked,
                                                     std::string_view kind) const {
  if (!evaluated.ok()) return AfterReading(evaluated.status(), kind);
  if (evaluated->question != checked.text) {
    return AfterReading(absl::InternalError(StrCat("the engine evaluated '", evaluated->question,
                                                   "', not the checked '", checked.text, "'")),
                        kind);
  }
  evaluated->warnings = checked.warnings;
  return evaluated;
}

absl::StatusOr<std::string> Releaser::KeyOf(std::string_view kind, const std::string& question,
                                            absl::StatusOr<std::string> version,
                                            const std::vector<v1::Dimension>& dimensions,
                                            const std::vector<std::string>& diagnoses) const {
  if (!version.ok()) return AfterReading(version.status(), kind);
  std::string key = StrCat(kind, " ", question);
  for (v1::Dimension d : dimensions) StrAppend(&key, " by ", query::DimensionName(d));
  for (const std::string& d : diagnoses) StrAppend(&key, " ", d);
  StrAppend(&key, " @", *version);
  return key;
}

v1::DisclosureApplied Releaser::Applied() const {
  if (discloser_ != nullptr) return discloser_->Applied();
  v1::DisclosureApplied exact;
  exact.set_exact(true);
  exact.set_mechanism("exact");
  exact.set_description("exact: the region's own operator, audited");
  return exact;
}

absl::StatusOr<Release<v1::CountAnswer>> Releaser::Count(const Source& source,
                                                         const v1::Criterion& criterion,
                                                         v1::Purpose purpose) const {
  auto checked = engine_.CheckCount(criterion);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Count(engine_, criterion, purpose);
  if (!sourced.ok()) return AfterReading(sourced.status(), "count");
  auto r = Evaluated<uint64_t>(std::move(sourced->answer), *checked, "count");
  if (!r.ok()) return r.status();
  Release<v1::CountAnswer> out;
  v1::CountAnswer& a = out.answer;
  if (discloser_ != nullptr) {
    auto key = KeyOf("count", checked->text, sourced->version);
    if (!key.ok()) return key.status();
    *a.mutable_count() = discloser_->ReleaseCount(r->value, *key);
    out.fingerprint = discloser_->Fingerprint(*key);
    out.cost_micros = discloser_->CostMicros();
  } else {
    *a.mutable_count() = security::ExactCount(r->value);
  }
  *a.mutable_disclosure() = Applied();
  AddWarnings(r->warnings, a);
  return out;
}

absl::StatusOr<Release<v1::BreakdownAnswer>> Releaser::Breakdown(
    const Source& source, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
    v1::Purpose purpose) const {
  auto checked = engine_.CheckBreakdown(criterion, dimensions, diagnoses);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Breakdown(engine_, criterion, dimensions, purpose, diagnoses);
  if (!sourced.ok()) return AfterReading(sourced.status(), "breakdown");
  auto r = Evaluated<v1::Breakdown>(std::move(sourced->answer), *checked, "breakdown");
  if (!r.ok()) return r.status();
  Release<v1::BreakdownAnswer> out;
  v1::BreakdownAnswer& a = out.answer;
  for (v1::Dimension d : dimensions) a.add_dimensions(d);
  if (discloser_ != nullptr) {
    auto key = KeyOf("breakdown", checked->text, sourced->version, dimensions, diagnoses);
    if (!key.ok()) return key.status();
    for (v1::ReleasedCell& cell : discloser_->ReleaseBreakdown(r->value, *key)) {
      *a.add_cells() = std::move(cell);
    }
    out.fingerprint = discloser_->Fingerprint(*key);
    // The cost follows from the question alone: it is known before any data is read.
    out.cost_micros = discloser_->CostMicros(query::CellsPerPerson(dimensions, diagnoses));
  } else {
    for (const v1::BreakdownCell& cell : r->value.cells()) {
      v1::ReleasedCell* c = a.add_cells();
      *c->mutable_labels() = cell.labels();
      *c->mutable_count() = security::ExactCount(cell.count());
    }
  }
  *a.mutable_disclosure() = Applied();
  AddWarnings(r->warnings, a);
  return out;
}

absl::StatusOr<Release<v1::FrequencyAnswer>> Releaser::Frequency(const Source& source,
                                                                 const v1::Criterion& criterion,
                                                                 v1::Purpose purpose) const {
  auto checked = engine_.CheckFrequency(criterion);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Frequency(engine_, criterion, purpose);
  if (!sourced.ok()) return AfterReading(sourced.status(), "frequency");
  auto r = Evaluated<query::AlleleFrequency>(std::move(sourced->answer), *checked, "frequency");
  if (!r.ok()) return r.status();
  Release<v1::FrequencyAnswer> out;
  v1::FrequencyAnswer& a = out.answer;
  if (discloser_ != nullptr) {
    auto key = KeyOf("frequency", checked->text, sourced->version);
    if (!key.ok()) return key.status();
    // One person adds up to two alleles to AC and to AN (a diploid call), so each number's
    // noise is twice a count's and each costs what a count does.
    *a.mutable_ac() = discloser_->ReleaseCount(r->value.ac, *key + " ac", 2);
    *a.mutable_an() = discloser_->ReleaseCount(r->value.an, *key + " an", 2);
    out.fingerprint = discloser_->Fingerprint(*key);
    out.cost_micros = 2 * discloser_->CostMicros();
  } else {
    *a.mutable_ac() = security::ExactCount(r->value.ac);
    *a.mutable_an() = security::ExactCount(r->value.an);
  }
  *a.mutable_disclosure() = Applied();
  AddWarnings(r->warnings, a);
  return out;
}

absl::Status Releaser::SharesNational() const {
  if (discloser_ == nullptr || !discloser_->rules().differential_privacy ||
      !discloser_->rules().close_side_channels) {
    return absl::FailedPreconditionError(
        "this region gives shares of national totals only under differential privacy with side "
        "channels closed ([disclosure])");
  }
  return absl::OkStatus();
}

v1::DisclosureApplied Releaser::ShareApplied(const NationalRoundShare& round,
                                             uint64_t cost_micros) const {
  v1::DisclosureApplied d = Applied();
  const double share_sd =
      std::sqrt(static_cast<double>(round.share.num) / static_cast<double>(round.share.den));
  d.set_description(
      StrCat("a share of a national total by secure aggregation: discrete Gaussian noise of sd ",
             share_sd, " per count from each of the round's regions, so that any ", round.honest,
             " of them add up to sd ", discloser_->rules().scale.sigma(), " (rho ",
             security::FormatMicros(cost_micros), "); masked, it tells nothing until summed"));
  return d;
}

namespace {

// The round's part of a share's key: the same question in another round is another release.
std::string RoundKey(const std::string& key, const NationalRoundShare& round) {
  return StrCat("national ", key, " round ", round.roster_key, " honest ", round.honest);
}

security::Rational Times(security::Rational r, uint64_t sensitivity) {
  r.num *= security::u128{sensitivity} * sensitivity;
  return r;
}

double Sd(security::Rational r) {
  return std::sqrt(static_cast<double>(r.num) / static_cast<double>(r.den));
}

}  // namespace

absl::StatusOr<Release<NationalShare>> Releaser::ShareCount(const Source& source,
                                                            const v1::Criterion& criterion,
                                                            v1::Purpose purpose,
                                                            const NationalRoundShare& round) const {
  absl::Status shares = SharesNational();
  if (!shares.ok()) return shares;
  auto checked = engine_.CheckCount(criterion);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Count(engine_, criterion, purpose);
  if (!sourced.ok()) return AfterReading(sourced.status(), "count");
  auto r = Evaluated<uint64_t>(std::move(sourced->answer), *checked, "count");
  if (!r.ok()) return r.status();
  auto key = KeyOf("count", checked->text, sourced->version);
  if (!key.ok()) return key.status();
  const std::string release = RoundKey(*key, round);
  Release<NationalShare> out;
  out.answer.question = StrCat("count ", checked->text);
  out.answer.values.push_back(static_cast<int64_t>(r->value) +
                              discloser_->NoiseShare(release, "", round.share));
  out.answer.answer.add_share_sd(Sd(round.share));
  out.fingerprint = discloser_->Fingerprint(release);
  out.cost_micros = security::DistributedCostMicros(1, round.share, round.honest, 1);
  *out.answer.answer.mutable_disclosure() = ShareApplied(round, out.cost_micros);
  AddWarnings(r->warnings, out.answer.answer);
  return out;
}

absl::StatusOr<Release<NationalShare>> Releaser::ShareBreakdown(
    const Source& source, const v1::Criterion& criterion,
    const std::vector<v1::Dimension>& dimensions, const std::vector<std::string>& diagnoses,
    v1::Purpose purpose, const NationalRoundShare& round) const {
  absl::Status shares = SharesNational();
  if (!shares.ok()) return shares;
  auto checked = engine_.CheckBreakdown(criterion, dimensions, diagnoses);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Breakdown(engine_, criterion, dimensions, purpose, diagnoses);
  if (!sourced.ok()) return AfterReading(sourced.status(), "breakdown");
  auto r = Evaluated<v1::Breakdown>(std::move(sourced->answer), *checked, "breakdown");
  if (!r.ok()) return r.status();
  auto key = KeyOf("breakdown", checked->text, sourced->version, dimensions, diagnoses);
  if (!key.ok()) return key.status();
  const std::string release = RoundKey(*key, round);
  Release<NationalShare> out;
  out.answer.question = StrCat("breakdown ", checked->text);
  for (v1::Dimension d : dimensions)
    StrAppend(&out.answer.question, " by ", query::DimensionName(d));
  for (const std::string& d : diagnoses) StrAppend(&out.answer.question, " ", d);
  // The cells come from the question (side channels closed), so every region has the same.
  for (const v1::BreakdownCell& cell : r->value.cells()) {
    std::string cell_key;
    for (const std::string& l : cell.labels()) StrAppend(&cell_key, l, "\x1f");
    out.answer.values.push_back(static_cast<int64_t>(cell.count()) +
                                discloser_->NoiseShare(release, cell_key, round.share));
    out.answer.answer.add_share_sd(Sd(round.share));
    *out.answer.answer.add_cells()->mutable_labels() = cell.labels();
  }
  out.fingerprint = discloser_->Fingerprint(release);
  out.cost_micros =
      security::DistributedCostMicros(query::CellsPerPerson(dimensions, diagnoses), round.share,
                                      round.honest, static_cast<uint32_t>(r->value.cells_size()));
  *out.answer.answer.mutable_disclosure() = ShareApplied(round, out.cost_micros);
  AddWarnings(r->warnings, out.answer.answer);
  return out;
}

absl::StatusOr<Release<NationalShare>> Releaser::ShareFrequency(
    const Source& source, const v1::Criterion& criterion, v1::Purpose purpose,
    const NationalRoundShare& round) const {
  absl::Status shares = SharesNational();
  if (!shares.ok()) return shares;
  auto checked = engine_.CheckFrequency(criterion);
  if (!checked.ok()) return checked.status();
  auto sourced = source.Frequency(engine_, criterion, purpose);
  if (!sourced.ok()) return AfterReading(sourced.status(), "frequency");
  auto r = Evaluated<query::AlleleFrequency>(std::move(sourced->answer), *checked, "frequency");
  if (!r.ok()) return r.status();
  auto key = KeyOf("frequency", checked->text, sourced->version);
  if (!key.ok()) return key.status();
  const std::string release = RoundKey(*key, round);
  // One person adds up to two alleles to AC and to AN: each number's noise is twice a count's.
  const security::Rational twice = Times(round.share, 2);
  Release<NationalShare> out;
  out.answer.question = StrCat("frequency ", checked->text);
  out.answer.values.push_back(static_cast<int64_t>(r->value.ac) +
                              discloser_->NoiseShare(release, "ac", twice));
  out.answer.values.push_back(static_cast<int64_t>(r->value.an) +
                              discloser_->NoiseShare(release, "an", twice));
  out.answer.answer.add_share_sd(Sd(twice));
  out.answer.answer.add_share_sd(Sd(twice));
  out.fingerprint = discloser_->Fingerprint(release);
  out.cost_micros = security::DistributedCostMicros(8, twice, round.honest, 2);
  *out.answer.answer.mutable_disclosure() = ShareApplied(round, out.cost_micros);
  AddWarnings(r->warnings, out.answer.answer);
  return out;
}

absl::StatusOr<Releaser::CheckedSites> Releaser::CheckSites(const std::vector<v1::Criterion>& sites,
                                                            security::NoiseScale scale) const {
  CheckedSites out;
  std::set<std::string> seen, warned;
  for (size_t i = 0; i < sites.size(); ++i) {
    auto checked = engine_.CheckFrequency(sites[i]);
    if (!checked.ok()) {
      return absl::Status(checked.status().code(),
                          StrCat("site ", i + 1, ": ", std::string(checked.status().message())));
    }
    if (!seen.insert(checked->text).second) {
      return absl::InvalidArgumentError(
          StrCat("site ", i + 1, ": ", checked->text, " is given twice"));
    }
    for (const std::string& w : checked->warnings) {
      if (warned.insert(w).second) out.warnings.push_back(w);
    }
    out.texts.push_back(checked->text);
  }
  // The set of sites (sorted, by `seen`) and the noise make the release; the set enters the key
  // as its digest, which every site's noise key then repeats.
  security::Sha256Parts set;
  for (const std::string& t : seen) set.Add(t);
  out.question = StrCat("sd=", scale.sigma_centi, "/100 sites=", seen.size(), ":", set.HexDigest());
  return out;
}

uint64_t Releaser::CatalogueCost(size_t sites, security::NoiseScale scale) const {
  if (discloser_ == nullptr || !discloser_->rules().differential_privacy) return 0;
  // Two numbers per site, each of sensitivity 2: 8 per site, squared. At least what one
  // frequency answer costs, so that no batch, however noisy, is a free probe.
  return std::max(security::ZcdpCostMicros(8 * uint64_t{sites}, scale),
                  2 * discloser_->CostMicros());
}

absl::StatusOr<Release<v1::CatalogueAnswer>> Releaser::Catalogue(
    const Source& source, const std::vector<v1::Criterion>& sites, security::NoiseScale scale,
    v1::Purpose purpose) const {
  auto checked = CheckSites(sites, scale);
  if (!checked.ok()) return checked.status();
  // Every site is evaluated, whatever the ones before it held; the cohort is read once.
  auto sourced = source.Frequencies(engine_, sites, purpose);
  if (!sourced.ok()) return AfterReading(sourced.status(), "catalogue");
  const std::vector<query::Answer<query::AlleleFrequency>>* evaluated = &sourced->answer;
  if (evaluated->size() != sites.size()) {
    return AfterReading(
        absl::InternalError(StrCat(evaluated->size(), " answers for ", sites.size(), " sites")),
        "catalogue");
  }
  auto key = KeyOf("catalogue", checked->question, sourced->version);
  if (!key.ok()) return key.status();
  Release<v1::CatalogueAnswer> out;
  v1::CatalogueAnswer& a = out.answer;
  for (size_t i = 0; i < sites.size(); ++i) {
    const query::Answer<query::AlleleFrequency>& r = (*evaluated)[i];
    if (r.question != checked->texts[i]) {
      return AfterReading(
          absl::InternalError(StrCat("the engine evaluated '", r.question, "', not the checked '",
                                     checked->texts[i], "'")),
          "catalogue");
    }
    v1::CatalogueSite* site = a.add_sites();
    if (discloser_ != nullptr) {
      const std::string at = StrCat(*key, " ", checked->texts[i]);
      *site->mutable_ac() = discloser_->ReleaseAt(r.value.ac, at + " ac", scale);
      *site->mutable_an() = discloser_->ReleaseAt(r.value.an, at + " an", scale);
    } else {
      *site->mutable_ac() = security::ExactCount(r.value.ac);
      *site->mutable_an() = security::ExactCount(r.value.an);
    }
  }
  if (discloser_ != nullptr) {
    out.fingerprint = discloser_->Fingerprint(*key);
    out.cost_micros = CatalogueCost(sites.size(), scale);
  }
  *a.mutable_disclosure() = Applied();
  if (discloser_ != nullptr) {
    // `sigma` stays the region's noise on a count; this says what the catalogue's numbers got.
    a.mutable_disclosure()->set_description(
        StrCat("differential privacy (zCDP): discrete Gaussian noise of sd ", scale.sigma(),
               " on every AC and AN of these ", sites.size(), " sites (rho ",
               security::FormatMicros(out.cost_micros),
               " for the whole batch); noised "
               "numbers below ",
               discloser_->rules().min_count, " are shown as <", discloser_->rules().min_count));
  }
  AddWarnings(checked->warnings, a);
  return out;
}

absl::StatusOr<Quote> Releaser::QuoteCatalogue(const Source& source,
                                               const std::vector<v1::Criterion>& sites,
                                               security::NoiseScale scale) const {
  auto checked = CheckSites(sites, scale);
  if (!checked.ok()) return checked.status();
  auto key = KeyOf("catalogue", checked->question, source.Version());
  if (!key.ok()) return key.status();
  return Quote{discloser_->Fingerprint(*key), CatalogueCost(sites.size(), scale)};
}

absl::StatusOr<Quote> Releaser::QuoteCount(const Source& source,
                                           const v1::Criterion& criterion) const {
  auto checked = engine_.CheckCount(criterion);
  if (!checked.ok()) return checked.status();
  auto key = KeyOf("count", checked->text, source.Version());
  if (!key.ok()) return key.status();
  return Quote{discloser_->Fingerprint(*key), discloser_->CostMicros()};
}

absl::StatusOr<Quote> Releaser::QuoteBreakdown(const Source& source, const v1::Criterion& criterion,
                                               const std::vector<v1::Dimension>& dimensions,
                                               const std::vector<std::string>& diagnoses) const {
  auto checked = engine_.CheckBreakdown(criterion, dimensions, diagnoses);
  if (!checked.ok()) return checked.status();
  auto key = KeyOf("breakdown", checked->text, source.Version(), dimensions, diagnoses);
  if (!key.ok()) return key.status();
  return Quote{discloser_->Fingerprint(*key),
               discloser_->CostMicros(query::CellsPerPerson(dimensions, diagnoses))};
}

absl::StatusOr<Quote> Releaser::QuoteFrequency(const Source& source,
                                               const v1::Criterion& criterion) const {
  auto checked = engine_.CheckFrequency(criterion);
  if (!checked.ok()) return checked.status();
  auto key = KeyOf("frequency", checked->text, source.Version());
  if (!key.ok()) return key.status();
  return Quote{discloser_->Fingerprint(*key), 2 * discloser_->CostMicros()};
}

}  // namespace pmdb::core
