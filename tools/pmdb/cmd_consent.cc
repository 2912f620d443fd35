// pmdb consent: opt-outs (the Swedish opt-out model).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "node/base/strings.h"
#include "node/ingest/consent.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec = WithCredentialFlags({
      "consent",
      "pmdb consent (--db DIR | --node HOST:PORT) --withdraw FILE [--json]",
      "Records opt-outs. FILE has one subject id per line, optionally followed by a purpose\n"
      "(research or care). Without a purpose the subject leaves every purpose and all their\n"
      "data is deleted from the store; with one, they leave that purpose's consent set, which\n"
      "every query is restricted to. Opt-outs are remembered, so later ingests skip them.\n"
      "With --node the running node applies the file (an operator's certificate) as one batch,\n"
      "effective from the next question on.",
      {
          {"db", "DIR", "the store directory"},
          {"node", "HOST:PORT", "your region's running node (instead of --db)"},
          {"withdraw", "FILE", "subject ids (and optional purposes) that opt out"},
          {"json", "", "print the summary as JSON"},
          {"timeout", "SECONDS", "with --node: give up after this long (default 30)"},
      },
      "  printf 'P000123\\nP000456 research\\n' > optout.txt\n"
      "  pmdb consent --db region.db --withdraw optout.txt\n"
      "  pmdb consent --node localhost:7104 --withdraw optout.txt\n",
  });
  return spec;
}

int Print(const ingest::WithdrawalSummary& s, bool json) {
  if (json) {
    Json j;
    j.BeginObject()
        .Key("lines")
        .Uint(s.lines)
        .Key("removed")
        .Uint(s.removed)
        .Key("withdrawn_research")
        .Uint(s.withdrawn_research)
        .Key("withdrawn_care")
        .Uint(s.withdrawn_care)
        .Key("not_in_store")
        .Uint(s.not_in_store)
        .Key("bitmaps_rewritten")
        .Uint(s.bitmaps_rewritten)
        .EndObject();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "opt-outs recorded: " << s.lines << "\n"
            << "  removed from every purpose (data deleted)  " << s.removed << "\n"
            << "  withdrawn from research only               " << s.withdrawn_research << "\n"
            << "  withdrawn from care only                   " << s.withdrawn_care << "\n"
            << "  not in this store (remembered)             " << s.not_in_store << "\n";
  return 0;
}

// The file goes to the running node whole; it applies it as one batch (AdminService.Consent).
int ConsentOnNode(const Flags& flags, const Target& target) {
  const std::string path = flags.Get("withdraw");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail("consent", absl::NotFoundError(StrCat(path, ": cannot open")));
  v1::ConsentRequest request;
  request.set_file(std::string(std::istreambuf_iterator<char>(in), {}));
  request.set_file_name(path);
  if (request.file().empty()) {
    return Fail("consent", absl::InvalidArgumentError(StrCat(path, ": empty")));
  }
  auto c = Connect(flags, target);
  if (!c.ok()) return Fail("consent", c.status());
  grpc::ClientContext context;
  context.set_deadline(target.Deadline());
  v1::ConsentReply reply;
  absl::Status s = transport::FromGrpc(
      v1::AdminService::NewStub(c->channel)->Consent(&context, request, &reply));
  if (!s.ok()) return Fail("consent", s);
  ingest::WithdrawalSummary summary;
  summary.lines = reply.lines();
  summary.removed = reply.removed();
  summary.withdrawn_research = reply.withdrawn_research();
  summary.withdrawn_care = reply.withdrawn_care();
  summary.not_in_store = reply.not_in_store();
  summary.bitmaps_rewritten = reply.bitmaps_rewritten();
  return Print(summary, flags.Bool("json"));
}

}  // namespace

int RunConsent(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("withdraw")) {
    return UsageError(Spec(), absl::InvalidArgumentError("--withdraw FILE is required"));
  }
  auto target = ChooseTarget(*flags, {Target::kDb, Target::kNode});
  if (!target.ok()) return UsageError(Spec(), target.status());
  if (target->kind == Target::kNode) return ConsentOnNode(*flags, *target);
  auto store = OpenStore(target->where, /*create=*/false);
  if (!store.ok()) return Fail("consent", store.status());
  auto s = ingest::WithdrawConsent(**store, flags->Get("withdraw"));
  // Audited in the store it changed; the subjects are never logged, only how many.
  auto audit = LocalAudit::Open(store->get());
  if (!audit.ok()) return Fail("consent", audit.status());
  absl::Status logged = (*audit)->Record(
      "Local/Consent", s.ok() ? StrCat("opt-out lines=", s->lines) : std::string("opt-out"),
      s.status(),
      s.ok() ? StrCat("removed=", s->removed, " research=", s->withdrawn_research,
                      " care=", s->withdrawn_care, " not_in_store=", s->not_in_store)
             : "");
  if (!s.ok()) return Fail("consent", s.status());
  if (!logged.ok()) return Fail("consent", logged);
  return Print(*s, flags->Bool("json"));
}

}  // namespace pmdb::cli
