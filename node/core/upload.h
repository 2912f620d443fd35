// An operator's upload (an ingest) and opt-outs, applied to one store: shared by the node's own
// AdminService calls (admin.cc) and by a shard, which applies what its region's node forwards
// (node/shard). Transport-free.
#ifndef PMDB_NODE_CORE_UPLOAD_H_
#define PMDB_NODE_CORE_UPLOAD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/storage/store.h"
#include "pmdb/v1/admin.pb.h"

namespace pmdb::core {

// An upload as the core reads it: first a chunk with the header, then the file's bytes in
// order. The transport adapts its stream to this.
class UploadStream {
 public:
  virtual ~UploadStream() = default;
  // The next chunk; false at the end of the stream.
  virtual bool Read(v1::IngestChunk* chunk) = 0;
  virtual bool Cancelled() const = 0;
};

// A temporary file that is removed when this goes out of scope; it holds uploaded data only
// for the duration of one ingest.
class TempFile {
 public:
  explicit TempFile(const std::string& suffix);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  bool Write(const std::string& bytes);
  bool Close();

 private:
  int fd_ = -1;
  std::string path_;
};

// An upload received into a temporary file.
struct Upload {
  v1::IngestHeader header;
  std::unique_ptr<TempFile> file;
  std::unique_ptr<TempFile> sample_map;  // the header's sample map, when it has one
  uint64_t bytes = 0;
};

// Reads the header and then every byte of `upload`; `received` is told of each chunk's size.
absl::StatusOr<Upload> ReceiveUpload(UploadStream& upload,
                                     const std::function<void(size_t)>& received = {});

// Ingests a received upload into `store`. Errors name the upload by the operator's file name.
absl::StatusOr<v1::IngestReply> IngestUpload(storage::Store& store, const Upload& upload);

// The subject ids the upload names (VCF sample columns after the sample map; phenopackets'
// subjects), in order.
absl::StatusOr<std::vector<std::string>> UploadSubjects(const Upload& upload);

// Records the request's opt-outs in `store` (ingest::WithdrawConsent).
absl::StatusOr<v1::ConsentReply> ApplyOptOuts(storage::Store& store,
                                              const v1::ConsentRequest& request);

// The request's opt-outs as one line each ("SUBJECT" or "SUBJECT<TAB>PURPOSE"), checked; the
// audit text of the request, without the subjects.
absl::StatusOr<std::string> OptOutLines(const v1::ConsentRequest& request);

// What a sharded region's node hands its shards besides questions (node/shard/shard_set.h).
class ShardWrites {
 public:
  virtual ~ShardWrites() = default;
  // The upload, to the shard that holds its subjects (new people: the newest shard).
  virtual absl::StatusOr<v1::IngestReply> Ingest(const Upload& upload) = 0;
  // The opt-outs, recorded on every shard.
  virtual absl::StatusOr<v1::ConsentReply> OptOut(const v1::ConsentRequest& request) = 0;
};

}  // namespace pmdb::core

#endif  // PMDB_NODE_CORE_UPLOAD_H_
