#include "node/shard/etcd.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "node/base/strings.h"
#include "pmdb/v1/etcd.pb.h"

namespace pmdb::shard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace pb = v1::etcd;

template <typename Message>
absl::StatusOr<std::string> ToJson(const Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto s = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!s.ok()) return absl::InternalError(StrCat("etcd: cannot encode a request: ", s.ToString()));
  return out;
}

template <typename Message>
absl::StatusOr<Message> FromJson(const std::string& json, std::string_view what) {
  Message m;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto s = google::protobuf::util::JsonStringToMessage(json, &m, options);
  if (!s.ok()) {
    return absl::UnavailableError(
        StrCat("etcd: an unreadable answer to ", what, ": ", s.ToString()));
  }
  return m;
}

// The smallest key after every key starting with `prefix`.
std::string RangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

EtcdEntry EntryOf(const pb::KeyValue& kv) {
  return EtcdEntry{.key = kv.key(),
                   .value = kv.value(),
                   .create_revision = kv.create_revision(),
                   .mod_revision = kv.mod_revision(),
                   .lease = kv.lease()};
}

}  // namespace

absl::StatusOr<Etcd> Etcd::Connect(EtcdOptions options) {
  std::string rest;
  bool tls = false;
  if (options.endpoint.starts_with("https://")) {
    tls = true;
    rest = options.endpoint.substr(8);
  } else if (options.endpoint.starts_with("http://")) {
    rest = options.endpoint.substr(7);
  } else {
    return absl::InvalidArgumentError(StrCat("etcd endpoint '", options.endpoint,
                                             "' must be http://HOST:PORT or https://HOST:PORT"));
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return absl::InvalidArgumentError(
        StrCat("etcd endpoint '", options.endpoint, "' needs a host and a port"));
  }
  if (tls && (options.tls.cert.empty() || options.tls.key.empty() || options.tls.ca.empty())) {
    return absl::InvalidArgumentError(
        StrCat("etcd endpoint '", options.endpoint, "' is https: it needs the TLS files ([tls])"));
  }
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!tls && host != "127.0.0.1" && host != "localhost" && host != "::1") {
    // The shard map decides which people a region counts: never over a network in the clear.
    return absl::InvalidArgumentError(
        StrCat("etcd endpoint '", options.endpoint, "': http:// only on loopback; use https://"));
  }
  return Etcd(std::move(options), tls, std::move(host), rest.substr(colon + 1));
}

// Runs one asynchronous step on `io` until it completes or `until` passes; then `cancel` stops
// it (closing the socket) and the step's handler still runs before this returns. Blocking
// Beast/Asio calls have no deadline of their own, so every step of a call goes through here.
template <typename Start, typename Cancel>
beast::error_code Step(asio::io_context& io, std::chrono::steady_clock::time_point until,
                       Start start, Cancel cancel) {
  std::optional<beast::error_code> result;
  start([&](beast::error_code ec) { result = ec; });
  io.restart();
  io.run_until(until);
  if (!result.has_value()) {
    cancel();
    io.restart();
    io.run();
    return asio::error::timed_out;
  }
  return *result;
}

absl::StatusOr<std::string> Etcd::Post(const std::string& path, const std::string& body) const {
  asio::io_context io;
  const auto until = std::chrono::steady_clock::now() + options_.timeout;
  http::request<http::string_body> request{http::verb::post, path, 11};
  request.set(http::field::host, host_);
  request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  beast::error_code ec;
  auto failed = [&](std::string_view step) {
    return absl::UnavailableError(
        StrCat("etcd at ", options_.endpoint, ": ", step, ": ", ec.message()));
  };
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::resolver::results_type addresses;
  ec = Step(
      io, until,
      [&](auto done) {
        resolver.async_resolve(host_, port_, [&, done](beast::error_code e, auto results) {
          addresses = std::move(results);
          done(e);
        });
      },
      [&] { resolver.cancel(); });
  if (ec) return failed("cannot resolve");
  // Every step below is bounded by the same deadline.
  auto exchange = [&](auto& stream, auto& socket_layer, auto handshake) -> absl::Status {
    auto close = [&] {
      beast::error_code ignored;
      socket_layer.socket().close(ignored);
    };
    ec = Step(
        io, until,
        [&](auto done) {
          socket_layer.async_connect(addresses, [done](beast::error_code e, auto) { done(e); });
        },
        close);
    if (ec) return failed("cannot connect");
    ec = handshake(close);
    if (ec) return failed("TLS handshake");
    ec = Step(
        io, until,
        [&](auto done) {
          http::async_write(stream, request, [done](beast::error_code e, size_t) { done(e); });
        },
        close);
    if (!ec) {
      ec = Step(
          io, until,
          [&](auto done) {
            http::async_read(stream, buffer, response,
                             [done](beast::error_code e, size_t) { done(e); });
          },
          close);
    }
    if (ec) return failed("no answer");
    return absl::OkStatus();
  };
  if (!tls_) {
    beast::tcp_stream stream(io);
    absl::Status done = exchange(stream, stream, [](auto&) { return beast::error_code(); });
    if (!done.ok()) return done;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  } else {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (!ec) ctx.use_certificate_chain_file(options_.tls.cert, ec);
    if (!ec) ctx.use_private_key_file(options_.tls.key, asio::ssl::context::pem, ec);
    if (!ec) ctx.load_verify_file(options_.tls.ca, ec);
    if (ec) return failed("cannot use the TLS files");
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    // etcd's certificate must name the host we dialled (a DNS name or an IP address).
    SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
    boost::system::error_code ip_ec;
    asio::ip::make_address(host_, ip_ec);
    if (ip_ec) {
      X509_VERIFY_PARAM_set1_host(param, host_.c_str(), host_.size());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
    }
    absl::Status done = exchange(stream, beast::get_lowest_layer(stream), [&](auto& close) {
      return Step(
          io, until,
          [&](auto finished) {
            stream.async_handshake(asio::ssl::stream_base::client,
                                   [finished](beast::error_code e) { finished(e); });
          },
          close);
    });
    if (!done.ok()) return done;
    // etcd may close first, or not answer the close: neither matters once the answer is read.
    (void)Step(
        io, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(200)),
        [&](auto finished) {
          stream.async_shutdown([finished](beast::error_code e) { finished(e); });
        },
        [&] {
          beast::error_code ignored;
          beast::get_lowest_layer(stream).socket().close(ignored);
        });
  }
  if (response.result() != http::status::ok) {
    auto error = FromJson<pb::GatewayError>(response.body(), path);
    std::string why =
        error.ok() && !error->message().empty() ? error->message() : response.body().substr(0, 200);
    const auto code = response.result() == http::status::not_found ? absl::StatusCode::kNotFound
                                                                   : absl::StatusCode::kUnavailable;
    return absl::Status(code, StrCat("etcd at ", options_.endpoint, " refused ", path, ": HTTP ",
                                     response.result_int(), ": ", why));
  }
  return std::move(response.body());
}

absl::StatusOr<std::vector<EtcdEntry>> Etcd::List(const std::string& prefix) const {
  pb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(RangeEnd(prefix));
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  auto body = Post("/v3/kv/range", *json);
  if (!body.ok()) return body.status();
  auto answer = FromJson<pb::RangeResponse>(*body, "a range");
  if (!answer.ok()) return answer.status();
  std::vector<EtcdEntry> out;
  for (const pb::KeyValue& kv : answer->kvs()) out.push_back(EntryOf(kv));
  return out;
}

absl::Status Etcd::Put(const std::string& key, const std::string& value, int64_t lease) const {
  pb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  return Post("/v3/kv/put", *json).status();
}

absl::StatusOr<bool> Etcd::PutIf(const std::string& key, const std::optional<std::string>& expected,
                                 const std::string& value, int64_t lease) const {
  return Commit({{key, expected}}, {{key, value, lease}}, {});
}

absl::StatusOr<bool> Etcd::Commit(const std::vector<Expect>& expect, const std::vector<Write>& put,
                                  const std::vector<std::string>& remove) const {
  pb::TxnRequest request;
  for (const auto& [key, value] : expect) {
    pb::Compare* c = request.add_compare();
    c->set_key(key);
    c->set_result(pb::Compare::EQUAL);
    if (value.has_value()) {
      c->set_target(pb::Compare::VALUE);
      c->set_value(*value);
    } else {
      c->set_target(pb::Compare::CREATE);
      c->set_create_revision(0);
    }
  }
  for (const Write& w : put) {
    pb::PutRequest* p = request.add_success()->mutable_request_put();
    p->set_key(w.key);
    p->set_value(w.value);
    p->set_lease(w.lease);
  }
  for (const std::string& key : remove) {
    request.add_success()->mutable_request_delete_range()->set_key(key);
  }
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  auto body = Post("/v3/kv/txn", *json);
  if (!body.ok()) return body.status();
  auto answer = FromJson<pb::TxnResponse>(*body, "a transaction");
  if (!answer.ok()) return answer.status();
  return answer->succeeded();
}

absl::Status Etcd::Delete(const std::string& key) const {
  pb::DeleteRangeRequest request;
  request.set_key(key);
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  return Post("/v3/kv/deleterange", *json).status();
}

absl::StatusOr<int64_t> Etcd::GrantLease(int64_t ttl_seconds) const {
  pb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  auto body = Post("/v3/lease/grant", *json);
  if (!body.ok()) return body.status();
  auto answer = FromJson<pb::LeaseGrantResponse>(*body, "a lease grant");
  if (!answer.ok()) return answer.status();
  if (!answer->error().empty() || answer->id() == 0) {
    return absl::UnavailableError(
        StrCat("etcd at ", options_.endpoint, " granted no lease: ", answer->error()));
  }
  return answer->id();
}

absl::Status Etcd::KeepAlive(int64_t lease) const {
  pb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  auto body = Post("/v3/lease/keepalive", *json);
  if (!body.ok()) return body.status();
  auto answer = FromJson<pb::LeaseKeepAliveStreamed>(*body, "a lease keep-alive");
  if (!answer.ok()) return answer.status();
  if (answer->result().ttl() <= 0) {
    return absl::NotFoundError(StrCat("etcd lease ", lease, " has expired"));
  }
  return absl::OkStatus();
}

absl::Status Etcd::Revoke(int64_t lease) const {
  pb::LeaseRevokeRequest request;
  request.set_id(lease);
  auto json = ToJson(request);
  if (!json.ok()) return json.status();
  return Post("/v3/lease/revoke", *json).status();
}

}  // namespace pmdb::shard
