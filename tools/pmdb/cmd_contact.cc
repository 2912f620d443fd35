// pmdb contact: the step after a similar-cases match. A clinician asks, through the hub, to be
// put in touch with the care unit of a case (request) and follows the answer (status); the
// owning region's operators see the requests and answer them on their own node (list, answer).
// Records never travel through pmdb, only the request and its answer.
#include <cstring>
#include <iostream>

#include "node/base/strings.h"
#include "node/transport/status.h"
#include "pmdb/v1/admin.grpc.pb.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/output.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

CommandSpec WithCredentials(CommandSpec s) {
  s = WithCredentialFlags(std::move(s));
  s.flags.push_back({"timeout", "SECONDS", "give up after this long (default 30)"});
  s.flags.push_back({"json", "", "print the answer as JSON"});
  return s;
}

const CommandSpec& RequestSpec() {
  static const CommandSpec spec = WithCredentials({
      "contact request",
      "pmdb contact request --hub HOST:PORT --reference REF --reason TEXT",
      "Asks the region that holds a similar case (REF from pmdb similar) to put you in touch with\n"
      "the responsible care unit. The request is stored and audited in that region; its operators\n"
      "answer it. Prints the request id to follow with pmdb contact status. Clinicians only.",
      {{"hub", "HOST:PORT", "the national hub (default: $PMDB_HUB)"},
       {"reference", "REF", "the case reference of a match"},
       {"reason", "TEXT", "why you ask (shown to the region's operators)"}},
      "  pmdb contact request --hub hub:7000 --reference pmdbref1.vast.… --reason 'same PKD1 "
      "variant, similar renal phenotype'\n",
  });
  return spec;
}

const CommandSpec& StatusSpec() {
  static const CommandSpec spec = WithCredentials({
      "contact status",
      "pmdb contact status --hub HOST:PORT REQUEST_ID",
      "The state of one of your contact requests: pending, accepted or declined, with the\n"
      "region's message.",
      {{"hub", "HOST:PORT", "the national hub (default: $PMDB_HUB)"}},
      "  pmdb contact status --hub hub:7000 vast/3f2a9c0d41e7b658\n",
      /*takes_positional=*/true,
  });
  return spec;
}

const CommandSpec& ListSpec() {
  static const CommandSpec spec = WithCredentials({
      "contact list",
      "pmdb contact list --node HOST:PORT [--state pending|accepted|declined]",
      "The contact requests clinicians made for this region's cases, oldest first, with the\n"
      "requesting clinician, the reason and the local subject id of the case. Operators only.",
      {{"node", "HOST:PORT", "your region's node"},
       {"state", "STATE", "only requests in this state (default: all)"}},
      "  pmdb contact list --node localhost:7104 --state pending\n",
  });
  return spec;
}

const CommandSpec& AnswerSpec() {
  static const CommandSpec spec = WithCredentials({
      "contact answer",
      "pmdb contact answer --node HOST:PORT REQUEST_ID (--accept | --decline) --message TEXT",
      "Answers a pending contact request; the clinician sees the state and the message with\n"
      "pmdb contact status. A request is answered once. Operators only.",
      {{"node", "HOST:PORT", "your region's node"},
       {"accept", "", "the care unit will get in touch"},
       {"decline", "", "the request is declined"},
       {"message", "TEXT", "what the clinician should know (e.g. who will call)"}},
      "  pmdb contact answer --node localhost:7104 vast/3f2a9c0d41e7b658 --accept \\\n"
      "      --message 'Dr. Lind, klinisk genetik, will call you this week'\n",
      /*takes_positional=*/true,
  });
  return spec;
}

void PrintTicket(const v1::ContactTicket& t) {
  std::cout << t.request_id() << "  " << ContactStateWord(t.state()) << "  requested "
            << FormatUtc(t.created_unix(), "%Y-%m-%d %H:%M");
  if (t.answered_unix() != 0) {
    std::cout << ", answered " << FormatUtc(t.answered_unix(), "%Y-%m-%d %H:%M");
  }
  std::cout << "\n";
  if (!t.answer().empty()) std::cout << "  " << t.answer() << "\n";
}

// Connects to the hub or the node as the flags say, with the deadline applied.
absl::StatusOr<Connection> Open(const Flags& flags, bool hub, grpc::ClientContext* context) {
  auto target = ChooseTarget(flags, {hub ? Target::kHub : Target::kNode});
  if (!target.ok()) return target.status();
  context->set_deadline(target->Deadline());
  return Connect(flags, *target);
}

int Request(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(RequestSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("reference") || !flags->Has("reason")) {
    return UsageError(RequestSpec(),
                      absl::InvalidArgumentError("--reference and --reason are required"));
  }
  grpc::ClientContext context;
  auto c = Open(*flags, true, &context);
  if (!c.ok()) return Fail("contact request", c.status());
  v1::ContactRequest req;
  req.set_case_reference(flags->Get("reference"));
  req.set_reason(flags->Get("reason"));
  v1::ContactTicket ticket;
  absl::Status s = transport::FromGrpc(
      v1::FederationService::NewStub(c->channel)->RequestContact(&context, req, &ticket));
  if (!s.ok()) return Fail("contact request", s);
  if (flags->Bool("json")) {
    std::cout << TicketJson(ticket) << "\n";
  } else {
    PrintTicket(ticket);
    std::cout << "follow it with: pmdb contact status " << ticket.request_id() << "\n";
  }
  return 0;
}

int Status(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(StatusSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->positional().size() != 1) {
    return UsageError(StatusSpec(), absl::InvalidArgumentError("give one REQUEST_ID"));
  }
  grpc::ClientContext context;
  auto c = Open(*flags, true, &context);
  if (!c.ok()) return Fail("contact status", c.status());
  v1::ContactStatusRequest req;
  req.set_request_id(flags->positional()[0]);
  v1::ContactTicket ticket;
  absl::Status s = transport::FromGrpc(
      v1::FederationService::NewStub(c->channel)->ContactStatus(&context, req, &ticket));
  if (!s.ok()) return Fail("contact status", s);
  if (flags->Bool("json")) {
    std::cout << TicketJson(ticket) << "\n";
  } else {
    PrintTicket(ticket);
  }
  return 0;
}

int List(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(ListSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  v1::ContactListRequest req;
  if (flags->Has("state")) {
    std::string state = ToLower(flags->Get("state"));
    if (state == "pending") {
      req.set_state(v1::CONTACT_PENDING);
    } else if (state == "accepted") {
      req.set_state(v1::CONTACT_ACCEPTED);
    } else if (state == "declined") {
      req.set_state(v1::CONTACT_DECLINED);
    } else {
      return UsageError(ListSpec(),
                        absl::InvalidArgumentError("--state is pending, accepted or declined"));
    }
  }
  grpc::ClientContext context;
  auto c = Open(*flags, false, &context);
  if (!c.ok()) return Fail("contact list", c.status());
  v1::ContactListReply reply;
  absl::Status s = transport::FromGrpc(
      v1::AdminService::NewStub(c->channel)->ContactList(&context, req, &reply));
  if (!s.ok()) return Fail("contact list", s);
  if (flags->Bool("json")) {
    std::cout << ContactListJson(reply) << "\n";
    return 0;
  }
  if (reply.requests().empty()) std::cout << "no contact requests\n";
  for (const v1::ContactView& v : reply.requests()) {
    PrintTicket(v.ticket());
    std::cout << "  from " << v.requester() << "\n  case: subject "
              << (v.subject_id().empty() ? "unknown" : v.subject_id());
    if (!v.care_unit().empty()) std::cout << ", care unit " << v.care_unit();
    std::cout << "\n  reason: " << v.reason() << "\n";
  }
  if (!reply.problem().empty()) std::cerr << "pmdb contact list: " << reply.problem() << "\n";
  return 0;
}

int Answer(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(AnswerSpec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->positional().size() != 1 || flags->Bool("accept") == flags->Bool("decline") ||
      !flags->Has("message")) {
    return UsageError(
        AnswerSpec(),
        absl::InvalidArgumentError("give one REQUEST_ID, --accept or --decline, and --message"));
  }
  grpc::ClientContext context;
  auto c = Open(*flags, false, &context);
  if (!c.ok()) return Fail("contact answer", c.status());
  v1::ContactAnswerRequest req;
  req.set_request_id(flags->positional()[0]);
  req.set_accept(flags->Bool("accept"));
  req.set_message(flags->Get("message"));
  v1::ContactTicket ticket;
  absl::Status s = transport::FromGrpc(
      v1::AdminService::NewStub(c->channel)->ContactAnswer(&context, req, &ticket));
  if (!s.ok()) return Fail("contact answer", s);
  if (flags->Bool("json")) {
    std::cout << TicketJson(ticket) << "\n";
  } else {
    PrintTicket(ticket);
  }
  return 0;
}

constexpr const char* kUsage =
    "usage: pmdb contact (request | status | list | answer) [options]\n"
    "  request  a clinician asks, through the hub, to contact the care unit of a similar case\n"
    "  status   a clinician follows their request\n"
    "  list     a region's operator lists the requests for the region's cases\n"
    "  answer   a region's operator accepts or declines a request\n"
    "pmdb contact SUBCOMMAND --help explains each.\n";

}  // namespace

int RunContact(int argc, char** argv) {
  if (argc < 1 || std::strcmp(argv[0], "--help") == 0) {
    std::cout << kUsage;
    return argc < 1 ? kExitUsage : 0;
  }
  std::string sub = argv[0];
  if (sub == "request") return Request(argc - 1, argv + 1);
  if (sub == "status") return Status(argc - 1, argv + 1);
  if (sub == "list") return List(argc - 1, argv + 1);
  if (sub == "answer") return Answer(argc - 1, argv + 1);
  std::cerr << "pmdb contact: unknown subcommand '" << sub << "'\n" << kUsage;
  return kExitUsage;
}

}  // namespace pmdb::cli
