#include "security/disclosure.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

#include "node/base/strings.h"
#include "security/released.h"

namespace pmdb::security {
namespace {

v1::ReleasedCount Exactly(uint64_t v) { return ExactCount(v); }

v1::ReleasedCount Hidden(uint32_t min_count) {
  return RangeCount(0, min_count == 0 ? 0 : min_count - 1);
}

// Size of the symmetric difference of two sorted lists.
size_t SymmetricDifference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t i = 0, j = 0, diff = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++i;
      ++j;
    } else if (a[i] < b[j]) {
      ++i;
      ++diff;
    } else {
      ++j;
      ++diff;
    }
  }
  return diff + (a.size() - i) + (b.size() - j);
}

}  // namespace

int64_t Discloser::Noise(const std::string& question, const std::string& cell,
                         uint32_t sensitivity) const {
  if (rules_.differential_privacy) {
    KeyedRandom random(secret_, StrCat("noise\x1f", Mechanism(), "\x1f", question, "\x1f", cell));
    Rational variance = rules_.scale.Variance();
    variance.num *= u128{sensitivity} * sensitivity;
    return SampleDiscreteGaussian(variance, random);
  }
  if (rules_.noise == 0) return 0;
  std::string message = StrCat(Mechanism(), "\x1f", question, "\x1f", cell);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | mac[i];
  uint64_t span = 2 * uint64_t{rules_.noise} + 1;
  return static_cast<int64_t>(r % span) - static_cast<int64_t>(rules_.noise);
}

int64_t Discloser::NoiseShare(const std::string& question, const std::string& cell,
                              Rational variance) const {
  KeyedRandom random(secret_,
                     StrCat("national share\x1f", Mechanism(), "\x1f", question, "\x1f", cell));
  return SampleDiscreteGaussian(variance, random);
}

v1::ReleasedCount Discloser::Noised(uint64_t exact, int64_t noise, double sd) const {
  return NoisedCount(static_cast<int64_t>(exact) + noise, sd, rules_.min_count);
}

v1::ReleasedCount Discloser::ReleaseCount(uint64_t exact, const std::string& question,
                                          uint32_t sensitivity) const {
  if (rules_.differential_privacy) {
    return Noised(exact, Noise(question, "", sensitivity), rules_.scale.sigma() * sensitivity);
  }
  if (exact < rules_.min_count) return Hidden(rules_.min_count);
  int64_t noised = static_cast<int64_t>(exact) + Noise(question, "", 1);
  return Exactly(static_cast<uint64_t>(std::max<int64_t>(noised, rules_.min_count)));
}

v1::ReleasedCount Discloser::ReleaseAt(uint64_t exact, const std::string& question,
                                       NoiseScale scale) const {
  if (!rules_.differential_privacy) return ReleaseCount(exact, question, 2);
  KeyedRandom random(
      secret_, StrCat("noise-at\x1f", Mechanism(), "\x1f", scale.sigma_centi, "\x1f", question));
  return Noised(exact, SampleDiscreteGaussian(scale.Variance(), random), scale.sigma());
}

std::vector<v1::ReleasedCell> Discloser::ReleaseBreakdown(const v1::Breakdown& exact,
                                                          const std::string& question) const {
  size_t n = static_cast<size_t>(exact.cells_size());
  std::vector<v1::ReleasedCell> out;
  out.reserve(n);
  auto label_of = [](const v1::BreakdownCell& cell) {
    std::string label;
    for (const std::string& l : cell.labels()) StrAppend(&label, l, "\x1e");
    return label;
  };
  if (rules_.differential_privacy) {
    // Every cell is noised; margins are noised numbers too, so no cell follows from them and
    // complementary suppression has nothing left to protect.
    for (const v1::BreakdownCell& cell : exact.cells()) {
      v1::ReleasedCell r;
      *r.mutable_labels() = cell.labels();
      *r.mutable_count() =
          Noised(cell.count(), Noise(question, label_of(cell), 1), rules_.scale.sigma());
      r.set_suppressed(r.count().low() != r.count().high());
      out.push_back(std::move(r));
    }
    return out;
  }
  // Dimension sizes from the labels: cells are row-major, so the first dimension's label
  // changes slowest.
  std::vector<size_t> sizes;
  if (exact.dimensions_size() == 2 && n > 0) {
    size_t cols = 0;
    while (cols < n && exact.cells(cols).labels(0) == exact.cells(0).labels(0)) ++cols;
    sizes = {n / cols, cols};
  } else {
    sizes = {n};
  }
  std::vector<uint64_t> counts;
  counts.reserve(n);
  for (const v1::BreakdownCell& cell : exact.cells()) counts.push_back(cell.count());
  std::vector<CellFate> fate = ChooseHiddenCells(sizes, counts, rules_.min_count);

  for (size_t i = 0; i < n; ++i) {
    const v1::BreakdownCell& cell = exact.cells(static_cast<int>(i));
    v1::ReleasedCell r;
    *r.mutable_labels() = cell.labels();
    if (fate[i] == CellFate::kReleased) {
      int64_t noised = static_cast<int64_t>(cell.count()) + Noise(question, label_of(cell), 1);
      *r.mutable_count() =
          Exactly(static_cast<uint64_t>(std::max<int64_t>(noised, rules_.min_count)));
    } else {
      // A suppressed cell is known to be below min_count. A complementary cell is released
      // as wholly unknown [0, max]: even "at least min_count" would pin a small cell down when
      // the line's total is min_count.
      r.set_suppressed(fate[i] == CellFate::kSuppressed);
      r.set_complementary(fate[i] == CellFate::kComplementary);
      if (fate[i] == CellFate::kSuppressed) {
        *r.mutable_count() = Hidden(rules_.min_count);
      } else {
        *r.mutable_count() = RangeCount(0, UINT64_MAX);
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

uint64_t Discloser::CostMicros(uint32_t cells_per_person) const {
  if (!rules_.differential_privacy) return 0;
  return ZcdpCostMicros(cells_per_person, rules_.scale);
}

std::string Discloser::Mechanism() const {
  if (rules_.differential_privacy) {
    return StrCat("discrete-gaussian sigma=", rules_.scale.sigma_centi, "/100");
  }
  return StrCat("thresholds min_count=", rules_.min_count, " noise=", rules_.noise);
}

std::string Discloser::Fingerprint(const std::string& question) const {
  std::string message = StrCat("release\x1f", Mechanism(), "\x1f", question);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), 16);
}

v1::DisclosureApplied Discloser::Applied() const {
  v1::DisclosureApplied a;
  a.set_min_count(rules_.min_count);
  if (rules_.differential_privacy) {
    a.set_mechanism("discrete-gaussian");
    a.set_sigma(rules_.scale.sigma());
    a.set_description(StrCat("differential privacy (zCDP): discrete Gaussian noise of sd ",
                             FormatMicros(uint64_t{rules_.scale.sigma_centi} * 10000),
                             " on each count (rho ", FormatMicros(CostMicros()),
                             " per new number); noised numbers below ", rules_.min_count,
                             " are shown as <", rules_.min_count));
  } else {
    a.set_mechanism("thresholds");
    a.set_noise(rules_.noise);
    a.set_description(
        StrCat("NOT differentially private: the region's operator turned differential privacy off; "
               "counts below ",
               rules_.min_count, " are shown as <", rules_.min_count,
               ", with complementary suppression in tables",
               rules_.noise > 0 ? StrCat(" and consistent noise within +/-", rules_.noise) : ""));
  }
  if (!rules_.close_side_channels) {
    if (rules_.differential_privacy) a.set_mechanism("discrete-gaussian-side-channels-open");
    a.set_description(StrCat(
        "NOT differentially private: the region's operator opened side channels "
        "(close_side_channels = false), so errors, warnings and response times can tell whether "
        "part of a question selects anyone; ",
        a.description()));
  }
  return a;
}

absl::StatusOr<std::string> NewNoiseSecret() {
  std::string secret(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) {
    return absl::InternalError("no randomness for the noise key");
  }
  return secret;
}

v1::ReleasedCount Floor(const v1::ReleasedCount& count, uint32_t min_count) {
  ReleasedSum one;
  one.Add(count);
  return one.Total(min_count);
}

std::vector<CellFate> ChooseHiddenCells(const std::vector<size_t>& sizes,
                                        const std::vector<uint64_t>& counts, uint32_t min_count) {
  std::vector<CellFate> fate(counts.size(), CellFate::kReleased);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < min_count) fate[i] = CellFate::kSuppressed;
  }
  // Lines whose totals a caller can learn: the whole table for one dimension; every row and
  // every column for two.
  std::vector<std::vector<size_t>> lines;
  if (sizes.size() == 1) {
    std::vector<size_t> all(counts.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    lines.push_back(std::move(all));
  } else if (sizes.size() == 2) {
    size_t rows = sizes[0], cols = sizes[1];
    for (size_t r = 0; r < rows; ++r) {
      std::vector<size_t> line;
      for (size_t c = 0; c < cols; ++c) line.push_back(r * cols + c);
      lines.push_back(std::move(line));
    }
    for (size_t c = 0; c < cols; ++c) {
      std::vector<size_t> line;
      for (size_t r = 0; r < rows; ++r) line.push_back(r * cols + c);
      lines.push_back(std::move(line));
    }
  }
  // A line is unsafe when its hidden cells can be worked out from its total: a single hidden
  // cell, or hidden cells that are all small and add up to 0 (all zero) or to their largest
  // possible sum (all min_count - 1). Hide the line's smallest released cell and repeat until
  // every line is safe; each pass hides one more cell, so this ends.
  bool changed = true;
  while (changed) {
    changed = false;
    for (const std::vector<size_t>& line : lines) {
      size_t hidden = 0;
      bool only_small = true;
      uint64_t hidden_sum = 0;
      size_t best = SIZE_MAX;
      for (size_t i : line) {
        if (fate[i] != CellFate::kReleased) {
          ++hidden;
          hidden_sum += counts[i];
          only_small = only_small && fate[i] == CellFate::kSuppressed;
        } else if (best == SIZE_MAX || counts[i] < counts[best]) {
          best = i;
        }
      }
      bool pinned = only_small && min_count > 0 &&
                    (hidden_sum == 0 || hidden_sum == hidden * uint64_t{min_count - 1});
      if (hidden > 0 && (hidden == 1 || pinned) && best != SIZE_MAX) {
        fate[best] = CellFate::kComplementary;
        changed = true;
      }
    }
  }
  return fate;
}

absl::Status QueryBudget::Charge(const std::string& caller, const std::string& canonical,
                                 std::vector<std::string> leaves, int64_t unix_seconds) {
  std::sort(leaves.begin(), leaves.end());
  int64_t day = unix_seconds / 86400;
  std::lock_guard<std::mutex> lock(mu_);
  Day& d = callers_[caller];
  if (d.day != day) d = Day{.day = day};
  if (d.asked >= rules_.daily_budget) {
    return absl::ResourceExhaustedError(StrCat("the daily budget of ", rules_.daily_budget,
                                               " questions is used up; it renews at 00:00 UTC"));
  }
  bool near = false;
  if (d.distinct.count(canonical) == 0) {
    for (const auto& [previous, previous_leaves] : d.distinct) {
      if (SymmetricDifference(previous_leaves, leaves) <= 2) {
        near = true;
        break;
      }
    }
    if (near && d.near >= rules_.near_repeat_limit) {
      return absl::ResourceExhaustedError(
          StrCat("more than ", rules_.near_repeat_limit,
                 " near-identical questions today (criteria differing in one term); "
                 "it renews at 00:00 UTC"));
    }
    d.distinct.emplace(canonical, leaves);
  }
  ++d.asked;
  if (near) ++d.near;
  return absl::OkStatus();
}

absl::Status DailyLimit::Charge(const std::string& caller, int64_t unix_seconds) {
  int64_t day = unix_seconds / 86400;
  std::lock_guard<std::mutex> lock(mu_);
  Day& d = callers_[caller];
  if (d.day != day) d = Day{.day = day};
  if (d.used >= per_day_) {
    return absl::ResourceExhaustedError(
        StrCat("the daily limit of ", per_day_, " ", what_, " is used up; it renews at 00:00 UTC"));
  }
  ++d.used;
  return absl::OkStatus();
}

}  // namespace pmdb::security
