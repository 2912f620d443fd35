// The query language from anyone's keyboard or file: parsing never crashes, and what parses
// round-trips (its printed form parses to the same printed form) and keeps its canonical text
// through canonicalization.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "query/canonical.h"
#include "query/parser.h"
#include "query/prepare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = pmdb::query::ParseCriterion(text);
  if (!parsed.ok()) {
    (void)pmdb::query::FormatParseError(text, parsed.status());
    return 0;
  }
  const std::string printed = pmdb::query::FormatCriterion(*parsed);
  auto again = pmdb::query::ParseCriterion(printed);
  if (!again.ok() || pmdb::query::FormatCriterion(*again) != printed) {
    std::fprintf(stderr, "round trip broken:\n  input   %.*s\n  printed %s\n  again   %s\n",
                 static_cast<int>(text.size()), text.data(), printed.c_str(),
                 again.ok() ? pmdb::query::FormatCriterion(*again).c_str()
                            : std::string(again.status().message()).c_str());
    std::abort();
  }
  if (pmdb::query::CheckLimits(*parsed).ok()) {
    const std::string canonical = pmdb::query::CanonicalText(*parsed);
    if (pmdb::query::CanonicalText(pmdb::query::CanonicalCriterion(*parsed)) != canonical) {
      std::abort();
    }
  }
  return 0;
}
