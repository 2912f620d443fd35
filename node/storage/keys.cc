#include "node/storage/keys.h"

#include "absl/status/status.h"
#include "node/base/strings.h"

namespace pmdb::storage::keys {
namespace {

constexpr char kSep = '\0';

std::string Padded3(uint32_t v) {
  std::string s = std::to_string(v);
  return s.size() >= 3 ? s : std::string(3 - s.size(), '0') + s;
}

}  // namespace

void AppendBE32(std::string* out, uint32_t v) {
  char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
  out->append(buf, 4);
}

uint32_t ReadBE32(std::string_view b) {
  return (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[2])} << 8) | uint32_t{static_cast<uint8_t>(b[3])};
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

void AppendBE64(std::string* out, uint64_t v) {
  AppendBE32(out, static_cast<uint32_t>(v >> 32));
  AppendBE32(out, static_cast<uint32_t>(v));
}

uint64_t ReadBE64(std::string_view bytes) {
  return (uint64_t{ReadBE32(bytes)} << 32) | ReadBE32(bytes.substr(4));
}

std::string MetaGeneTable(std::string_view assembly) { return StrCat("genes/", assembly); }
std::string MetaDataset(std::string_view id) { return StrCat(kMetaDatasetPrefix, id); }

std::string Individual(uint32_t ordinal) {
  std::string k(kIndividualPrefix);
  AppendBE32(&k, ordinal);
  return k;
}

std::optional<uint32_t> ParseIndividual(std::string_view key) {
  if (key.size() != kIndividualPrefix.size() + 4 || !key.starts_with(kIndividualPrefix)) {
    return std::nullopt;
  }
  return ReadBE32(key.substr(kIndividualPrefix.size()));
}

std::string Contact(std::string_view request_id) { return StrCat(kContactPrefix, request_id); }

std::string AuditKey(uint64_t seq) {
  std::string k;
  AppendBE32(&k, static_cast<uint32_t>(seq >> 32));
  AppendBE32(&k, static_cast<uint32_t>(seq));
  return k;
}

std::optional<uint64_t> ParseAuditKey(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return (uint64_t{ReadBE32(key)} << 32) | ReadBE32(key.substr(4));
}

std::string SubjectIndex(std::string_view subject_id) { return StrCat("x/", subject_id); }
std::string OptOut(std::string_view subject_id) { return StrCat("o/", subject_id); }

std::string VariantLowerBound(std::string_view assembly, std::string_view chrom, uint32_t pos) {
  std::string k =
      StrCat("v/", assembly, std::string_view(&kSep, 1), chrom, std::string_view(&kSep, 1));
  AppendBE32(&k, pos);
  return k;
}

std::string VariantChromEnd(std::string_view assembly, std::string_view chrom) {
  return PrefixEnd(
      StrCat("v/", assembly, std::string_view(&kSep, 1), chrom, std::string_view(&kSep, 1)));
}

std::string Variant(const VariantId& v) {
  std::string k = VariantLowerBound(v.assembly, v.chrom, v.pos);
  StrAppend(&k, v.ref, std::string_view(&kSep, 1), v.alt);
  return k;
}

absl::StatusOr<VariantId> ParseVariant(std::string_view key) {
  auto bad = [&] { return absl::DataLossError("malformed variant key"); };
  if (!key.starts_with("v/")) return bad();
  key.remove_prefix(2);
  VariantId v;
  size_t sep = key.find(kSep);
  if (sep == std::string_view::npos) return bad();
  v.assembly = std::string(key.substr(0, sep));
  key.remove_prefix(sep + 1);
  sep = key.find(kSep);
  if (sep == std::string_view::npos) return bad();
  v.chrom = std::string(key.substr(0, sep));
  key.remove_prefix(sep + 1);
  if (key.size() < 4) return bad();
  v.pos = ReadBE32(key);
  key.remove_prefix(4);
  sep = key.find(kSep);
  if (sep == std::string_view::npos) return bad();
  v.ref = std::string(key.substr(0, sep));
  v.alt = std::string(key.substr(sep + 1));
  if (v.ref.empty() || v.alt.empty()) return bad();
  return v;
}

std::string AlleleNumberKind(uint32_t called) { return StrCat("an", called); }
std::string ExtraCopiesKind(uint32_t extra) { return StrCat("ac+", extra); }

std::string GenotypePrefix(std::string_view variant_key) {
  // Drop the "v/" of the variant key; the rest identifies the variant.
  return StrCat("g/", variant_key.substr(2), std::string_view(&kSep, 1));
}

std::string Genotype(std::string_view variant_key, std::string_view kind) {
  return StrCat(GenotypePrefix(variant_key), kind);
}

std::string Phenotype(std::string_view id) { return StrCat("p/", id); }
std::string ExcludedPhenotype(std::string_view id) { return StrCat("q/", id); }
std::string Diagnosis(std::string_view code) { return StrCat(kDiagnosisPrefix, code); }
std::string Treatment(std::string_view code) { return StrCat("t/", code); }
std::string Sex(char code) { return std::string("s/") + code; }
std::string AgeYear(uint32_t years) { return StrCat("a/", Padded3(years)); }
std::string AgeBand(uint32_t band_start) { return StrCat("b/", Padded3(band_start)); }
std::string DatasetMembers(std::string_view id) { return StrCat("k/", id); }
std::string Consent(std::string_view purpose) { return StrCat("c/", purpose); }

std::string MetaStagedPart(uint64_t index) {
  std::string key(kMetaStagedPartPrefix);
  AppendBE64(&key, index);
  return key;
}

bool IsDataMetaKey(std::string_view key) {
  return key == kMetaHpoPath || key == kMetaIcd10Path || key.starts_with("genes/") ||
         key.starts_with(kMetaDatasetPrefix);
}

}  // namespace pmdb::storage::keys
