#include "node/web/web_api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <utility>

#include "node/base/log.h"
#include "node/base/strings.h"
#include "node/beacon/beacon_api.h"
#include "node/web/assets.h"
#include "query/parser.h"
#include "security/identity.h"

namespace pmdb::web {
namespace {

namespace pb = google::protobuf;

transport::HttpsResponse JsonResponse(int status, std::string body) {
  transport::HttpsResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

transport::HttpsResponse Error(int status, const std::string& message) {
  return JsonResponse(status, ErrorJson(status, message));
}

transport::HttpsResponse Refusal(const absl::Status& status) {
  return Error(beacon::HttpStatusOf(status), beacon::CallerMessage(status));
}

transport::HttpsResponse AnswerJson(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!pb::util::MessageToJsonString(message, &out, options).ok()) {
    return Error(500, "the server could not answer; try again later");
  }
  return JsonResponse(200, std::move(out));
}

bool IsJson(const std::string& content_type) {
  const std::string_view type = std::string_view(content_type).substr(0, content_type.find(';'));
  return type == "application/json";
}

// The request body as the message `T`. With `text_criterion`, a top-level "query" string is
// parsed as a question in pmdb's language into the message's "criterion".
template <typename T>
absl::StatusOr<T> ParseBody(const transport::HttpsRequest& request, bool text_criterion) {
  if (!IsJson(request.content_type)) {
    return absl::InvalidArgumentError("send the request as Content-Type: application/json");
  }
  pb::Value doc;
  if (!pb::util::JsonStringToMessage(request.body, &doc).ok() || !doc.has_struct_value()) {
    return absl::InvalidArgumentError("the request body is not a JSON object");
  }
  std::optional<v1::Criterion> criterion;
  auto& fields = *doc.mutable_struct_value()->mutable_fields();
  if (auto it = fields.find("query"); text_criterion && it != fields.end()) {
    if (!it->second.has_string_value()) {
      return absl::InvalidArgumentError("query must be a string in pmdb's criterion language");
    }
    if (fields.contains("criterion")) {
      return absl::InvalidArgumentError("give the question as query or as criterion, not both");
    }
    auto parsed = query::ParseCriterion(it->second.string_value());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(StrCat("query: ", std::string(parsed.status().message())));
    }
    criterion = *std::move(parsed);
    fields.erase(it);
  }
  std::string rest;
  if (!pb::util::MessageToJsonString(doc, &rest).ok()) {
    return absl::InvalidArgumentError("the request body is not a JSON object");
  }
  T message;
  auto parsed = pb::util::JsonStringToMessage(rest, &message);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(StrCat("the request body is not a ", T::descriptor()->name(),
                                             ": ", parsed.message().ToString()));
  }
  if constexpr (requires { message.mutable_criterion(); }) {
    if (criterion.has_value()) *message.mutable_criterion() = *std::move(criterion);
  }
  return message;
}

transport::HttpsResponse Me(const call::Credentials& who, std::string_view where) {
  if (!who.peer.ok()) return Refusal(who.peer.status());
  const security::Identity& id = *who.peer;
  pb::Struct me;
  auto& f = *me.mutable_fields();
  f["identity"].set_string_value(id.uri);
  f["federation"].set_string_value(id.federation);
  f["role"].set_string_value(security::RoleName(id.role));
  f["name"].set_string_value(id.name);
  f["region"].set_string_value(id.region);
  f["server"].set_string_value(std::string(where));
  return AnswerJson(me);
}

// Runs `call(request, done)` on a parsed request kept alive until `done` has run.
template <typename Req, typename Ans, typename Call>
void Async(const transport::HttpsRequest& http, bool text_criterion, const Answer& answer,
           Call call) {
  auto request = ParseBody<Req>(http, text_criterion);
  if (!request.ok()) return answer(Refusal(request.status()));
  auto kept = std::make_shared<Req>(*std::move(request));
  call(*kept, [kept, answer](absl::StatusOr<Ans> out) {
    answer(out.ok() ? AnswerJson(*out) : Refusal(out.status()));
  });
}

}  // namespace

std::string ErrorJson(int status, const std::string& message) {
  return StrCat(R"({"error":{"code":)", status, R"(,"message":)", log::JsonString(message), "}}");
}

void HubWebApi::Handle(const call::Credentials& who, const transport::HttpsRequest& request,
                       Answer answer) const {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  const auto deadline = std::chrono::system_clock::now() + deadline_;
  hub::Hub* hub = hub_;
  if (path == "/pmdb/v1/me" && get) return answer(Me(who, "hub"));
  if (path == "/pmdb/v1/info" && get) {
    auto kept = std::make_shared<v1::InfoRequest>();
    return hub->Info(who, deadline, *kept, [kept, answer](absl::StatusOr<v1::FederationInfo> out) {
      answer(out.ok() ? AnswerJson(*out) : Refusal(out.status()));
    });
  }
  if (!post) {
    return answer(Error(get ? 404 : 405, StrCat("no ", request.method, " ", path,
                                                " here; the calls are listed in docs/web.md")));
  }
  if (path == "/pmdb/v1/count") {
    return Async<v1::CountRequest, v1::FederatedCount>(
        request, true, answer,
        [&](const auto& r, auto done) { hub->Count(who, deadline, r, done); });
  }
  if (path == "/pmdb/v1/breakdown") {
    return Async<v1::BreakdownRequest, v1::FederatedBreakdown>(
        request, true, answer,
        [&](const auto& r, auto done) { hub->Breakdown(who, deadline, r, done); });
  }
  if (path == "/pmdb/v1/frequency") {
    return Async<v1::FrequencyRequest, v1::FederatedFrequency>(
        request, true, answer,
        [&](const auto& r, auto done) { hub->Frequency(who, deadline, r, done); });
  }
  if (path == "/pmdb/v1/similar-cases") {
    return Async<v1::SimilarCasesRequest, v1::FederatedSimilarCases>(
        request, false, answer,
        [&](const auto& r, auto done) { hub->SimilarCases(who, deadline, r, done); });
  }
  if (path == "/pmdb/v1/contact-requests") {
    return Async<v1::ContactRequest, v1::ContactTicket>(
        request, false, answer,
        [&](const auto& r, auto done) { hub->RequestContact(who, deadline, r, done); });
  }
  if (path == "/pmdb/v1/contact-status") {
    return Async<v1::ContactStatusRequest, v1::ContactTicket>(
        request, false, answer,
        [&](const auto& r, auto done) { hub->ContactStatus(who, deadline, r, done); });
  }
  answer(Error(404, StrCat("no POST ", path, " here; the calls are listed in docs/web.md")));
}

void NodeWebApi::Handle(const call::Credentials& who, const transport::HttpsRequest& request,
                        Answer answer) const {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  core::NodeCore* core = core_;
  if (path == "/pmdb/v1/me" && get) return answer(Me(who, "node"));
  if (path == "/pmdb/v1/info" && get) {
    return core->Info(who, [answer](absl::StatusOr<v1::RegionInfo> out) {
      answer(out.ok() ? AnswerJson(*out) : Refusal(out.status()));
    });
  }
  // The admin calls read the store: on the workers, never on the front end's thread.
  auto off_thread = [this, &answer](std::function<transport::HttpsResponse()> work) {
    if (!run_([work = std::move(work), answer] { answer(work()); })) {
      answer(Error(503, "the node is busy; try again in a moment"));
    }
  };
  if (path == "/pmdb/v1/status" && get) {
    return off_thread([core, who] {
      auto out = core->Status(who);
      return out.ok() ? AnswerJson(*out) : Refusal(out.status());
    });
  }
  if (!post) {
    return answer(Error(get ? 404 : 405, StrCat("no ", request.method, " ", path,
                                                " here; the calls are listed in docs/web.md")));
  }
  // Parsed here, answered on a worker.
  auto sync = [&]<typename Req, typename Ans>(Req*, absl::StatusOr<Ans> (core::NodeCore::*method)(
                                                        const call::Credentials&, const Req&)) {
    auto parsed = ParseBody<Req>(request, false);
    if (!parsed.ok()) return answer(Refusal(parsed.status()));
    off_thread([core, who, method, r = *std::move(parsed)] {
      auto out = (core->*method)(who, r);
      return out.ok() ? AnswerJson(*out) : Refusal(out.status());
    });
  };
  if (path == "/pmdb/v1/audit") {
    return sync(static_cast<v1::AuditListRequest*>(nullptr), &core::NodeCore::AuditList);
  }
  if (path == "/pmdb/v1/contacts") {
    return sync(static_cast<v1::ContactListRequest*>(nullptr), &core::NodeCore::ContactList);
  }
  if (path == "/pmdb/v1/contact-answer") {
    return sync(static_cast<v1::ContactAnswerRequest*>(nullptr), &core::NodeCore::ContactAnswer);
  }
  answer(Error(404, StrCat("no POST ", path, " here; the calls are listed in docs/web.md")));
}

bool IsPagePath(const std::string& path) { return FindAsset(path) != nullptr; }

transport::HttpsResponse PageFile(const std::string& path) {
  const Asset* asset = FindAsset(path);
  if (asset == nullptr) return Error(404, StrCat("no page at ", path));
  transport::HttpsResponse r;
  r.status = 200;
  r.content_type = asset->content_type;
  r.body = std::string(asset->data);
  r.headers = {// Everything from this server, nothing inline, no framing by other pages.
               {"Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

}  // namespace pmdb::web
