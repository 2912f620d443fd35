// pmdb audit verify|list: check the hash chain of a node's (or the hub's) audit log and read it.
#include <ctime>
#include <iostream>

#include "node/base/strings.h"
#include "node/storage/keys.h"
#include "security/audit.h"
#include "security/signed_head.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"

namespace pmdb::cli {
namespace {

// "  charged project P rho 0.020" (a release), "  charged nothing (a repeat)", at the hub
// "  charged norr 0.020, vast 0.020"; "" for entries that release no number.
std::string Charged(const v1::AuditEntry& e) {
  char rho[32];
  if (!e.charges().empty()) {
    std::string out = "  charged";
    for (const v1::RegionCharge& c : e.charges()) {
      std::snprintf(rho, sizeof rho, "%.3f", static_cast<double>(c.rho_micros()) / 1e6);
      StrAppend(&out, out.size() > 9 ? ", " : " ", c.region(), " ", rho);
    }
    return out;
  }
  if (e.release().empty()) return "";
  if (e.rho_micros() == 0) return StrCat("  charged nothing to ", e.project(), " (a repeat)");
  std::snprintf(rho, sizeof rho, "%.3f", static_cast<double>(e.rho_micros()) / 1e6);
  return StrCat("  charged ", e.project(), " rho ", rho);
}

const CommandSpec& VerifySpec() {
  static const CommandSpec spec{
      "audit verify",
      "pmdb audit verify --db DIR [--json]",
      "Walks the audit log's hash chain and reports every entry that was edited, reordered or\n"
      "removed, and a log cut short at the end. Works next to a running node (read-only). Prints\n"
      "the head hash: write it down elsewhere now and then, so that even a rewrite of the whole\n"
      "log would be noticed. Also compares the log with its anchor beside the store\n"
      "(DIR.audit-anchor), which tells an older copy put back or a re-linked log. Exit status 1\n"
      "when the log is damaged.",
      {{"db", "DIR", "the node's or hub's store"}, {"json", "", "print JSON"}},
      "  pmdb audit verify --db /var/lib/pmdb/norr\n",
  };
  return spec;
}

const CommandSpec& ListSpec() {
  static const CommandSpec spec{
      "audit list",
      "pmdb audit list --db DIR [--caller ID] [--subject ID] [--since TIME] [--limit N] [--json]",
      "Lists audit entries, oldest first: time, who asked (and through which hub), what, the\n"
      "outcome and what was released. For the regular log review; entries hold no patient data\n"
      "(similar-case and contact entries name the individuals they touched only by the region's\n"
      "internal ordinal, in the JSON field \"individuals\"; never by subject id).\n\n"
      "With --subject, a patient's right to know: the similar-case searches that returned this\n"
      "patient's case and the contact requests about it, with the clinician who made each\n"
      "(aggregate questions count people without singling anyone out, so they are not listed).",
      {{"db", "DIR", "the node's or hub's store"},
       {"caller", "ID", "only this caller (a spiffe:// identity)"},
       {"subject", "ID", "only entries that returned or concerned this patient (subject id)"},
       {"since", "TIME", "only entries at or after TIME (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)"},
       {"limit", "N", "at most N entries"},
       {"json", "", "one JSON object per entry, one per line"}},
      "  pmdb audit list --db /var/lib/pmdb/norr --since 2026-11-01\n"
      "  pmdb audit list --db /var/lib/pmdb/norr --caller spiffe://se-pm/researcher/anna --json\n"
      "  pmdb audit list --db /var/lib/pmdb/norr --subject NRR-000417\n",
  };
  return spec;
}

absl::StatusOr<int64_t> ParseTime(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    tm = std::tm{};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  }
  if (end == nullptr || *end != '\0') {
    return absl::InvalidArgumentError(
        StrCat("--since '", text, "' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"));
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000000;
}

std::string FormatTime(int64_t micros) { return FormatUtc(micros / 1000000, "%Y-%m-%dT%H:%M:%SZ"); }

absl::StatusOr<std::unique_ptr<storage::Store>> OpenReadOnly(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("--db DIR is required");
  return storage::Store::Open(dir, {.read_only = true});
}

int Verify(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(VerifySpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  auto store = OpenReadOnly(flags->Get("db"));
  if (!store.ok()) return Fail("audit verify", store.status());
  auto view = (*store)->Snapshot();
  security::AuditVerification v = security::VerifyAudit(*view);
  // What only the anchor outside the store can tell: an older copy, a re-linked log.
  auto anchor = security::ReadAnchor(security::AnchorPathOf(flags->Get("db")));
  if (!anchor.ok()) {
    v.problems.push_back({0, std::string(anchor.status().message())});
  } else if (anchor->has_value()) {
    auto unanchored = security::TailProblems(*view, std::nullopt);
    for (security::AuditProblem& p : security::TailProblems(*view, *anchor)) {
      bool known = false;
      for (const auto& u : unanchored) known |= u.what == p.what;
      if (!known) v.problems.push_back(std::move(p));
    }
  }
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject().Key("entries").Uint(v.entries).Key("head").String(v.head_hash_hex);
    j.Key("intact").Bool(v.problems.empty()).Key("problems").BeginArray();
    for (const auto& p : v.problems) {
      j.BeginObject().Key("entry").Uint(p.seq).Key("what").String(p.what).EndObject();
    }
    j.EndArray().EndObject();
    std::cout << j.str() << "\n";
  } else if (v.problems.empty()) {
    std::cout << "audit log intact: " << WithThousands(v.entries) << " entries, head "
              << (v.head_hash_hex.empty() ? "(empty log)" : v.head_hash_hex) << "\n";
  } else {
    std::cout << "audit log DAMAGED: " << v.problems.size() << " problem(s) in "
              << WithThousands(v.entries) << " entries\n";
    for (const auto& p : v.problems) std::cout << "  entry " << p.seq << ": " << p.what << "\n";
  }
  return v.problems.empty() ? 0 : kExitFailure;
}

int List(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(ListSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  security::AuditFilter filter;
  filter.caller = flags->Get("caller");
  if (flags->Has("since")) {
    auto since = ParseTime(flags->Get("since"));
    if (!since.ok()) return UsageError(ListSpec(), since.status());
    filter.since_unix_micros = *since;
  }
  if (flags->Has("limit")) {
    uint32_t limit = 0;
    if (!ParseUint32(flags->Get("limit"), &limit)) {
      return UsageError(ListSpec(), absl::InvalidArgumentError("--limit is a number"));
    }
    filter.limit = limit;
  }
  auto store = OpenReadOnly(flags->Get("db"));
  if (!store.ok()) return Fail("audit list", store.status());
  auto view = (*store)->Snapshot();
  if (flags->Has("subject")) {
    const std::string subject = flags->Get("subject");
    auto ordinal = view->Get(storage::Family::kIndividuals, storage::keys::SubjectIndex(subject));
    if (!ordinal.ok()) return Fail("audit list", ordinal.status());
    if (!ordinal->has_value()) {
      return Fail("audit list",
                  absl::NotFoundError(StrCat("subject ", subject, " is not in ", flags->Get("db"),
                                             " (never ingested, or erased)")));
    }
    filter.individual = storage::keys::ReadBE32(**ordinal);
  }
  auto entries = security::ListAudit(*view, filter);
  if (!entries.ok()) return Fail("audit list", entries.status());
  for (const v1::AuditEntry& e : *entries) {
    if (flags->Bool("json")) {
      Json j;
      j.BeginObject().Key("seq").Uint(e.seq()).Key("time").String(FormatTime(e.time_unix_micros()));
      j.Key("caller").String(e.caller()).Key("role").String(e.role());
      j.Key("via").String(e.via());
      j.Key("method").String(e.method()).Key("query").String(e.query());
      j.Key("outcome").String(e.outcome()).Key("released").String(e.released());
      j.Key("region").String(e.region());
      // What the release cost: the project charged and rho (0 for a repeat); at the hub, what
      // each region charged.
      j.Key("project").String(e.project());
      j.Key("rho_charged").Double(static_cast<double>(e.rho_micros()) / 1e6);
      j.Key("charges").BeginArray();
      for (const v1::RegionCharge& c : e.charges()) {
        j.BeginObject().Key("region").String(c.region());
        j.Key("rho").Double(static_cast<double>(c.rho_micros()) / 1e6).EndObject();
      }
      j.EndArray();
      // Internal ordinals of the individuals a similar-case answer or contact request touched.
      j.Key("individuals").BeginArray();
      for (uint32_t o : e.individuals()) j.Uint(o);
      j.EndArray().EndObject();
      std::cout << j.str() << "\n";
    } else {
      std::cout << e.seq() << "  " << FormatTime(e.time_unix_micros()) << "  " << e.caller()
                << (e.via().empty() ? "" : StrCat(" via ", e.via())) << "  " << e.method() << "  "
                << e.outcome() << (e.query().empty() ? "" : StrCat("  ", e.query()))
                << (e.released().empty() ? "" : StrCat("  -> ", e.released())) << Charged(e)
                << "\n";
    }
  }
  return 0;
}

const CommandSpec& HeadsSpec() {
  static const CommandSpec spec{
      "audit heads",
      "pmdb audit heads --db HUB_DIR [--ca CA.crt] [--json]",
      "What the hub witnessed of every region's audit log (the hub's store): the chain's length\n"
      "and head hash when the hub last saw them grow, and whether the hub stopped asking the\n"
      "region because its log was cut short or rewritten. Each head comes signed by the region's\n"
      "node with its own key; with --ca (the federation CA's certificate) every signature is\n"
      "checked, so the record is evidence anyone holding the CA certificate can verify: a region\n"
      "that later shows a shorter or different log cannot say the hub made it up. Works next to\n"
      "a running hub (read-only). Exit status 1 when a region's log was caught rolled back and,\n"
      "with --ca, when a head's signature is missing or does not verify.",
      {{"db", "DIR", "the hub's store"},
       {"ca", "FILE", "the federation CA's certificate, to check the signatures"},
       {"json", "", "print JSON"}},
      "  pmdb audit heads --db /var/lib/pmdb/hub --ca /etc/pmdb/ca.crt\n",
  };
  return spec;
}

int Heads(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(HeadsSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  auto store = OpenReadOnly(flags->Get("db"));
  if (!store.ok()) return Fail("audit heads", store.status());
  auto view = (*store)->Snapshot();
  const std::string prefix = "witness/";
  std::vector<std::pair<std::string, v1::WitnessedHead>> heads;
  absl::Status damaged;
  absl::Status scanned =
      view->Scan(storage::Family::kMeta, prefix, storage::keys::PrefixEnd(prefix),
                 [&](std::string_view key, std::string_view value) {
                   v1::WitnessedHead head;
                   if (!head.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                     damaged = absl::DataLossError(StrCat("the record of ", key, " is damaged"));
                     return false;
                   }
                   heads.emplace_back(std::string(key.substr(prefix.size())), std::move(head));
                   return true;
                 });
  if (!scanned.ok()) return Fail("audit heads", scanned);
  if (!damaged.ok()) return Fail("audit heads", damaged);
  const std::string ca = flags->Get("ca");
  bool bad = false;
  Json j;
  j.BeginArray();
  for (const auto& [region, head] : heads) {
    std::string signature = head.signature_problem().empty()
                                ? "unsigned"
                                : StrCat("unsigned: ", head.signature_problem());
    // With the CA at hand, a head without a valid signature is a finding too.
    if (head.signature().empty() && head.entries() > 0 && !ca.empty()) bad = true;
    if (!head.signature().empty()) {
      signature = "signed by the region's node (not checked: give --ca)";
      if (!ca.empty()) {
        absl::Status ok = security::VerifyNodeSignature(
            head.certificate(), ca, region, head.signed_time_unix_micros() / 1000000,
            security::HeadMessage(region, head.entries(), head.hash(),
                                  head.signed_time_unix_micros()),
            head.signature());
        signature = ok.ok() ? "signature verified"
                            : StrCat("SIGNATURE INVALID: ", std::string(ok.message()));
        bad |= !ok.ok();
      }
    }
    bad |= !head.broken().empty();
    const std::string hash = security::Hex(head.hash());
    if (flags->Bool("json")) {
      j.BeginObject().Key("region").String(region).Key("entries").Uint(head.entries());
      j.Key("head").String(hash).Key("witnessed").String(FormatTime(head.time_unix_micros()));
      j.Key("signature").String(signature).Key("broken").String(head.broken()).EndObject();
    } else {
      std::cout << region << ": " << WithThousands(head.entries()) << " entries, head "
                << (hash.empty() ? "(none yet)" : hash) << ", witnessed "
                << (head.time_unix_micros() == 0 ? "never" : FormatTime(head.time_unix_micros()))
                << "; " << signature << "\n";
      if (!head.broken().empty()) std::cout << "  REFUSED: " << head.broken() << "\n";
    }
  }
  j.EndArray();
  if (flags->Bool("json")) std::cout << j.str() << "\n";
  if (heads.empty() && !flags->Bool("json")) {
    std::cout << "no audit heads witnessed here (is " << flags->Get("db") << " a hub's store?)\n";
  }
  return bad ? kExitFailure : 0;
}

}  // namespace

int RunAudit(int argc, char** argv) {
  std::string sub = argc > 0 ? argv[0] : "";
  if (sub == "verify") return Verify(argc - 1, argv + 1);
  if (sub == "list") return List(argc - 1, argv + 1);
  if (sub == "heads") return Heads(argc - 1, argv + 1);
  std::cerr << "usage: pmdb audit (verify | list | heads) --db DIR ...   (pmdb audit verify "
               "--help)\n";
  return sub == "--help" || sub == "-h" ? 0 : kExitUsage;
}

}  // namespace pmdb::cli
