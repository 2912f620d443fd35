// pmdb's own JSON over HTTPS, for the web page (node/web/assets) and for scripts: each call of
// the gRPC services at one path, its request and answer in protobuf's JSON mapping (field names
// in lowerCamelCase, 64-bit numbers as strings), answered by the same hub or node core with the
// same caller, so the page can do nothing a gRPC client could not do.
//
// At the hub (HubWebApi), for researchers and clinicians:
//   GET  /pmdb/v1/me                  who the certificate says you are
//   GET  /pmdb/v1/info                FederationInfo: what each region shares with you, budgets
//   POST /pmdb/v1/count               CountRequest -> FederatedCount
//   POST /pmdb/v1/breakdown           BreakdownRequest -> FederatedBreakdown
//   POST /pmdb/v1/frequency           FrequencyRequest -> FederatedFrequency
//   POST /pmdb/v1/similar-cases       SimilarCasesRequest -> FederatedSimilarCases
//   POST /pmdb/v1/contact-requests    ContactRequest -> ContactTicket
//   POST /pmdb/v1/contact-status      ContactStatusRequest -> ContactTicket
// Count, breakdown and frequency also take the question as text ("query": "dx(C50) AND sex(F)",
// query/parser.h) in place of "criterion".
//
// At a node (NodeWebApi), for the region's operators:
//   GET  /pmdb/v1/me, GET /pmdb/v1/status (StatusReply), GET /pmdb/v1/info (RegionInfo)
//   POST /pmdb/v1/audit               AuditListRequest -> AuditListReply
//   POST /pmdb/v1/contacts            ContactListRequest -> ContactListReply
//   POST /pmdb/v1/contact-answer      ContactAnswerRequest -> ContactTicket
//
// POSTs must say Content-Type: application/json: a page of another site cannot send that
// without asking the server first (CORS), which it refuses.
#ifndef PMDB_NODE_WEB_WEB_API_H_
#define PMDB_NODE_WEB_WEB_API_H_

#include <chrono>
#include <functional>
#include <string>

#include "node/call/caller.h"
#include "node/core/node_core.h"
#include "node/hub/hub.h"
#include "node/transport/https_server.h"

namespace pmdb::web {

using Answer = std::function<void(transport::HttpsResponse)>;

// {"error": {"code": 400, "message": "..."}}
std::string ErrorJson(int status, const std::string& message);

class HubWebApi {
 public:
  // `deadline`: how long the hub waits for the regions per question. The hub must outlive this.
  HubWebApi(hub::Hub* hub, std::chrono::milliseconds deadline) : hub_(hub), deadline_(deadline) {}
  // A request whose path starts with /pmdb/.
  void Handle(const call::Credentials& who, const transport::HttpsRequest& request,
              Answer answer) const;

 private:
  hub::Hub* hub_;
  std::chrono::milliseconds deadline_;
};

class NodeWebApi {
 public:
  // `run` runs a call off the HTTPS front end's thread (the admin calls read the store); it
  // returns false when it cannot take more. The core must outlive this.
  NodeWebApi(core::NodeCore* core, std::function<bool(std::function<void()>)> run)
      : core_(core), run_(std::move(run)) {}
  void Handle(const call::Credentials& who, const transport::HttpsRequest& request,
              Answer answer) const;

 private:
  core::NodeCore* core_;
  std::function<bool(std::function<void()>)> run_;
};

// The web page's files (the page itself at "/", its scripts and styles under "/app/"), with a
// content security policy that lets them load nothing from elsewhere; 404 for other paths.
transport::HttpsResponse PageFile(const std::string& path);
// Whether `path` is one of the page's files.
bool IsPagePath(const std::string& path);

}  // namespace pmdb::web

#endif  // PMDB_NODE_WEB_WEB_API_H_
