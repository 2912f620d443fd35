#include "node/service/admin_service.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "node/base/strings.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/consent.h"
#include "node/ingest/vcf_ingest.h"
#include "node/service/status.h"
#include "node/storage/keys.h"
#include "query/case_query.h"
#include "query/engine.h"
#include "query/parser.h"

namespace pmdb::service {
namespace {

using security::Method;

// A temporary file that is removed when this goes out of scope; it holds uploaded data only
// for the duration of one ingest.
class TempFile {
 public:
  explicit TempFile(const std::string& suffix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / StrCat("pmdb-upload-XXXXXX", suffix)).string();
    fd_ = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
    if (fd_ >= 0) path_ = pattern;
  }
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) std::remove(path_.c_str());
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  bool Write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  bool Close() {
    int fd = fd_;
    fd_ = -1;
    return close(fd) == 0;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// The upload's suffix decides how the readers treat it (".vcf.gz", ".bcf", ".jsonl", ...).
std::string Suffix(const std::string& name) {
  for (const char* s : {".vcf.gz", ".vcf.bgz", ".vcf", ".bcf", ".jsonl", ".ndjson", ".json"}) {
    if (name.ends_with(s)) return s;
  }
  return "";
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(NodeCore* core)
    : core_(core),
      started_unix_(std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count()) {}

grpc::Status AdminServiceImpl::Ingest(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::IngestChunk>* reader,
                                      v1::IngestReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminIngest);
  auto caller = core_->Authenticate(*context, Method::kAdminIngest, &entry);
  if (!caller.ok()) return ToGrpc(core_->FinishAndWait(std::move(entry), caller.status()));
  auto run = [&]() -> absl::Status {
    v1::IngestChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_header()) {
      return absl::InvalidArgumentError("an ingest starts with a header message");
    }
    v1::IngestHeader header = chunk.header();
    std::string suffix = Suffix(header.file_name());
    if (header.format() == v1::IngestHeader::VCF && suffix.empty()) suffix = ".vcf";
    if (header.format() == v1::IngestHeader::PHENOPACKETS && suffix.empty()) suffix = ".jsonl";
    entry.set_query(StrCat(header.format() == v1::IngestHeader::VCF ? "vcf" : "phenopackets",
                           header.dataset().empty() ? "" : StrCat(" dataset=", header.dataset())));
    TempFile file(suffix);
    if (!file.ok()) return absl::InternalError("cannot create a temporary file for the upload");
    uint64_t bytes = 0;
    while (reader->Read(&chunk)) {
      if (!chunk.has_data() && chunk.has_header()) {
        return absl::InvalidArgumentError("only the first message may be a header");
      }
      bytes += chunk.data().size();
      if (!file.Write(chunk.data())) return absl::InternalError("cannot write the upload");
    }
    if (context->IsCancelled()) return absl::CancelledError("the upload was cancelled");
    if (!file.Close()) return absl::InternalError("cannot write the upload");
    absl::StatusOr<ingest::IngestSummary> summary;
    if (header.format() == v1::IngestHeader::VCF) {
      ingest::VcfIngestOptions options;
      options.path = file.path();
      options.dataset = header.dataset();
      options.assembly = header.assembly();
      summary = ingest::IngestVcf(core_->store(), options);
    } else if (header.format() == v1::IngestHeader::PHENOPACKETS) {
      summary = ingest::IngestPhenopackets(core_->store(), file.path());
    } else {
      return absl::InvalidArgumentError("the header names no format (VCF or PHENOPACKETS)");
    }
    if (!summary.ok()) {
      // Messages name the temporary file; the operator knows the upload by its own name.
      std::string message(summary.status().message());
      size_t at = message.find(file.path());
      if (at != std::string::npos) message.replace(at, file.path().size(), header.file_name());
      return absl::Status(summary.status().code(), message);
    }
    reply->set_records_read(summary->records_read);
    reply->set_individuals_new(summary->individuals_new);
    reply->set_individuals_updated(summary->individuals_updated);
    reply->set_variants(summary->variants);
    reply->set_genotypes(summary->genotypes);
    for (const auto& [k, v] : summary->skipped) (*reply->mutable_skipped())[k] = v;
    for (const auto& [k, v] : summary->notes) (*reply->mutable_notes())[k] = v;
    reply->set_seconds(summary->seconds);
    entry.set_released(StrCat("bytes=", bytes, " records=", summary->records_read));
    return core_->ReloadCatalog();
  };
  absl::Status s = run();
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::Consent(grpc::ServerContext* context,
                                       const v1::ConsentRequest* request,
                                       v1::ConsentReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminConsent);
  auto caller = core_->Authenticate(*context, Method::kAdminConsent, &entry);
  if (!caller.ok()) return ToGrpc(core_->FinishAndWait(std::move(entry), caller.status()));
  auto run = [&]() -> absl::Status {
    const std::string& purpose = request->purpose();
    if (!purpose.empty() && purpose != "research" && purpose != "care") {
      return absl::InvalidArgumentError("purpose is research, care, or empty for every purpose");
    }
    // The subjects are never logged: the entry says how many and for what.
    entry.set_query(StrCat("opt-out subjects=", request->subjects_size(),
                           " purpose=", purpose.empty() ? "all" : purpose));
    TempFile file(".txt");
    if (!file.ok()) return absl::InternalError("cannot create a temporary file");
    std::string lines;
    for (const std::string& subject : request->subjects()) {
      if (subject.empty() || subject.find_first_of(" \t\r\n") != std::string::npos) {
        return absl::InvalidArgumentError("a subject id is empty or contains white space");
      }
      StrAppend(&lines, subject, purpose.empty() ? "" : StrCat("\t", purpose), "\n");
    }
    if (!file.Write(lines) || !file.Close()) return absl::InternalError("cannot write a temporary file");
    auto summary = ingest::WithdrawConsent(core_->store(), file.path());
    if (!summary.ok()) return summary.status();
    reply->set_removed(summary->removed);
    reply->set_withdrawn_research(summary->withdrawn_research);
    reply->set_withdrawn_care(summary->withdrawn_care);
    reply->set_not_in_store(summary->not_in_store);
    entry.set_released(StrCat("removed=", summary->removed));
    return core_->ReloadCatalog();  // withdrawn cases leave the similar-case index
  };
  absl::Status s = run();
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::AuditList(grpc::ServerContext* context,
                                         const v1::AuditListRequest* request,
                                         v1::AuditListReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminAuditList);
  auto caller = core_->Authenticate(*context, Method::kAdminAuditList, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    auto view = core_->store().Snapshot();
    security::AuditFilter filter{.caller = request->caller(),
                                 .since_unix_micros = request->since_unix_micros(),
                                 .limit = request->limit() == 0 ? 1000 : request->limit()};
    auto entries = security::ListAudit(*view, filter);
    s = entries.status();
    if (s.ok()) {
      for (v1::AuditEntry& e : *entries) *reply->add_entries() = std::move(e);
      entry.set_released(StrCat("entries=", reply->entries_size()));
    }
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::Status(grpc::ServerContext* context, const v1::StatusRequest*,
                                      v1::StatusReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminStatus);
  auto caller = core_->Authenticate(*context, Method::kAdminStatus, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    reply->set_region(core_->settings().region);
    reply->set_version(kVersion);
    reply->set_started_unix(started_unix_);
    auto view = core_->store().Snapshot();
    auto all = view->GetBitmap(storage::keys::kAllIndividuals);
    if (all.ok()) reply->set_individuals(all->Cardinality());
    auto disk = core_->store().DiskSize();
    if (disk.ok()) reply->set_disk_bytes(*disk);
    reply->set_audit_entries(core_->audit().size());
    reply->set_audit_head(core_->audit().head_hash());
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::Query(grpc::ServerContext* context,
                                     const v1::AdminQueryRequest* request,
                                     v1::AdminQueryReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminQuery);
  auto caller = core_->Authenticate(*context, Method::kAdminQuery, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    entry.set_query(query::FormatCriterion(request->criterion()));
    std::string released;
    if (request->dimensions_size() > 0) {
      std::vector<v1::Dimension> dims;
      for (int d : request->dimensions()) dims.push_back(static_cast<v1::Dimension>(d));
      if (dims.size() > 2) {
        s = absl::InvalidArgumentError("a breakdown has one or two dimensions");
      } else {
        auto a = core_->Breakdown(request->criterion(), dims, request->purpose(), false, &released);
        s = a.status();
        if (s.ok()) *reply->mutable_breakdown() = std::move(*a);
      }
    } else if (request->frequency()) {
      auto a = core_->Frequency(request->criterion(), request->purpose(), false, &released);
      s = a.status();
      if (s.ok()) *reply->mutable_frequency() = std::move(*a);
    } else {
      auto a = core_->Count(request->criterion(), request->purpose(), false, &released);
      s = a.status();
      if (s.ok()) *reply->mutable_count() = std::move(*a);
    }
    entry.set_released(released);
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::ContactList(grpc::ServerContext* context,
                                           const v1::ContactListRequest* request,
                                           v1::ContactListReply* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminContactList);
  auto caller = core_->Authenticate(*context, Method::kAdminContactList, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    entry.set_query(StrCat("contact list ", v1::ContactState_Name(request->state())));
    auto list = core_->ContactList(request->state());
    s = list.status();
    if (s.ok()) {
      *reply = std::move(*list);
      entry.set_released(StrCat("requests=", reply->requests_size()));
    }
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::ContactAnswer(grpc::ServerContext* context,
                                             const v1::ContactAnswerRequest* request,
                                             v1::ContactTicket* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminContactAnswer);
  auto caller = core_->Authenticate(*context, Method::kAdminContactAnswer, &entry);
  absl::Status s = caller.status();
  if (s.ok()) {
    auto t = core_->ContactAnswer(*caller, *request, &entry);
    s = t.status();
    if (s.ok()) *reply = std::move(*t);
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

grpc::Status AdminServiceImpl::SimilarCases(grpc::ServerContext* context,
                                            const v1::LocalSimilarRequest* request,
                                            v1::SimilarCasesAnswer* reply) {
  v1::AuditEntry entry = core_->NewEntry(Method::kAdminSimilarCases);
  auto caller = core_->Authenticate(*context, Method::kAdminSimilarCases, &entry);
  absl::Status s = caller.status();
  v1::CaseQuery question = request->patient();
  if (s.ok()) {
    s = query::NormalizeCaseQuery(&question);
    entry.set_query(query::FormatCaseQuery(question));
  }
  if (s.ok()) {
    auto a = core_->SimilarCases(question, request->top(), true, &entry);
    s = a.status();
    if (s.ok()) *reply = std::move(*a);
  }
  return ToGrpc(core_->FinishAndWait(std::move(entry), s));
}

}  // namespace pmdb::service
