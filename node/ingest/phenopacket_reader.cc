#include "node/ingest/phenopacket_reader.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "node/base/strings.h"

namespace pmdb::ingest {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

bool IsWellKnown(const pb::Descriptor* d) {
  return d->file()->name().starts_with("google/protobuf/");
}

// Walks parsed JSON alongside the message descriptor and counts names the schema lacks.
void CountUnknown(const pb::Value& value, const pb::Descriptor* d, const std::string& path,
                  std::map<std::string, uint64_t>* unknown) {
  if (value.kind_case() == pb::Value::kListValue) {
    for (const pb::Value& v : value.list_value().values()) CountUnknown(v, d, path, unknown);
    return;
  }
  if (value.kind_case() != pb::Value::kStructValue || IsWellKnown(d)) return;
  for (const auto& [name, child] : value.struct_value().fields()) {
    const pb::FieldDescriptor* f = d->FindFieldByName(name);
    for (int i = 0; f == nullptr && i < d->field_count(); ++i) {
      if (d->field(i)->json_name() == name) f = d->field(i);
    }
    std::string child_path = path.empty() ? name : StrCat(path, ".", name);
    if (f == nullptr) {
      ++(*unknown)[child_path];
      continue;
    }
    if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      CountUnknown(child, f->message_type(), child_path, unknown);
    }
  }
}

absl::Status ParseOne(std::string_view json, const std::string& location,
                      const std::function<absl::Status(ReadPacket&&)>& fn,
                      std::map<std::string, uint64_t>* unknown) {
  pb::Value generic;
  pb::util::JsonParseOptions strict;
  auto s =
      pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &generic, strict);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        StrCat(location, ": invalid JSON: ", std::string(s.message().data(), s.message().size())));
  }
  if (generic.kind_case() != pb::Value::kStructValue) {
    return absl::InvalidArgumentError(StrCat(location, ": expected a JSON object (a phenopacket)"));
  }
  CountUnknown(generic, v1::Phenopacket::descriptor(), "", unknown);
  ReadPacket packet;
  packet.location = location;
  pb::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  s = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &packet.packet,
                                    lenient);
  if (!s.ok()) {
    return absl::InvalidArgumentError(StrCat(location, ": not a valid phenopacket: ",
                                             std::string(s.message().data(), s.message().size())));
  }
  return fn(std::move(packet));
}

absl::Status ReadFile(const fs::path& file, const std::function<absl::Status(ReadPacket&&)>& fn,
                      std::map<std::string, uint64_t>* unknown) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(file.string(), ": cannot open"));
  std::string ext = ToLower(file.extension().string());
  if (ext == ".jsonl" || ext == ".ndjson") {
    std::string line;
    uint64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (Trim(line).empty()) continue;
      auto s = ParseOne(line, StrCat(file.string(), ":", line_no), fn, unknown);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseOne(buf.str(), file.string(), fn, unknown);
}

}  // namespace

absl::Status ReadPhenopackets(const std::string& path,
                              const std::function<absl::Status(ReadPacket&&)>& fn,
                              std::map<std::string, uint64_t>* unknown_fields) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string ext = ToLower(entry.path().extension().string());
      if (entry.is_regular_file() && (ext == ".json" || ext == ".jsonl" || ext == ".ndjson")) {
        files.push_back(entry.path());
      }
    }
    if (ec) return absl::UnavailableError(StrCat(path, ": cannot list (", ec.message(), ")"));
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      return absl::InvalidArgumentError(StrCat(path, ": no .json, .jsonl or .ndjson files"));
    }
    for (const fs::path& f : files) {
      auto s = ReadFile(f, fn, unknown_fields);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (!fs::exists(path, ec)) return absl::NotFoundError(StrCat(path, ": no such file"));
  return ReadFile(path, fn, unknown_fields);
}

absl::StatusOr<std::vector<std::string>> PhenopacketSubjects(const std::string& path) {
  std::vector<std::string> out;
  std::map<std::string, uint64_t> unknown;
  absl::Status read = ReadPhenopackets(
      path,
      [&](ReadPacket&& p) {
        out.push_back(p.packet.subject().id());
        return absl::OkStatus();
      },
      &unknown);
  if (!read.ok()) return read;
  return out;
}

}  // namespace pmdb::ingest
