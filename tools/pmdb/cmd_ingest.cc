// pmdb ingest: genotypes from VCF/BCF or clinical records from Phenopackets into a store.
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "node/base/strings.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/reference_files.h"
#include "node/ingest/vcf_ingest.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec = [] {
    CommandSpec s = WithCredentialFlags({
        "ingest",
        "pmdb ingest (--db DIR | --node HOST:PORT) (--vcf FILE --dataset ID --assembly "
        "GRCh37|GRCh38 | --phenopackets PATH) [options]",
        "Adds records to a regional store (created if missing). A VCF/BCF adds genotypes: every\n"
        "sample becomes an individual, multi-allelic records are split and alleles trimmed so a\n"
        "variant has one key. Phenopacket v2 JSON adds clinical records (sex, age, HPO "
        "phenotypes,\n"
        "ICD-10 diagnoses, ATC treatments). One call is one atomic write: if anything is wrong\n"
        "the store is left exactly as it was, and the error names the file, line and problem.\n"
        "A large file is staged in parts as it is read, so memory stays near one part however\n"
        "large the file (--part-mb, --part-people); questions see all of it at once.\n"
        "\n"
        "With --node the file is streamed to your region's running node (an operator's\n"
        "certificate), which ingests it while it keeps answering: questions see the store as it\n"
        "was until the batch commits, and the new records from the next question on. Reference\n"
        "files (--hpo, --genes, --icd10) go into the store with --db.",
        {
            {"db", "DIR", "the store directory"},
            {"node", "HOST:PORT", "your region's running node (instead of --db)"},
            {"vcf", "FILE", "VCF or BCF, plain or bgzipped, any number of samples"},
            {"dataset", "ID", "dataset the VCF belongs to (one assembly per dataset)"},
            {"assembly", "NAME", "GRCh37 or GRCh38"},
            {"include-filtered", "", "also keep records whose FILTER is not PASS or ."},
            {"sample-map", "FILE",
             "lines 'sample<TAB>subject' when VCF sample names are not "
             "subject ids"},
            {"phenopackets", "PATH", "a .json file, a .jsonl file (one per line) or a directory"},
            {"hpo", "PATH",
             "HPO ontology (OBO); remembered by the store, needed once before "
             "phenopackets with phenotypes"},
            {"genes", "ASSEMBLY=PATH",
             "gene table (symbol, entrez, chrom, start, end ...) for "
             "gene(); remembered",
             true},
            {"icd10", "PATH",
             "the region's ICD-10 code list (one code per line, optionally with its title, e.g. "
             "ICD-10-SE); remembered; codes not in it are counted in the summary and warned "
             "about in questions"},
            {"part-mb", "MB",
             "with --db: a VCF is staged in parts of about this many MiB of sites (default 32)"},
            {"part-people", "N",
             "with --db: phenopackets are staged N people at a time (default 50000)"},
            {"json", "", "print the summary as JSON"},
        },
        "  pmdb ingest --db region.db --vcf cohort.vcf.gz --dataset wgs-2025 --assembly GRCh38\n"
        "  pmdb ingest --db region.db --phenopackets cohort/ --hpo hp.obo\n"
        "  pmdb ingest --node localhost:7104 --phenopackets new-cases.jsonl\n",
    });
    s.flags.push_back(
        {"timeout", "SECONDS", "with --node: give up after this long (default: none)"});
    return s;
  }();
  return spec;
}

void PrintSummary(const ingest::IngestSummary& s, bool json) {
  if (json) {
    Json j;
    j.BeginObject().Key("kind").String(s.kind).Key("source").String(s.source);
    j.Key("dataset").String(s.dataset).Key("assembly").String(s.assembly);
    j.Key("individuals_new").Uint(s.individuals_new);
    j.Key("individuals_updated").Uint(s.individuals_updated);
    j.Key("records_read").Uint(s.records_read);
    j.Key("variants").Uint(s.variants).Key("genotypes").Uint(s.genotypes);
    j.Key("no_calls").Uint(s.no_calls);
    j.Key("skipped").BeginObject();
    for (const auto& [reason, n] : s.skipped) j.Key(reason).Uint(n);
    j.EndObject().Key("notes").BeginObject();
    for (const auto& [note, n] : s.notes) j.Key(note).Uint(n);
    j.EndObject().Key("batch_bytes").Uint(s.batch_bytes).Key("parts").Uint(s.parts);
    j.Key("seconds").Double(s.seconds);
    j.EndObject();
    std::cout << j.str() << "\n";
    return;
  }
  std::cout << "ingested " << s.source;
  if (!s.dataset.empty()) std::cout << " into dataset " << s.dataset << " (" << s.assembly << ")";
  std::cout << "\n  individuals  " << WithThousands(s.individuals_new) << " new, "
            << WithThousands(s.individuals_updated) << " updated\n";
  std::cout << "  records      " << WithThousands(s.records_read) << " read\n";
  if (s.kind == "vcf") {
    std::cout << "  variants     " << WithThousands(s.variants) << " stored\n"
              << "  genotypes    " << WithThousands(s.genotypes) << " non-reference calls\n"
              << "  no-calls     " << WithThousands(s.no_calls) << "\n";
  }
  for (const auto& [reason, n] : s.skipped) {
    std::cout << "  skipped      " << WithThousands(n) << "  " << reason << "\n";
  }
  for (const auto& [note, n] : s.notes) {
    std::cout << "  note         " << WithThousands(n) << "  " << note << "\n";
  }
  std::printf("  took %.2f s\n", s.seconds);
}

void PrintReply(const v1::IngestReply& r, const std::string& source, const std::string& node,
                bool json) {
  if (json) {
    Json j;
    j.BeginObject().Key("node").String(node).Key("source").String(source);
    j.Key("individuals_new").Uint(r.individuals_new());
    j.Key("individuals_updated").Uint(r.individuals_updated());
    j.Key("records_read").Uint(r.records_read());
    j.Key("variants").Uint(r.variants()).Key("genotypes").Uint(r.genotypes());
    j.Key("skipped").BeginObject();
    for (const auto& [reason, n] : r.skipped()) j.Key(reason).Uint(n);
    j.EndObject().Key("notes").BeginObject();
    for (const auto& [note, n] : r.notes()) j.Key(note).Uint(n);
    j.EndObject().Key("seconds").Double(r.seconds()).EndObject();
    std::cout << j.str() << "\n";
    return;
  }
  std::cout << "ingested " << source << " on the node at " << node << "\n"
            << "  individuals  " << WithThousands(r.individuals_new()) << " new, "
            << WithThousands(r.individuals_updated()) << " updated\n"
            << "  records      " << WithThousands(r.records_read()) << " read\n";
  if (r.variants() > 0 || r.genotypes() > 0) {
    std::cout << "  variants     " << WithThousands(r.variants()) << " stored\n"
              << "  genotypes    " << WithThousands(r.genotypes()) << " non-reference calls\n";
  }
  for (const auto& [reason, n] : r.skipped()) {
    std::cout << "  skipped      " << WithThousands(n) << "  " << reason << "\n";
  }
  for (const auto& [note, n] : r.notes()) {
    std::cout << "  note         " << WithThousands(n) << "  " << note << "\n";
  }
  std::printf("  took %.2f s on the node\n", r.seconds());
}

// Streams the file to the operator's running node (AdminService.Ingest), with progress.
int IngestOnNode(const Flags& flags, Target target) {
  bool vcf = flags.Has("vcf");
  const bool json = flags.Bool("json");
  auto fail = [](const absl::Status& s) { return Fail("ingest", s); };
  if (flags.Has("hpo") || flags.Has("genes") || flags.Has("icd10")) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  "--hpo, --genes and --icd10 go into the store with --db (a node "
                                  "reads its reference files when it starts)"));
  }
  const std::string path = flags.Get(vcf ? "vcf" : "phenopackets");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  StrCat(path,
                                         " is a directory: with --node give one file (a .json "
                                         "array or .jsonl, one Phenopacket per line)")));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(absl::NotFoundError(StrCat(path, ": cannot open")));
  const uint64_t total = std::filesystem::file_size(path, ec);
  v1::IngestHeader header;
  header.set_file_name(std::filesystem::path(path).filename().string());
  if (vcf) {
    header.set_format(v1::IngestHeader::VCF);
    header.set_dataset(flags.Get("dataset"));
    header.set_assembly(flags.Get("assembly"));
    header.set_include_filtered(flags.Bool("include-filtered"));
    if (flags.Has("sample-map")) {
      std::ifstream map(flags.Get("sample-map"), std::ios::binary);
      if (!map) return fail(absl::NotFoundError(StrCat(flags.Get("sample-map"), ": cannot open")));
      header.set_sample_map(std::string(std::istreambuf_iterator<char>(map), {}));
    }
  } else {
    header.set_format(v1::IngestHeader::PHENOPACKETS);
  }
  if (!flags.Has("timeout")) target.timeout_seconds = 0;
  auto c = Connect(flags, target);
  if (!c.ok()) return fail(c.status());
  grpc::ClientContext context;
  if (target.timeout_seconds > 0) context.set_deadline(target.Deadline());
  v1::IngestReply reply;
  auto stub = v1::AdminService::NewStub(c->channel);
  auto writer = stub->Ingest(&context, &reply);
  v1::IngestChunk chunk;
  *chunk.mutable_header() = header;
  bool open = writer->Write(chunk);
  ProgressLine progress("uploading");
  ingest::Progress p{.bytes_total = total};
  std::string buffer(1 << 20, '\0');
  while (open && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    open = writer->Write(chunk);
    p.bytes_done += static_cast<uint64_t>(n);
    progress.Update(p);
  }
  if (in.bad()) {
    context.TryCancel();
    progress.Done();
    return fail(absl::DataLossError(StrCat(path, ": read error; nothing was sent to be stored")));
  }
  const bool sent = open && writer->WritesDone();
  progress.Done();
  absl::Status s = transport::FromGrpc(writer->Finish());
  if (!s.ok()) {
    // The node's own refusals store nothing; a connection lost or a deadline passed after the
    // whole file was sent may have followed the node's commit.
    const bool lost = absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
                      absl::IsCancelled(s) || absl::IsUnknown(s);
    return fail(absl::Status(
        s.code(), StrCat(std::string(s.message()),
                         lost && sent ? " (the node may have stored it: check with pmdb info "
                                        "--node or its audit log before ingesting it again)"
                                      : " (nothing was stored)")));
  }
  PrintReply(reply, path, target.where, json);
  return 0;
}

}  // namespace

int RunIngest(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  bool vcf = flags->Has("vcf");
  bool packets = flags->Has("phenopackets");
  if (vcf == packets) {
    return UsageError(Spec(),
                      absl::InvalidArgumentError("give exactly one of --vcf and --phenopackets"));
  }
  if (vcf && (!flags->Has("dataset") || !flags->Has("assembly"))) {
    return UsageError(Spec(), absl::InvalidArgumentError("--vcf needs --dataset and --assembly"));
  }
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kNode});
  if (!target.ok()) return UsageError(Spec(), target.status());
  uint64_t part_mb = 32, part_people = ingest::kSubjectsPerPart;
  for (auto [name, value] : {std::pair{"part-mb", &part_mb}, {"part-people", &part_people}}) {
    if (!flags->Has(name)) continue;
    if (target->kind == Target::kNode) {
      return UsageError(Spec(), absl::InvalidArgumentError(
                                    StrCat("--", name, " is for --db (a node uses its defaults)")));
    }
    std::string v = flags->Get(name);
    auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), *value);
    if (err != std::errc() || end != v.data() + v.size() || *value == 0 || *value > (1u << 20)) {
      return UsageError(Spec(), absl::InvalidArgumentError(
                                    StrCat("--", name, " takes a whole number from 1 to 1048576")));
    }
  }
  if (target->kind == Target::kNode) return IngestOnNode(*flags, *target);
  // A store this command creates is removed again if the ingest fails, so a failed first
  // ingest leaves nothing behind, as a failed later one leaves the store as it was.
  std::error_code ec;
  const std::string db = flags->Get("db");
  bool created = !db.empty() && !std::filesystem::exists(db, ec);
  auto store = OpenStore(db, /*create=*/true);
  if (!store.ok()) return Fail("ingest", store.status());
  auto fail = [&](const absl::Status& status) {
    store->reset();
    if (created) std::filesystem::remove_all(db, ec);
    return Fail("ingest", status);
  };
  absl::Status remembered =
      ingest::RememberReferenceFiles(**store, {.hpo_path = flags->Get("hpo"),
                                               .gene_specs = flags->All("genes"),
                                               .icd10_path = flags->Get("icd10")});
  if (!remembered.ok()) return fail(remembered);

  ProgressLine progress("ingesting");
  auto on_progress = [&](const ingest::Progress& p) { progress.Update(p); };
  absl::StatusOr<ingest::IngestSummary> summary;
  if (vcf) {
    ingest::VcfIngestOptions options;
    options.path = flags->Get("vcf");
    options.dataset = flags->Get("dataset");
    options.assembly = flags->Get("assembly");
    options.include_filtered = flags->Bool("include-filtered");
    options.sample_map_path = flags->Get("sample-map");
    options.part_bytes = static_cast<size_t>(part_mb) << 20;
    summary = ingest::IngestVcf(**store, options, on_progress);
  } else {
    summary =
        ingest::IngestPhenopackets(**store, flags->Get("phenopackets"), on_progress, part_people);
  }
  progress.Done();
  // The ingest is audited in the store it changed, as the node audits an upload.
  auto audit = LocalAudit::Open(store->get());
  if (!audit.ok()) return fail(audit.status());
  absl::Status logged = (*audit)->Record(
      "Local/Ingest",
      vcf ? StrCat("vcf dataset=", flags->Get("dataset"), " assembly=", flags->Get("assembly"))
          : std::string("phenopackets"),
      summary.status(), summary.ok() ? StrCat("records=", summary->records_read) : "");
  audit->reset();
  if (!summary.ok()) {
    return fail(
        absl::Status(summary.status().code(),
                     StrCat(std::string(summary.status().message()), " (nothing was stored)")));
  }
  if (!logged.ok()) return Fail("ingest", logged);
  PrintSummary(*summary, flags->Bool("json"));
  return 0;
}

}  // namespace pmdb::cli
