// The HTTPS front end of a node or the hub (Boost.Beast over OpenSSL), for the standard HTTP
// APIs (GA4GH Beacon v2, node/beacon). The same rules as the gRPC port: mutual TLS with a
// certificate of the federation, the same revocation list and the same identity (the
// certificate's one URI SAN, security::PeerCheck), deny by default — a client without a
// certificate fails the handshake, one whose certificate PeerCheck refuses gets 403 and nothing
// else. Certificates, key and CA are re-read when they change, as for gRPC.
//
// The revocation list is checked again on every request of a kept-alive connection.
//
// Limits, each refused with a JSON error: request headers (16 KiB), body (max_body_bytes), time
// to send a request (read_timeout; the TLS handshake gets at most 2 s of it) and connections at
// once, in all and per client address (more are closed at once). Keep-alive is honoured.
// CORS: a preflight (OPTIONS) is answered for the origins configured, and answers carry
// Access-Control-Allow-Origin (with credentials) for them; a request from any other origin is
// refused (403), so that another site cannot make a researcher's browser spend their budget.
// No origin is allowed by default. The handler gets the caller's credentials and the parsed
// request, and answers once (a second answer is ignored), from any thread.
#ifndef PMDB_NODE_TRANSPORT_HTTPS_SERVER_H_
#define PMDB_NODE_TRANSPORT_HTTPS_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "node/call/caller.h"
#include "security/peer_check.h"

namespace pmdb::transport {

struct HttpsRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target up to '?', percent-decoding left to the handler
  std::string query;   // after '?', raw
  std::string body;
  std::string content_type;
  std::string host;            // the Host header, for absolute URLs in answers
  std::string client_address;  // the peer's IP address, for per-address rate limits
};

struct HttpsResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Cache-Control
};

using HttpsHandler = std::function<void(const call::Credentials& who, const HttpsRequest& request,
                                        std::function<void(HttpsResponse)> respond)>;

struct HttpsOptions {
  std::string listen;      // "host:port"; port 0 picks one
  std::string federation;  // whose identities are let in
  security::TlsFiles tls;  // this server's certificate and key, the CA and its CRL
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{10'000};
  size_t max_connections = 256;
  size_t max_connections_per_address = 32;
  std::vector<std::string> cors_origins;  // exact origins, or "*" for any
  // What a page of another site may link to (a person's top-level GET): exact paths, or
  // "/x/*" for every path under /x/. Every other request a browser says came from another site is
  // refused, so that a page elsewhere cannot spend the user's budget through their certificate
  // (Fetch Metadata).
  std::vector<std::string> link_paths;
  // No client certificate is asked for and every caller is let in, with credentials that say
  // there is no peer: the public tier of a node's Beacon (its handler decides what anyone may
  // ask). The server's certificate still authenticates the region.
  bool anonymous = false;
  // The body of the server's own refusals (403, 413, 431, 400, 503); JsonErrorBody when unset.
  std::function<std::string(int status, const std::string& message)> error_body;
};

class HttpsServer {
 public:
  // Binds and serves on its own thread; INVALID_ARGUMENT for a bad address or TLS files.
  static absl::StatusOr<std::unique_ptr<HttpsServer>> Start(HttpsOptions options,
                                                            HttpsHandler handler);
  ~HttpsServer();  // stops accepting, closes connections, waits for the thread
  int port() const;

  struct Impl;  // the implementation's, named here so that its sessions can reach it

 private:
  explicit HttpsServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// A JSON error body of the form {"error": {"errorCode": 403, "errorMessage": "..."}} (Beacon
// v2's error shape, also fine for other clients).
std::string JsonErrorBody(int code, const std::string& message);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_HTTPS_SERVER_H_
