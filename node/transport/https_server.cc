#include "node/transport/https_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "node/base/log.h"
#include "node/base/strings.h"
#include "node/transport/listen_address.h"
#include "security/x509.h"

namespace pmdb::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr size_t kMaxHeaderBytes = 16 * 1024;
// The TLS handshake gets at most this long: a client that never finishes one holds a connection
// slot only this long.
constexpr auto kHandshakeTimeout = std::chrono::seconds(2);

// The files' modification times, to tell when a certificate was rotated.
std::string FilesStamp(const security::TlsFiles& files) {
  std::string stamp;
  for (const std::string& path : {files.cert, files.key, files.ca}) {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(path, ec);
    stamp += std::to_string(ec ? 0 : t.time_since_epoch().count()) + ";";
  }
  return stamp;
}

absl::StatusOr<std::shared_ptr<ssl::context>> MakeContext(const security::TlsFiles& files,
                                                          bool anonymous) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  if (!ec) ctx->use_certificate_chain_file(files.cert, ec);
  if (!ec) ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (!ec) ctx->load_verify_file(files.ca, ec);
  if (ec) {
    return absl::InvalidArgumentError(StrCat("HTTPS: cannot use the TLS files (", files.cert, ", ",
                                             files.key, ", ", files.ca, "): ", ec.message()));
  }
  // TLS 1.2 with forward-secret AEAD suites only; TLS 1.3's suites are all AEAD.
  SSL_CTX_set_cipher_list(ctx->native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20");
  // Client certificates are verified, so a resumed TLS 1.2 session needs a context id (without
  // one OpenSSL fails the resumption instead of starting afresh); no renegotiation.
  static const unsigned char kSessionContext[] = "pmdb-https";
  SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  // The public tier asks for no certificate: its callers are anonymous by design.
  ctx->set_verify_mode(anonymous ? ssl::verify_none
                                 : ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  std::string out;
  if (PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return out;
}

}  // namespace

std::string JsonErrorBody(int code, const std::string& message) {
  return StrCat(R"({"error":{"errorCode":)", code, R"(,"errorMessage":)", log::JsonString(message),
                "}}");
}

struct HttpsServer::Impl {
  HttpsOptions options;
  HttpsHandler handler;
  security::PeerCheck peers;
  std::atomic<size_t> connections{0};
  std::mutex addresses_mu;
  std::map<std::string, size_t> per_address ABSL_GUARDED_BY(addresses_mu);  // open connections

  std::mutex tls_mu;
  std::shared_ptr<ssl::context> tls ABSL_GUARDED_BY(tls_mu);
  std::string tls_stamp ABSL_GUARDED_BY(tls_mu);
  std::chrono::steady_clock::time_point tls_checked ABSL_GUARDED_BY(tls_mu);

  // Answers come from other threads; they are posted only while the server runs.
  std::shared_ptr<std::mutex> open_mu = std::make_shared<std::mutex>();
  std::shared_ptr<bool> open = std::make_shared<bool>(true);  // guarded by *open_mu

  // Sessions waiting for their handler's answer, kept alive here (an answer holds only a weak
  // reference, so that no session outlives the io_context on another thread).
  std::mutex pending_mu;
  std::map<const void*, std::shared_ptr<void>> pending ABSL_GUARDED_BY(pending_mu);
  void Hold(const void* key, std::shared_ptr<void> session) {
    std::lock_guard<std::mutex> lock(pending_mu);
    pending[key] = std::move(session);
  }
  void Drop(const void* key) {
    std::shared_ptr<void> last;  // released after the lock
    std::lock_guard<std::mutex> lock(pending_mu);
    auto it = pending.find(key);
    if (it == pending.end()) return;
    last = std::move(it->second);
    pending.erase(it);
  }

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;

  Impl(HttpsOptions o, HttpsHandler h)
      : options(std::move(o)), handler(std::move(h)), peers(options.federation, "", options.tls) {}

  std::shared_ptr<ssl::context> Context() {
    std::lock_guard<std::mutex> lock(tls_mu);
    const auto now = std::chrono::steady_clock::now();
    if (now - tls_checked >= std::chrono::seconds(std::max(1, options.tls.refresh_seconds))) {
      tls_checked = now;
      std::string stamp = FilesStamp(options.tls);
      if (stamp != tls_stamp) {
        auto fresh = MakeContext(options.tls, options.anonymous);
        if (fresh.ok()) {
          tls = *std::move(fresh);
          tls_stamp = std::move(stamp);
        } else {
          log::Line("warning", "https_tls_reload_failed")
              .Str("error", std::string(fresh.status().message()))
              .Emit();
        }
      }
    }
    return tls;
  }

  std::string ErrorBody(int status, const std::string& message) const {
    return options.error_body ? options.error_body(status, message)
                              : JsonErrorBody(status, message);
  }

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ssl::context> tls, HttpsServer::Impl* server,
          std::string address)
      : tls_(std::move(tls)),
        stream_(std::move(socket), *tls_),
        server_(server),
        address_(std::move(address)) {}
  ~Session() {
    server_->connections.fetch_sub(1);
    std::lock_guard<std::mutex> lock(server_->addresses_mu);
    auto it = server_->per_address.find(address_);
    if (it != server_->per_address.end() && --it->second == 0) server_->per_address.erase(it);
  }

  void Run() {
    beast::get_lowest_layer(stream_).expires_after(
        std::min<std::chrono::milliseconds>(server_->options.read_timeout, kHandshakeTimeout));
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->Handshaken();
                            });
  }

 private:
  void Handshaken() {
    X509* cert =
        server_->options.anonymous ? nullptr : SSL_get1_peer_certificate(stream_.native_handle());
    if (cert == nullptr) {
      who_.peer = absl::UnauthenticatedError("no client certificate");
    } else {
      pem_ = Pem(cert);
      absl::Status allowed = server_->peers.Check(pem_);
      who_.peer = allowed.ok() ? security::IdentityOfCertificate(cert)
                               : absl::StatusOr<security::Identity>(allowed);
      X509_free(cert);
    }
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(server_->options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->Got(ec); });
  }

  void Got(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec) {
      int status = ec == http::error::body_limit     ? 413
                   : ec == http::error::header_limit ? 431
                                                     : 400;
      std::string why = status == 413   ? StrCat("the request body is larger than ",
                                                 server_->options.max_body_bytes, " bytes")
                        : status == 431 ? StrCat("the request headers are larger than ",
                                                 kMaxHeaderBytes, " bytes")
                                        : StrCat("the request could not be read: ", ec.message());
      keep_alive_ = false;
      // The client may still be sending the rest of the request: it is read and dropped after
      // the answer, so that closing the socket with unread data does not reset the connection
      // before the client has read the answer.
      drain_ = true;
      return Send(Plain(status, why));
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    origin_ = std::string(req[http::field::origin]);
    host_ = std::string(req[http::field::host]);
    fetch_site_ = std::string(req["Sec-Fetch-Site"]);
    // The revocation list is checked again on every request, so that a connection kept open
    // does not outlive a revocation.
    if (who_.peer.ok()) {
      absl::Status still = server_->peers.Check(pem_);
      if (!still.ok()) who_.peer = still;
    }
    if (!who_.peer.ok() && !server_->options.anonymous) {
      keep_alive_ = false;
      return Send(Plain(403, StrCat("your certificate is not let in: ",
                                    std::string(who_.peer.status().message()))));
    }
    if (req.method() == http::verb::options) return Send(Preflight());
    // A browser page of another origin may make the researcher's browser send a request (and
    // spend their budget) even when it cannot read the answer: such requests are refused.
    if (!origin_.empty() && !OriginAllowed() && !SameOrigin()) {
      keep_alive_ = false;
      return Send(Plain(403, "requests from this origin are not allowed here (CORS)"));
    }
    // A page of another site can also make the browser send a GET without an Origin (an image,
    // a link, a script): the browser still says where it came from (Fetch Metadata), and only
    // the server's own pages, the user's own navigation and the configured origins are let in.
    if ((fetch_site_ == "cross-site" || fetch_site_ == "same-site") && !OriginAllowed() &&
        !LinkFromElsewhere(req)) {
      keep_alive_ = false;
      return Send(Plain(403, "requests from another site are not allowed here"));
    }
    HttpsRequest request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    request.body = req.body();
    request.content_type = std::string(req[http::field::content_type]);
    request.host = std::string(req[http::field::host]);
    request.client_address = address_;
    head_ = req.method() == http::verb::head;

    // The answer may come from any thread: it is posted back to the io thread while the server
    // runs, and dropped (with the connection) once it has stopped. Until then the server holds
    // the session. The executor is the io_context's own (a pointer), safe to outlive it.
    server_->Hold(this, shared_from_this());
    auto weak = weak_from_this();
    auto executor = stream_.get_executor();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    server_->handler(who_, request,
                     [weak, executor, answered, open_mu = server_->open_mu,
                      open = server_->open](HttpsResponse response) {
                       if (answered->exchange(true)) return;  // one answer per request
                       std::lock_guard<std::mutex> lock(*open_mu);
                       if (!*open) return;
                       asio::post(executor, [weak, response = std::move(response)]() mutable {
                         if (auto self = weak.lock()) self->Answered(std::move(response));
                       });
                     });
  }

  void Answered(HttpsResponse response) {
    auto self = shared_from_this();  // the server lets go of it now
    server_->Drop(this);
    Send(std::move(response));
  }

  HttpsResponse Plain(int status, const std::string& message) {
    HttpsResponse r;
    r.status = status;
    r.body = server_->ErrorBody(status, message);
    return r;
  }

  bool OriginAllowed() const {
    if (origin_.empty()) return false;
    for (const std::string& o : server_->options.cors_origins) {
      if (o == "*" || o == origin_) return true;
    }
    return false;
  }

  // The request comes from a page this server served: its origin is the one the browser used
  // to reach it. (A browser never lets a page choose the Host header.)
  bool SameOrigin() const { return !origin_.empty() && origin_ == StrCat("https://", host_); }

  // A person following a link from another site to one of the pages (a top-level GET): what
  // pages do is ask the user, so following a link spends nothing.
  bool LinkFromElsewhere(const http::request<http::string_body>& req) const {
    if (req.method() != http::verb::get || req["Sec-Fetch-Mode"] != "navigate" ||
        req["Sec-Fetch-Dest"] != "document") {
      return false;
    }
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    for (const std::string& p : server_->options.link_paths) {
      if (p.ends_with("/*") ? path.starts_with(std::string_view(p).substr(0, p.size() - 1))
                            : path == p) {
        return true;
      }
    }
    return false;
  }

  HttpsResponse Preflight() {
    if (!OriginAllowed()) return Plain(403, "this origin is not allowed here (CORS)");
    HttpsResponse r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Content-Type, Accept, Authorization"},
                 {"Access-Control-Max-Age", "600"}};
    return r;
  }

  void Send(HttpsResponse r) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "pmdb");
    if (!r.content_type.empty()) response_.set(http::field::content_type, r.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    response_.set(http::field::strict_transport_security, "max-age=31536000");
    bool cache_set = false;
    for (const auto& [name, value] : r.headers) {
      response_.set(name, value);
      cache_set |= beast::iequals(name, "Cache-Control");
    }
    if (!cache_set) response_.set(http::field::cache_control, "no-store");
    response_.set(http::field::vary, "Origin");
    if (OriginAllowed()) {
      response_.set(http::field::access_control_allow_origin, origin_);
      // Anonymous callers have no credentials for a page to borrow.
      if (!server_->options.anonymous) {
        response_.set(http::field::access_control_allow_credentials, "true");
      }
    }
    response_.keep_alive(keep_alive_);
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    if (head_) response_.body().clear();
    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->response_ = {};  // not kept through the idle time
                        self->parser_.reset();
                        if (ec) return;
                        if (self->keep_alive_) return self->Read();
                        if (self->drain_) return self->Drain();
                        self->Close();
                      });
  }

  // Reads and drops what the client still sends, for at most 1 s and 4 MiB, then closes.
  void Drain() {
    if (drained_ == 0) beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || n == 0 || self->drained_ > (size_t{4} << 20)) {
                                return self->Close();
                              }
                              self->Drain();
                            });
  }

  void Close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().close(ignored);
    });
  }

  std::shared_ptr<ssl::context> tls_;  // before the stream, which refers to it
  beast::ssl_stream<beast::tcp_stream> stream_;
  HttpsServer::Impl* server_;
  call::Credentials who_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::string address_;
  std::string pem_;  // the client's certificate, checked again on every request
  std::string origin_;
  std::string host_;
  std::string fetch_site_;  // Sec-Fetch-Site: same-origin, same-site, cross-site or none
  bool keep_alive_ = false;
  bool drain_ = false;
  size_t drained_ = 0;
  std::array<char, 16384> scratch_{};
  bool head_ = false;
};

}  // namespace

void HttpsServer::Impl::Accept() {
  // One io thread: sessions need no strand, and their executor is the io_context's own.
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      beast::error_code peer_ec;
      const std::string address = socket.remote_endpoint(peer_ec).address().to_string();
      bool admit = connections.fetch_add(1) < options.max_connections;
      if (admit) {
        std::lock_guard<std::mutex> lock(addresses_mu);
        size_t& n = per_address[address];
        admit = n < options.max_connections_per_address;
        if (admit) ++n;
      }
      if (!admit) {
        connections.fetch_sub(1);
        beast::error_code ignored;
        socket.close(ignored);  // over a limit: closed at once, the client may retry
      } else {
        std::make_shared<Session>(std::move(socket), Context(), this, address)->Run();
      }
    } else {
      // Out of descriptors and the like: wait a little rather than spin, then go on accepting.
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](beast::error_code) { Accept(); });
      return;
    }
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(HttpsOptions options,
                                                                HttpsHandler handler) {
  auto where = ParseListenAddress(options.listen, "[https] listen");
  if (!where.ok()) return where.status();
  auto tls = MakeContext(options.tls, options.anonymous);
  if (!tls.ok()) return tls.status();
  auto impl = std::make_shared<Impl>(std::move(options), std::move(handler));
  {
    std::lock_guard<std::mutex> lock(impl->tls_mu);
    impl->tls = *std::move(tls);
    impl->tls_stamp = FilesStamp(impl->options.tls);
    impl->tls_checked = std::chrono::steady_clock::now();
  }
  auto port = Listen(impl->acceptor, *where, "HTTPS");
  if (!port.ok()) return port.status();
  impl->port = *port;
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

HttpsServer::HttpsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsServer::~HttpsServer() {
  {
    std::lock_guard<std::mutex> lock(*impl_->open_mu);
    *impl_->open = false;
  }
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::map<const void*, std::shared_ptr<void>> waiting;
  {
    std::lock_guard<std::mutex> lock(impl_->pending_mu);
    waiting.swap(impl_->pending);
  }
  waiting.clear();  // while the io_context they belong to still exists
}

int HttpsServer::port() const { return impl_->port; }

}  // namespace pmdb::transport
