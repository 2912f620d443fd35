// pmdb ca: the federation's certificate authority.
#include <ctime>
#include <iostream>

#include "node/base/strings.h"
#include "security/ca.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/output.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "ca",
      "pmdb ca init|issue|revoke|list --dir DIR [options]",
      "Runs the federation's root CA (EC P-256), kept in DIR. Every certificate carries exactly\n"
      "one URI SAN, its identity:\n"
      "  spiffe://FED/hub   spiffe://FED/region/ID/node   spiffe://FED/region/ID/operator/NAME\n"
      "  spiffe://FED/region/ID/clinician/NAME   spiffe://FED/researcher/NAME\n"
      "Hub and node certificates may serve TLS and also carry the DNS names and IP addresses\n"
      "they serve, so standard TLS clients verify them the usual way; people's certificates are\n"
      "for clients only. Revoking rewrites DIR/ca.crl, which nodes and the hub load.\n"
      "  init     create the CA (--federation NAME)\n"
      "  issue    a key and certificate: PREFIX.key, PREFIX.crt (--identity, --out)\n"
      "  revoke   revoke by --serial HEX or --cert FILE\n"
      "  list     every issued certificate, with expiry and revocation",
      {
          {"dir", "DIR", "the CA directory"},
          {"federation", "NAME", "init: the federation name used in every identity"},
          {"identity", "URI", "issue: the certificate's identity"},
          {"out", "PREFIX", "issue: write PREFIX.key and PREFIX.crt"},
          {"days", "N", "validity in days (init default 3650, issue default 365)"},
          {"dns", "NAME", "issue: a DNS name the hub or node serves", true},
          {"ip", "ADDR", "issue: an IP address the hub or node serves", true},
          {"serial", "HEX", "revoke: the certificate's serial number"},
          {"cert", "FILE", "revoke: the certificate file"},
          {"json", "", "print JSON"},
      },
      "  pmdb ca init --dir ca --federation se-pm\n"
      "  pmdb ca issue --dir ca --identity spiffe://se-pm/region/vast/node --out vast \\\n"
      "      --dns localhost --ip 127.0.0.1\n"
      "  pmdb ca issue --dir ca --identity spiffe://se-pm/researcher/anna --out anna\n"
      "  pmdb ca revoke --dir ca --cert anna.crt\n",
      /*takes_positional=*/true,
  };
  return spec;
}

bool ParseDays(const Flags& flags, uint32_t fallback, uint32_t* out) {
  if (!flags.Has("days")) {
    *out = fallback;
    return true;
  }
  return ParseUint32(flags.Get("days"), out) && *out > 0 && *out <= 36500;
}

}  // namespace

int RunCa(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->positional().size() != 1) {
    return UsageError(Spec(), absl::InvalidArgumentError("give one of init, issue, revoke, list"));
  }
  const std::string action = flags->positional()[0];
  const std::string dir = flags->Get("dir");
  if (dir.empty()) return UsageError(Spec(), absl::InvalidArgumentError("--dir DIR is required"));
  bool json = flags->Bool("json");

  if (action == "init") {
    uint32_t days = 0;
    if (!flags->Has("federation") || !ParseDays(*flags, 3650, &days)) {
      return UsageError(Spec(), absl::InvalidArgumentError(
                                    "init needs --federation NAME (and --days 1..36500)"));
    }
    auto ca = security::CertificateAuthority::Init(dir, flags->Get("federation"), days);
    if (!ca.ok()) return Fail("ca", ca.status());
    Json j;
    j.BeginObject().Key("dir").String(dir).Key("federation").String(ca->federation()).EndObject();
    std::cout << (json ? j.str()
                       : StrCat("created the ", ca->federation(), " root CA in ", dir,
                                " (ca.crt, ca.key, ca.crl)"))
              << "\n";
    return 0;
  }

  auto ca = security::CertificateAuthority::Open(dir);
  if (!ca.ok()) return Fail("ca", ca.status());
  if (action == "issue") {
    security::IssueRequest request;
    if (!flags->Has("identity") || !flags->Has("out") || !ParseDays(*flags, 365, &request.days)) {
      return UsageError(Spec(), absl::InvalidArgumentError(
                                    "issue needs --identity URI and --out PREFIX (and --days "
                                    "1..36500)"));
    }
    request.identity = flags->Get("identity");
    request.dns = flags->All("dns");
    request.ips = flags->All("ip");
    auto issued = ca->Issue(request, flags->Get("out"));
    if (!issued.ok()) return Fail("ca", issued.status());
    if (json) {
      Json j;
      j.BeginObject().Key("serial").String(issued->serial_hex).Key("identity").String(issued->identity);
      j.Key("not_after");
      WriteTime(j, issued->not_after);
      j.Key("certificate").String(flags->Get("out") + ".crt");
      j.Key("key").String(flags->Get("out") + ".key").EndObject();
      std::cout << j.str() << "\n";
    } else {
      std::cout << "issued " << issued->identity << " (serial " << issued->serial_hex << ")\n  "
                << flags->Get("out") << ".crt\n  " << flags->Get("out") << ".key (keep private)\n";
    }
    return 0;
  }
  if (action == "revoke") {
    std::string serial = flags->Get("serial");
    if (flags->Has("cert")) {
      auto cert = security::ReadCertificate(flags->Get("cert"));
      if (!cert.ok()) return Fail("ca", cert.status());
      serial = security::SerialHex(cert->get());
    }
    if (serial.empty()) {
      return UsageError(Spec(), absl::InvalidArgumentError("revoke needs --serial HEX or --cert FILE"));
    }
    if (auto s = ca->Revoke(serial); !s.ok()) return Fail("ca", s);
    Json j;
    j.BeginObject().Key("revoked").String(ToUpper(serial)).EndObject();
    std::cout << (json ? j.str()
                       : StrCat("revoked ", ToUpper(serial), "; ", dir, "/ca.crl rewritten"))
              << "\n";
    return 0;
  }
  if (action == "list") {
    auto all = ca->List();
    if (!all.ok()) return Fail("ca", all.status());
    Json j;
    j.BeginArray();
    for (const auto& c : *all) {
      j.BeginObject().Key("serial").String(c.serial_hex).Key("identity").String(c.identity);
      j.Key("not_after");
      WriteTime(j, c.not_after);
      j.Key("revoked").Bool(c.revoked);
      j.EndObject();
      if (!json) {
        char when[32];
        time_t t = static_cast<time_t>(c.not_after);
        std::strftime(when, sizeof(when), "%Y-%m-%d", std::gmtime(&t));
        std::cout << c.serial_hex << "  " << when << (c.revoked ? "  REVOKED  " : "           ")
                  << c.identity << "\n";
      }
    }
    j.EndArray();
    if (json) std::cout << j.str() << "\n";
    return 0;
  }
  return UsageError(Spec(), absl::InvalidArgumentError(
                                StrCat("unknown action '", action, "' (init, issue, revoke, list)")));
}

}  // namespace pmdb::cli
