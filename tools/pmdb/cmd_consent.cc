// pmdb consent: opt-outs (the Swedish opt-out model).
#include <iostream>

#include "node/base/strings.h"
#include "node/ingest/consent.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "consent",
      "pmdb consent --db DIR --withdraw FILE [--json]",
      "Records opt-outs. FILE has one subject id per line, optionally followed by a purpose\n"
      "(research or care). Without a purpose the subject leaves every purpose and all their\n"
      "data is deleted from the store; with one, they leave that purpose's consent set, which\n"
      "every query is restricted to. Opt-outs are remembered, so later ingests skip them.",
      {
          {"db", "DIR", "the store directory"},
          {"withdraw", "FILE", "subject ids (and optional purposes) that opt out"},
          {"json", "", "print the summary as JSON"},
      },
      "  printf 'P000123\\nP000456 research\\n' > optout.txt\n"
      "  pmdb consent --db region.db --withdraw optout.txt\n",
  };
  return spec;
}

}  // namespace

int RunConsent(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("withdraw")) {
    return UsageError(Spec(), absl::InvalidArgumentError("--withdraw FILE is required"));
  }
  auto store = OpenStore(flags->Get("db"), /*create=*/false);
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
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject()
        .Key("lines")
        .Uint(s->lines)
        .Key("removed")
        .Uint(s->removed)
        .Key("withdrawn_research")
        .Uint(s->withdrawn_research)
        .Key("withdrawn_care")
        .Uint(s->withdrawn_care)
        .Key("not_in_store")
        .Uint(s->not_in_store)
        .Key("bitmaps_rewritten")
        .Uint(s->bitmaps_rewritten)
        .EndObject();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "opt-outs recorded: " << s->lines << "\n"
            << "  removed from every purpose (data deleted)  " << s->removed << "\n"
            << "  withdrawn from research only               " << s->withdrawn_research << "\n"
            << "  withdrawn from care only                   " << s->withdrawn_care << "\n"
            << "  not in this store (remembered)             " << s->not_in_store << "\n";
  return 0;
}

}  // namespace pmdb::cli
