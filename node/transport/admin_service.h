// AdminService over gRPC: a region's own operators ingest, record opt-outs, read the audit log,
// check status, ask exact questions and answer contact requests. Synchronous handlers (an
// ingest streams a file); each is credentials -> core::NodeCore -> reply -> status.
#ifndef PMDB_NODE_TRANSPORT_ADMIN_SERVICE_H_
#define PMDB_NODE_TRANSPORT_ADMIN_SERVICE_H_

#include "node/core/node_core.h"
#include "pmdb/v1/admin.grpc.pb.h"

namespace pmdb::transport {

// gRPC's client stream as the core reads an upload (also a shard's, node/shard).
class GrpcUpload final : public core::UploadStream {
 public:
  GrpcUpload(grpc::ServerContext* context, grpc::ServerReader<v1::IngestChunk>* reader)
      : context_(context), reader_(reader) {}
  bool Read(v1::IngestChunk* chunk) override { return reader_->Read(chunk); }
  bool Cancelled() const override { return context_->IsCancelled(); }

 private:
  grpc::ServerContext* context_;
  grpc::ServerReader<v1::IngestChunk>* reader_;
};

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  // `core` must outlive the service.
  explicit AdminServiceImpl(core::NodeCore* core) : core_(core) {}

  grpc::Status Ingest(grpc::ServerContext* context, grpc::ServerReader<v1::IngestChunk>* reader,
                      v1::IngestReply* reply) override;
  grpc::Status Consent(grpc::ServerContext* context, const v1::ConsentRequest* request,
                       v1::ConsentReply* reply) override;
  grpc::Status AuditList(grpc::ServerContext* context, const v1::AuditListRequest* request,
                         v1::AuditListReply* reply) override;
  grpc::Status Status(grpc::ServerContext* context, const v1::StatusRequest* request,
                      v1::StatusReply* reply) override;
  grpc::Status Query(grpc::ServerContext* context, const v1::AdminQueryRequest* request,
                     v1::AdminQueryReply* reply) override;
  grpc::Status ContactList(grpc::ServerContext* context, const v1::ContactListRequest* request,
                           v1::ContactListReply* reply) override;
  grpc::Status ContactAnswer(grpc::ServerContext* context, const v1::ContactAnswerRequest* request,
                             v1::ContactTicket* reply) override;
  grpc::Status Backup(grpc::ServerContext* context, const v1::BackupRequest* request,
                      v1::BackupReply* reply) override;
  grpc::Status SimilarCases(grpc::ServerContext* context, const v1::LocalSimilarRequest* request,
                            v1::SimilarCasesAnswer* reply) override;

 private:
  core::NodeCore* core_;
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_ADMIN_SERVICE_H_
