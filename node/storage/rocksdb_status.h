// The one place where rocksdb::Status becomes absl::Status. Internal to node/storage.
#ifndef PMDB_NODE_STORAGE_ROCKSDB_STATUS_H_
#define PMDB_NODE_STORAGE_ROCKSDB_STATUS_H_

#include <rocksdb/status.h>

#include <string_view>

#include "absl/status/status.h"

namespace pmdb::storage {

// `context` says what was being done, e.g. "opening store /data/pmdb".
absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace pmdb::storage

#endif  // PMDB_NODE_STORAGE_ROCKSDB_STATUS_H_
