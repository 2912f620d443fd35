// A question as it arrives over the wire (a CountRequest from the hub or a client, any bytes):
// the checks a node and the hub make before reading data never crash, whatever the tree.
#include <cstdint>
#include <map>
#include <memory>

#include "pmdb/v1/answers.pb.h"
#include "query/canonical.h"
#include "query/prepare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* catalog = new pmdb::vocab::Catalog(
      std::map<std::string, pmdb::v1::DatasetInfo>{{"wgs", {}}}, nullptr,
      std::map<std::string, std::shared_ptr<const pmdb::vocab::GeneTable>>{});
  pmdb::v1::CountRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!pmdb::query::CheckLimits(request.criterion()).ok()) return 0;
  auto prepared = pmdb::query::Prepare(request.criterion(), *catalog);
  if (prepared.ok()) (void)pmdb::query::CanonicalText(prepared->criterion);
  return 0;
}
