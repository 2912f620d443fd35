// ReadView: a consistent, read-only view of a node's store, free of RocksDB types so that the
// query engine depends on this interface only.
//
// All reads through one ReadView see the same point in time. Implementations are safe for
// concurrent use by several threads.
#ifndef PMDB_NODE_STORAGE_READ_VIEW_H_
#define PMDB_NODE_STORAGE_READ_VIEW_H_

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/storage/bitmap.h"

namespace pmdb::storage {

enum class Family { kMeta, kIndividuals, kVariants, kBitmaps, kAudit, kContact };

class ReadView {
 public:
  virtual ~ReadView() = default;

  virtual absl::StatusOr<std::optional<std::string>> Get(Family family,
                                                          std::string_view key) const = 0;

  // Calls `fn` for every key in [begin, end) in order ("" as end: to the end of the family).
  // `fn` returns false to stop early.
  using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;
  virtual absl::Status Scan(Family family, std::string_view begin, std::string_view end,
                            const ScanFn& fn) const = 0;

  // The bitmap under `key`, empty when there is none.
  virtual absl::StatusOr<Bitmap> GetBitmap(std::string_view key) const = 0;

  // The bitmaps under `keys`, in the same order; one batched lookup.
  virtual absl::StatusOr<std::vector<Bitmap>> GetBitmaps(
      std::span<const std::string> keys) const = 0;
};

}  // namespace pmdb::storage

#endif  // PMDB_NODE_STORAGE_READ_VIEW_H_
