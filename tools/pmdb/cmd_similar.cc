// pmdb similar: cases like a patient's, across the federation (clinicians, --hub), on the
// operator's own node (--node) or store (--db).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "node/base/strings.h"
#include "node/core/similar.h"
#include "node/transport/status.h"
#include "node/vocab/case_query.h"
#include "node/vocab/catalog.h"
#include "node/vocab/codes.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/parser.h"
#include "query/similarity.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/output.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec = [] {
    CommandSpec s{
        "similar",
        "pmdb similar (--hub HOST:PORT | --node HOST:PORT | --db DIR) --case CASE.json [--top N] "
        "[--json]",
        "Finds the cases most like a patient's: phenotypes (HPO, with excluded terms), the\n"
        "interpreted variants or genes, and the diagnoses of a Phenopacket v2 file. Only those\n"
        "parts leave your machine; the patient's identity does not.\n"
        "\n"
        "With --hub (a clinician's certificate) every region ranks its own cases whose consent\n"
        "allows care use and the hub merges a national top N. Each match shows its score, which "
        "of\n"
        "your terms and variants it matched, its zygosity, sex, a 10-year age band, the ICD-10\n"
        "chapter, the care unit's contact and an opaque case reference that only the owning "
        "region\n"
        "can resolve (until it expires): give it to `pmdb contact request` to ask that region to\n"
        "put you in touch. Every search and every match is audited under your identity.\n"
        "\n"
        "\"phenotypes matched\" lists your terms the case holds (or a more specific term below\n"
        "one); \"related through\" lists your terms the case only shares an ancestor with, and\n"
        "that ancestor. A term related only through a broad one (Phenotypic abnormality) is not\n"
        "listed, though it still adds a trace to the score.\n"
        "\n"
        "With --node (an operator's certificate) or --db the region's own cases are ranked and\n"
        "each match shows the local subject id instead of a reference. --db opens the store for\n"
        "writing, since the search is audited in it: while a node holds the store, use --node.",
        {
            {"case", "FILE", "the patient's Phenopacket v2 (JSON)"},
            {"top", "N", "how many matches (default 10, at most 100)"},
            {"hub", "HOST:PORT", "ask every region through the hub (default: $PMDB_HUB)"},
            {"node", "HOST:PORT", "ask your own region's node (AdminService)"},
            {"db", "DIR", "rank the cases of a store directly (read-only)"},
            {"timeout", "SECONDS", "give up after this long (default 30)"},
            {"json", "", "print the answer as JSON"},
        },
        "  pmdb similar --hub hub.example.se:7000 --case patient.json --top 5\n"
        "  pmdb similar --db /var/lib/pmdb/vast --case patient.json --json\n",
    };
    for (FlagSpec& f : CredentialFlags()) s.flags.push_back(std::move(f));
    return s;
  }();
  return spec;
}

absl::StatusOr<v1::CaseQuery> ReadCase(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot open"));
  std::stringstream text;
  text << in.rdbuf();
  v1::Phenopacket packet;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto s = google::protobuf::util::JsonStringToMessage(text.str(), &packet, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        StrCat(path, ": not a phenopacket: ", std::string(s.message().data(), s.message().size())));
  }
  auto q = vocab::CaseQueryFromPhenopacket(packet);
  if (!q.ok())
    return absl::InvalidArgumentError(StrCat(path, ": ", std::string(q.status().message())));
  return q;
}

std::string SexText(v1::Sex s) {
  switch (s) {
    case v1::FEMALE:
      return "F";
    case v1::MALE:
      return "M";
    case v1::OTHER_SEX:
      return "O";
    default:
      return "?";
  }
}

void PrintMatches(const google::protobuf::RepeatedPtrField<v1::CaseMatch>& matches,
                  const google::protobuf::RepeatedPtrField<v1::TermNote>& notes) {
  for (const v1::TermNote& n : notes) {
    std::string instead;
    for (const std::string& u : n.use_instead())
      StrAppend(&instead, instead.empty() ? "" : ", ", u);
    std::cerr << "note: " << n.id() << " is " << n.problem()
              << (instead.empty() ? "" : StrCat(" (use ", instead, ")")) << "\n";
  }
  if (matches.empty()) {
    std::cout << "no similar cases\n";
    return;
  }
  int rank = 0;
  for (const v1::CaseMatch& m : matches) {
    char score[64];
    std::snprintf(score, sizeof(score), "%.3f (phenotype %.2f, genotype %.2f, diagnosis %.2f)",
                  m.score(), m.phenotype_score(), m.genotype_score(), m.diagnosis_score());
    std::cout << ++rank << ". " << (m.region().empty() ? "" : m.region() + "  ") << "score "
              << score << "\n";
    std::cout << "   " << SexText(m.sex()) << ", age "
              << (m.age_band().empty() ? "?" : m.age_band());
    if (!m.icd10_chapter().empty()) std::cout << ", ICD-10 chapter " << m.icd10_chapter();
    std::cout << (m.contradiction() ? "   [a term contradicts]" : "") << "\n";
    for (const v1::VariantMatch& v : m.variants()) {
      std::cout << "   variant " << v.query_variant() << ": same " << v.level();
      if (v.level() == "variant") std::cout << " (" << vocab::ZygosityName(v.zygosity()) << ")";
      std::cout << "\n";
    }
    std::string exact, partial;
    for (const v1::PhenotypeMatch& p : m.phenotypes()) {
      if (p.exact()) {
        StrAppend(&exact, exact.empty() ? "" : ", ", p.query_term());
      } else {
        StrAppend(&partial, partial.empty() ? "" : ", ", p.query_term(), " ~ ", p.common_label());
      }
    }
    if (!exact.empty()) std::cout << "   phenotypes matched: " << exact << "\n";
    if (!partial.empty()) std::cout << "   related through: " << partial << "\n";
    if (!m.subject_id().empty()) std::cout << "   subject " << m.subject_id() << "\n";
    if (!m.care_unit().empty()) std::cout << "   care unit: " << m.care_unit() << "\n";
    if (!m.contact().empty()) std::cout << "   contact: " << m.contact() << "\n";
    if (!m.case_reference().empty()) {
      std::cout << "   reference: " << m.case_reference() << "  (valid until "
                << FormatUtc(m.reference_expires_unix(), "%Y-%m-%d") << ")\n";
    }
  }
}

int RunLocal(const Flags& flags, const v1::CaseQuery& question, uint32_t top) {
  // Opened for writing: the search is audited in the store, as the node audits it.
  auto store = OpenStore(flags.Get("db"), /*create=*/false);
  if (!store.ok()) return Fail("similar", store.status());
  auto audit = LocalAudit::Open(store->get());
  if (!audit.ok()) return Fail("similar", audit.status());
  auto view = (*store)->Snapshot();
  auto catalog = vocab::Catalog::Load(*view);
  if (!catalog.ok()) return Fail("similar", catalog.status());
  auto index = query::CaseIndex::Build(*view, **catalog);
  if (!index.ok()) return Fail("similar", index.status());
  v1::CaseQuery q = question;
  absl::Status s = vocab::NormalizeCaseQuery(&q);
  if (!s.ok()) return Fail("similar", s);
  auto ranked = core::RankCases(**index, *view, q, {.top = top});
  absl::Status logged =
      (*audit)->Record("Local/SimilarCases", vocab::FormatCaseQuery(q), ranked.status(),
                       ranked.ok() ? StrCat("matches=", ranked->answer.matches_size()) : "",
                       ranked.ok() ? ranked->ordinals : std::vector<uint32_t>{});
  if (!ranked.ok()) return Fail("similar", ranked.status());
  if (!logged.ok()) return Fail("similar", logged);
  const v1::SimilarCasesAnswer& answer = ranked->answer;
  if (flags.Bool("json")) {
    std::cout << SimilarJson(answer, false, {}) << "\n";
  } else {
    PrintMatches(answer.matches(), answer.notes());
  }
  return 0;
}

}  // namespace

int RunSimilar(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("case")) {
    return UsageError(Spec(), absl::InvalidArgumentError("--case CASE.json is required"));
  }
  uint32_t top = 10;
  if (flags->Has("top") && (!ParseUint32(flags->Get("top"), &top) || top == 0 || top > 100)) {
    return UsageError(Spec(), absl::InvalidArgumentError("--top is a number from 1 to 100"));
  }
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kHub, Target::kNode});
  if (!target.ok()) return UsageError(Spec(), target.status());
  auto question = ReadCase(flags->Get("case"));
  if (!question.ok()) return Fail("similar", question.status());
  if (target->kind == Target::kDb) return RunLocal(*flags, *question, top);

  bool to_hub = target->kind == Target::kHub;
  auto connection = Connect(*flags, *target);
  if (!connection.ok()) return Fail("similar", connection.status());
  grpc::ClientContext context;
  context.set_deadline(target->Deadline());
  if (!to_hub) {
    v1::LocalSimilarRequest req;
    *req.mutable_patient() = *question;
    req.set_top(top);
    v1::SimilarCasesAnswer answer;
    absl::Status s = transport::FromGrpc(
        v1::AdminService::NewStub(connection->channel)->SimilarCases(&context, req, &answer));
    if (!s.ok()) return Fail("similar", s);
    if (flags->Bool("json")) {
      RegionParts parts;
      v1::RegionPart& part = *parts.Add() = AsPart(connection->self.region);
      part.mutable_similar()->set_cases_considered(answer.cases_considered());
      std::cout << SimilarJson(answer, false, parts) << "\n";
    } else {
      PrintMatches(answer.matches(), answer.notes());
    }
    return 0;
  }
  v1::SimilarCasesRequest req;
  *req.mutable_patient() = *question;
  req.set_top(top);
  v1::FederatedSimilarCases answer;
  absl::Status s = transport::FromGrpc(
      v1::FederationService::NewStub(connection->channel)->SimilarCases(&context, req, &answer));
  if (!s.ok()) return Fail("similar", s);
  if (flags->Bool("json")) {
    v1::SimilarCasesAnswer merged;
    *merged.mutable_matches() = answer.matches();
    *merged.mutable_notes() = answer.notes();
    std::cout << SimilarJson(merged, answer.partial(), answer.regions()) << "\n";
    return 0;
  }
  PrintMatches(answer.matches(), answer.notes());
  std::cout << "regions:";
  int missing = 0;
  for (const v1::RegionPart& p : answer.regions()) {
    std::cout << "  " << p.region() << " ";
    if (p.status() == v1::REGION_OK) {
      std::cout << "ok";
      // Only an operator's own node counts its cases; clinicians get no count.
      if (p.similar().cases_considered() > 0) {
        std::cout << " (" << WithThousands(p.similar().cases_considered()) << " cases)";
      }
    } else {
      ++missing;
      std::cout << RegionStatusWord(p.status()) << (p.detail().empty() ? "" : ": ") << p.detail();
    }
  }
  std::cout << "\n";
  if (answer.partial()) {
    std::cout << "partial: " << missing << " of " << answer.regions_size()
              << " regions did not answer; their cases are missing, not dissimilar\n";
  }
  return 0;
}

}  // namespace pmdb::cli
