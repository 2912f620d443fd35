#include "node/storage/rocksdb_status.h"

#include "node/base/strings.h"

namespace pmdb::storage {

absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string message = StrCat(context, ": ", s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kIOError:
      // A held LOCK file is reported as an IO error; say what the operator should do.
      if (s.ToString().find("lock") != std::string::npos) {
        return absl::FailedPreconditionError(
            StrCat(message,
                   " (is another pmdb process using this store? While a node holds it, ask the "
                   "node as the region's operator with --node HOST:PORT)"));
      }
      return absl::UnavailableError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kTimedOut:
      return absl::UnavailableError(message);
    case rocksdb::Status::kAborted:
      return absl::AbortedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace pmdb::storage
