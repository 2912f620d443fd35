#include "node/core/upload.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "node/base/strings.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/consent.h"
#include "node/ingest/phenopacket_reader.h"
#include "node/ingest/vcf_ingest.h"

namespace pmdb::core {
namespace {

// The upload's suffix decides how the readers treat it (".vcf.gz", ".bcf", ".jsonl", ...).
std::string Suffix(const std::string& name) {
  for (const char* s : {".vcf.gz", ".vcf.bgz", ".vcf", ".bcf", ".jsonl", ".ndjson", ".json"}) {
    if (name.ends_with(s)) return s;
  }
  return "";
}

v1::IngestReply ReplyOf(const ingest::IngestSummary& summary) {
  v1::IngestReply reply;
  reply.set_records_read(summary.records_read);
  reply.set_individuals_new(summary.individuals_new);
  reply.set_individuals_updated(summary.individuals_updated);
  reply.set_variants(summary.variants);
  reply.set_genotypes(summary.genotypes);
  for (const auto& [k, v] : summary.skipped) (*reply.mutable_skipped())[k] = v;
  for (const auto& [k, v] : summary.notes) (*reply.mutable_notes())[k] = v;
  reply.set_seconds(summary.seconds);
  return reply;
}

// `status` with the temporary file's path replaced by the name the operator knows.
absl::Status Renamed(const absl::Status& status, const std::string& path, const std::string& name) {
  std::string message(status.message());
  size_t at = message.find(path);
  if (at != std::string::npos) message.replace(at, path.size(), name);
  return absl::Status(status.code(), message);
}

ingest::VcfIngestOptions VcfOptions(const Upload& upload) {
  ingest::VcfIngestOptions options;
  options.path = upload.file->path();
  options.dataset = upload.header.dataset();
  options.assembly = upload.header.assembly();
  options.include_filtered = upload.header.include_filtered();
  if (upload.sample_map != nullptr) options.sample_map_path = upload.sample_map->path();
  return options;
}

}  // namespace

TempFile::TempFile(const std::string& suffix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / StrCat("pmdb-upload-XXXXXX", suffix)).string();
  fd_ = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
  if (fd_ >= 0) path_ = pattern;
}

TempFile::~TempFile() {
  if (fd_ >= 0) close(fd_);
  if (!path_.empty()) std::remove(path_.c_str());
}

bool TempFile::Write(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool TempFile::Close() {
  int fd = fd_;
  fd_ = -1;
  return close(fd) == 0;
}

absl::StatusOr<Upload> ReceiveUpload(UploadStream& upload,
                                     const std::function<void(size_t)>& received) {
  v1::IngestChunk chunk;
  if (!upload.Read(&chunk) || !chunk.has_header()) {
    return absl::InvalidArgumentError("an ingest starts with a header message");
  }
  Upload out;
  out.header = chunk.header();
  if (out.header.format() != v1::IngestHeader::VCF &&
      out.header.format() != v1::IngestHeader::PHENOPACKETS) {
    return absl::InvalidArgumentError("the header names no format (VCF or PHENOPACKETS)");
  }
  std::string suffix = Suffix(out.header.file_name());
  if (out.header.format() == v1::IngestHeader::VCF && suffix.empty()) suffix = ".vcf";
  if (out.header.format() == v1::IngestHeader::PHENOPACKETS && suffix.empty()) suffix = ".jsonl";
  out.file = std::make_unique<TempFile>(suffix);
  if (!out.file->ok()) return absl::InternalError("cannot create a temporary file for the upload");
  while (upload.Read(&chunk)) {
    if (!chunk.has_data() && chunk.has_header()) {
      return absl::InvalidArgumentError("only the first message may be a header");
    }
    out.bytes += chunk.data().size();
    if (received) received(chunk.data().size());
    if (!out.file->Write(chunk.data())) return absl::InternalError("cannot write the upload");
  }
  if (upload.Cancelled()) return absl::CancelledError("the upload was cancelled");
  if (!out.file->Close()) return absl::InternalError("cannot write the upload");
  if (!out.header.sample_map().empty()) {
    out.sample_map = std::make_unique<TempFile>(".tsv");
    if (!out.sample_map->ok() || !out.sample_map->Write(out.header.sample_map()) ||
        !out.sample_map->Close()) {
      return absl::InternalError("cannot write the sample map");
    }
  }
  return out;
}

absl::StatusOr<v1::IngestReply> IngestUpload(storage::Store& store, const Upload& upload) {
  absl::StatusOr<ingest::IngestSummary> summary =
      upload.header.format() == v1::IngestHeader::VCF
          ? ingest::IngestVcf(store, VcfOptions(upload))
          : ingest::IngestPhenopackets(store, upload.file->path());
  if (!summary.ok()) {
    // Messages name the temporary files; the operator knows the upload by its own name.
    absl::Status s = summary.status();
    if (upload.sample_map != nullptr) s = Renamed(s, upload.sample_map->path(), "the sample map");
    return Renamed(s, upload.file->path(), upload.header.file_name());
  }
  return ReplyOf(*summary);
}

absl::StatusOr<std::vector<std::string>> UploadSubjects(const Upload& upload) {
  auto subjects = upload.header.format() == v1::IngestHeader::VCF
                      ? ingest::VcfSubjects(VcfOptions(upload))
                      : ingest::PhenopacketSubjects(upload.file->path());
  if (!subjects.ok()) {
    return Renamed(subjects.status(), upload.file->path(), upload.header.file_name());
  }
  return subjects;
}

absl::StatusOr<std::string> OptOutLines(const v1::ConsentRequest& request) {
  const std::string& purpose = request.purpose();
  if (!purpose.empty() && purpose != "research" && purpose != "care") {
    return absl::InvalidArgumentError("purpose is research, care, or empty for every purpose");
  }
  if (!request.file().empty() && (request.subjects_size() > 0 || !purpose.empty())) {
    return absl::InvalidArgumentError("give an opt-out file or subjects, not both");
  }
  std::string lines = request.file();
  for (const std::string& subject : request.subjects()) {
    if (subject.empty() || subject.find_first_of(" \t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError("a subject id is empty or contains white space");
    }
    StrAppend(&lines, subject, purpose.empty() ? "" : StrCat("\t", purpose), "\n");
  }
  return lines;
}

absl::StatusOr<v1::ConsentReply> ApplyOptOuts(storage::Store& store,
                                              const v1::ConsentRequest& request) {
  auto lines = OptOutLines(request);
  if (!lines.ok()) return lines.status();
  TempFile file(".txt");
  if (!file.ok()) return absl::InternalError("cannot create a temporary file");
  if (!file.Write(*lines) || !file.Close()) {
    return absl::InternalError("cannot write a temporary file");
  }
  auto summary = ingest::WithdrawConsent(store, file.path());
  if (!summary.ok()) {
    // Messages name the temporary file; the operator knows it by its own name.
    return Renamed(summary.status(), file.path(),
                   request.file_name().empty() ? "the opt-out file" : request.file_name());
  }
  v1::ConsentReply reply;
  reply.set_lines(summary->lines);
  reply.set_bitmaps_rewritten(summary->bitmaps_rewritten);
  reply.set_removed(summary->removed);
  reply.set_withdrawn_research(summary->withdrawn_research);
  reply.set_withdrawn_care(summary->withdrawn_care);
  reply.set_not_in_store(summary->not_in_store);
  return reply;
}

}  // namespace pmdb::core
