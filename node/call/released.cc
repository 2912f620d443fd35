#include "node/call/released.h"

#include "node/base/strings.h"
#include "query/engine.h"
#include "security/released.h"

namespace pmdb::call {
namespace {

using security::FormatReleased;

std::string Cells(const google::protobuf::RepeatedField<int>& dimensions,
                  const google::protobuf::RepeatedPtrField<v1::ReleasedCell>& cells) {
  std::vector<v1::Dimension> dims;
  for (int d : dimensions) dims.push_back(static_cast<v1::Dimension>(d));
  size_t suppressed = 0, complementary = 0;
  for (const v1::ReleasedCell& c : cells) {
    suppressed += c.suppressed();
    complementary += c.complementary();
  }
  return StrCat("by=", query::FormatDimensions(dims), " cells=", cells.size(),
                " suppressed=", suppressed, " complementary=", complementary);
}

std::string Regions(const google::protobuf::RepeatedPtrField<v1::RegionPart>& parts) {
  size_t ok = 0;
  for (const v1::RegionPart& p : parts) ok += p.status() == v1::REGION_OK;
  return StrCat(" regions=", ok, "/", parts.size());
}

}  // namespace

std::string Released(const v1::CountAnswer& a) {
  return StrCat("count=", FormatReleased(a.count()));
}

std::string Released(const v1::BreakdownAnswer& a) { return Cells(a.dimensions(), a.cells()); }

std::string Released(const v1::FrequencyAnswer& a) {
  return StrCat("ac=", FormatReleased(a.ac()), " an=", FormatReleased(a.an()));
}

std::string Released(const v1::NationalShareAnswer& a) {
  return StrCat("national share values=", a.masked_size(),
                " share_sd=", a.share_sd().empty() ? 0.0 : a.share_sd(0));
}

std::string Released(const v1::SimilarCasesAnswer& a) {
  return StrCat("matches=", a.matches_size());
}

std::string Released(const v1::CatalogueAnswer& a) {
  double sd = a.sites().empty() ? 0 : a.sites(0).ac().noise_sd();
  return StrCat("sites=", a.sites_size(), " noise_sd=", sd);
}

std::string Released(const v1::FederationInfo& a) { return StrCat("info", Regions(a.regions())); }

std::string Released(const v1::FederatedCount& a) {
  return StrCat("total=", FormatReleased(a.total()), Regions(a.regions()));
}

std::string Released(const v1::FederatedBreakdown& a) {
  return StrCat(Cells(a.dimensions(), a.totals()), Regions(a.regions()));
}

std::string Released(const v1::FederatedFrequency& a) {
  return StrCat("ac=", FormatReleased(a.ac()), " an=", FormatReleased(a.an()),
                Regions(a.regions()));
}

std::string Released(const v1::FederatedSimilarCases& a) {
  return StrCat("matches=", a.matches_size(), Regions(a.regions()));
}

std::string Released(const v1::FederatedCatalogue& a) {
  return StrCat("sites=", a.sites_size(), Regions(a.regions()));
}

std::string RegionStatusWord(v1::RegionStatus s) {
  switch (s) {
    case v1::REGION_OK:
      return "ok";
    case v1::REGION_UNAVAILABLE:
      return "unavailable";
    case v1::REGION_DEADLINE_EXCEEDED:
      return "deadline exceeded";
    case v1::REGION_REFUSED:
      return "refused by policy";
    case v1::REGION_INVALID:
      return "invalid question";
    default:
      return "unknown";
  }
}

}  // namespace pmdb::call
