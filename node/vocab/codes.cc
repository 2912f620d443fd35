#include "node/vocab/codes.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "node/base/strings.h"

namespace pmdb::vocab {
namespace {

bool IsUpperAlpha(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view StripPrefix(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    if (s.size() >= p.size() && ToUpper(s.substr(0, p.size())) == p) return s.substr(p.size());
  }
  return s;
}

}  // namespace

std::string NormalizeChrom(std::string_view chrom) {
  if (chrom.size() > 3 && ToLower(chrom.substr(0, 3)) == "chr") chrom.remove_prefix(3);
  if (chrom == "M" || chrom == "m") return "MT";
  if (chrom == "x") return "X";
  if (chrom == "y") return "Y";
  return std::string(chrom);
}

absl::StatusOr<std::string> NormalizeAssembly(std::string_view assembly) {
  std::string lower = ToLower(assembly);
  if (lower == "grch37") return std::string("GRCh37");
  if (lower == "grch38") return std::string("GRCh38");
  return absl::InvalidArgumentError(
      StrCat("unknown assembly '", assembly, "' (expected GRCh37 or GRCh38)"));
}

bool IsSymbolicAllele(std::string_view allele) {
  return allele.empty() || allele == "*" || allele.front() == '<' ||
         allele.find_first_of("[]") != std::string_view::npos || allele.front() == '.' ||
         allele.back() == '.';
}

Allele TrimAlleles(uint32_t pos, std::string_view ref_in, std::string_view alt_in) {
  if (IsSymbolicAllele(alt_in)) return {pos, ToUpper(ref_in), std::string(alt_in)};
  std::string ref = ToUpper(ref_in);
  std::string alt = ToUpper(alt_in);
  while (ref.size() > 1 && alt.size() > 1 && ref.back() == alt.back()) {
    ref.pop_back();
    alt.pop_back();
  }
  size_t lead = 0;
  while (ref.size() - lead > 1 && alt.size() - lead > 1 && ref[lead] == alt[lead]) ++lead;
  return {pos + static_cast<uint32_t>(lead), ref.substr(lead), alt.substr(lead)};
}

absl::StatusOr<std::string> NormalizeIcd10(std::string_view code) {
  std::string_view body = StripPrefix(Trim(code), {"ICD10CM:", "ICD-10:", "ICD10:"});
  std::string out;
  for (char c : body) {
    if (c == '.') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  bool ok = out.size() >= 1 && out.size() <= 7 && IsUpperAlpha(out[0]);
  for (size_t i = 1; ok && i < out.size(); ++i) {
    ok = (i < 3) ? IsDigit(out[i]) : (IsDigit(out[i]) || IsUpperAlpha(out[i]));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("'", code, "' is not an ICD-10 code (expected a letter and digits, e.g. C34.1)"));
  }
  return out;
}

std::vector<std::string> Icd10Prefixes(std::string_view normalized) {
  std::vector<std::string> out;
  for (size_t n = 1; n <= normalized.size(); ++n) out.emplace_back(normalized.substr(0, n));
  return out;
}

std::string Icd10Category(std::string_view normalized) {
  return std::string(normalized.substr(0, 3));
}

absl::StatusOr<std::string> NormalizeAtc(std::string_view code) {
  std::string out = ToUpper(StripPrefix(Trim(code), {"ATC:"}));
  // Levels: L | L01 | L01E | L01EB | L01EB02.
  auto shape_ok = [&] {
    size_t n = out.size();
    if (n != 1 && n != 3 && n != 4 && n != 5 && n != 7) return false;
    if (!IsUpperAlpha(out[0])) return false;
    if (n >= 3 && !(IsDigit(out[1]) && IsDigit(out[2]))) return false;
    if (n >= 4 && !IsUpperAlpha(out[3])) return false;
    if (n >= 5 && !IsUpperAlpha(out[4])) return false;
    if (n == 7 && !(IsDigit(out[5]) && IsDigit(out[6]))) return false;
    return true;
  };
  if (!shape_ok()) {
    return absl::InvalidArgumentError(
        StrCat("'", code,
               "' is not an ATC code at one of its levels (e.g. L, L01, L01E, L01EB, "
               "L01EB02)"));
  }
  return out;
}

std::vector<std::string> AtcLevels(std::string_view normalized) {
  std::vector<std::string> out;
  for (size_t n : {1, 3, 4, 5, 7}) {
    if (n <= normalized.size()) out.emplace_back(normalized.substr(0, n));
  }
  return out;
}

absl::StatusOr<std::string> NormalizeHpo(std::string_view id) {
  std::string_view t = Trim(id);
  std::string upper = ToUpper(t);
  bool ok = upper.size() == 10 && upper.starts_with("HP:");
  for (size_t i = 3; ok && i < upper.size(); ++i) ok = IsDigit(upper[i]);
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("'", id, "' is not an HPO id (expected HP: and 7 digits, e.g. HP:0001250)"));
  }
  return upper;
}

absl::StatusOr<uint32_t> YearsInDuration(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("'", s, "' is not an ISO 8601 duration such as P45Y or P3Y6M"));
  };
  if (s.size() < 3 || s[0] != 'P') return bad();
  double years = 0;
  size_t i = 1;
  bool in_time = false;
  bool any = false;
  while (i < s.size()) {
    if (s[i] == 'T') {
      in_time = true;
      ++i;
      continue;
    }
    size_t start = i;
    while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
    if (i == start || i >= s.size()) return bad();
    // strtod, not stod: a number too large for a double (a 401-digit age) is an error here,
    // not an exception that ends the process.
    std::string digits(s.substr(start, i - start));
    char* end = nullptr;
    double value = std::strtod(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size() || !std::isfinite(value) || value > 1e6) {
      return bad();
    }
    char unit = s[i++];
    any = true;
    if (in_time) continue;  // hours and minutes do not change whole years
    switch (unit) {
      case 'Y':
        years += value;
        break;
      case 'M':
        years += value / 12.0;
        break;
      case 'W':
        years += value * 7.0 / 365.25;
        break;
      case 'D':
        years += value / 365.25;
        break;
      default:
        return bad();
    }
  }
  if (!any || years > kMaxAge) return bad();
  return static_cast<uint32_t>(years + 1e-9);
}

uint32_t AgeBandStart(uint32_t age) { return age >= 100 ? 100 : age / 10 * 10; }

std::string AgeBandLabel(uint32_t band_start) {
  if (band_start >= 100) return "100+";
  return StrCat(band_start, "-", band_start + 9);
}

std::string ZygosityName(v1::Zygosity z) {
  switch (z) {
    case v1::HETEROZYGOUS:
      return "het";
    case v1::HOMOZYGOUS:
      return "hom";
    case v1::HEMIZYGOUS:
      return "hemi";
    default:
      return "any";
  }
}

std::string SexCode(v1::Sex sex) {
  switch (sex) {
    case v1::FEMALE:
      return "F";
    case v1::MALE:
      return "M";
    case v1::OTHER_SEX:
      return "O";
    default:
      return "U";
  }
}

}  // namespace pmdb::vocab
