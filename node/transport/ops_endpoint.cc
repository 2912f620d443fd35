#include "node/transport/ops_endpoint.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

#include "node/base/strings.h"
#include "node/transport/listen_address.h"

namespace pmdb::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxSessions = 32;
constexpr size_t kMaxHeaderBytes = 8 * 1024;
constexpr auto kTimeout = std::chrono::seconds(5);

http::response<http::string_body> Respond(const OpsHandlers& handlers,
                                          const http::request<http::empty_body>& request) {
  http::response<http::string_body> r;
  r.version(request.version());
  r.keep_alive(false);
  r.set(http::field::server, "pmdb");
  r.set(http::field::cache_control, "no-store");
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  std::string target(request.target());
  target = target.substr(0, target.find('?'));
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    r.result(http::status::method_not_allowed);
    r.set(http::field::allow, "GET, HEAD");
    r.body() = "only GET and HEAD are served here\n";
  } else if (target == "/metrics") {
    r.result(http::status::ok);
    r.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    r.body() = handlers.registry == nullptr ? "" : handlers.registry->Text();
  } else if (target == "/livez" || target == "/healthz") {
    r.result(http::status::ok);
    r.body() = "alive\n";
  } else if (target == "/readyz") {
    std::vector<std::string> reasons;
    if (handlers.not_ready) reasons = handlers.not_ready();
    r.result(reasons.empty() ? http::status::ok : http::status::service_unavailable);
    if (reasons.empty()) r.body() = "ready\n";
    for (const std::string& why : reasons) r.body() += "not ready: " + why + "\n";
  } else {
    r.result(http::status::not_found);
    r.body() = "not found; this endpoint serves /metrics, /livez, /readyz\n";
  }
  if (request.method() == http::verb::head) {
    r.content_length(r.body().size());
    r.body().clear();
    return r;
  }
  r.prepare_payload();
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const OpsHandlers* handlers, std::atomic<size_t>* sessions)
      : stream_(std::move(socket)), handlers_(handlers), sessions_(sessions) {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(0);
  }
  ~Session() { sessions_->fetch_sub(1); }

  void Run() {
    stream_.expires_after(kTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->Read(ec); });
  }

 private:
  void Read(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::body_limit ||
          ec == http::error::bad_method || ec == http::error::bad_target ||
          ec == http::error::bad_version) {
        response_.result(http::status::bad_request);
        response_.keep_alive(false);
        response_.set(http::field::content_type, "text/plain; charset=utf-8");
        response_.body() = StrCat("bad request: ", ec.message(), "\n");
        response_.prepare_payload();
        Write();
      }
      return;  // a timeout or a closed connection: nothing to answer
    }
    response_ = Respond(*handlers_, parser_.get());
    Write();
  }
  void Write() {
    stream_.expires_after(kTimeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
  const OpsHandlers* handlers_;
  std::atomic<size_t>* sessions_;
};

}  // namespace

struct OpsEndpoint::Impl {
  // Declared before the io_context: sessions still queued there go with it, and touch these.
  OpsHandlers handlers;
  std::atomic<size_t> sessions{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (sessions.fetch_add(1) >= kMaxSessions) {
          sessions.fetch_sub(1);
          beast::error_code ignored;
          socket.close(ignored);  // too many at once: the watcher retries
        } else {
          std::make_shared<Session>(std::move(socket), &handlers, &sessions)->Run();
        }
      }
      Accept();
    });
  }
};

absl::StatusOr<std::unique_ptr<OpsEndpoint>> OpsEndpoint::Start(const std::string& listen,
                                                                OpsHandlers handlers) {
  auto where = ParseListenAddress(listen, "[metrics] listen");
  if (!where.ok()) return where.status();
  auto impl = std::make_unique<Impl>();
  impl->handlers = std::move(handlers);
  auto port = Listen(impl->acceptor, *where, "metrics");
  if (!port.ok()) return port.status();
  impl->port = *port;
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<OpsEndpoint>(new OpsEndpoint(std::move(impl)));
}

OpsEndpoint::OpsEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OpsEndpoint::~OpsEndpoint() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int OpsEndpoint::port() const { return impl_->port; }

}  // namespace pmdb::transport
