#include "node/transport/admin_service.h"

#include "node/transport/peer.h"
#include "node/transport/reactor.h"

namespace pmdb::transport {
grpc::Status AdminServiceImpl::Ingest(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::IngestChunk>* reader,
                                      v1::IngestReply* reply) {
  GrpcUpload upload(context, reader);
  return ReplyWith(core_->Ingest(CredentialsOf(*context), upload), reply);
}

grpc::Status AdminServiceImpl::Consent(grpc::ServerContext* context,
                                       const v1::ConsentRequest* request, v1::ConsentReply* reply) {
  return ReplyWith(core_->Consent(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::AuditList(grpc::ServerContext* context,
                                         const v1::AuditListRequest* request,
                                         v1::AuditListReply* reply) {
  return ReplyWith(core_->AuditList(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::Status(grpc::ServerContext* context, const v1::StatusRequest*,
                                      v1::StatusReply* reply) {
  return ReplyWith(core_->Status(CredentialsOf(*context)), reply);
}

grpc::Status AdminServiceImpl::Backup(grpc::ServerContext* context,
                                      const v1::BackupRequest* request, v1::BackupReply* reply) {
  return ReplyWith(core_->Backup(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::Query(grpc::ServerContext* context,
                                     const v1::AdminQueryRequest* request,
                                     v1::AdminQueryReply* reply) {
  return ReplyWith(core_->Query(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::ContactList(grpc::ServerContext* context,
                                           const v1::ContactListRequest* request,
                                           v1::ContactListReply* reply) {
  return ReplyWith(core_->ContactList(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::ContactAnswer(grpc::ServerContext* context,
                                             const v1::ContactAnswerRequest* request,
                                             v1::ContactTicket* reply) {
  return ReplyWith(core_->ContactAnswer(CredentialsOf(*context), *request), reply);
}

grpc::Status AdminServiceImpl::SimilarCases(grpc::ServerContext* context,
                                            const v1::LocalSimilarRequest* request,
                                            v1::SimilarCasesAnswer* reply) {
  return ReplyWith(core_->LocalSimilarCases(CredentialsOf(*context), *request), reply);
}

}  // namespace pmdb::transport
