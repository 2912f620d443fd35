#include "node/transport/listen_address.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "node/base/strings.h"

namespace pmdb::transport {

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view listen,
                                                 std::string_view setting) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat(setting, " '", listen, "' is not host:port (for example 127.0.0.1:9464)"));
  }
  ListenAddress out;
  std::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  out.host = std::string(host);
  const std::string_view port = listen.substr(colon + 1);
  auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || err != std::errc() || end != port.data() + port.size() || out.port < 0 ||
      out.port > 65535) {
    return absl::InvalidArgumentError(
        StrCat(setting, " '", listen, "': the port must be a number from 0 to 65535"));
  }
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(out.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        StrCat(setting, " '", listen, "': '", out.host, "' is not an IP address"));
  }
  return out;
}

absl::StatusOr<int> Listen(boost::asio::ip::tcp::acceptor& acceptor, const ListenAddress& where,
                           std::string_view what) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(where.host, ec),
                                   static_cast<unsigned short>(where.port));
  if (!ec) acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        StrCat("cannot serve ", what, " on ", where.host, ":", where.port, ": ", ec.message()));
  }
  return static_cast<int>(acceptor.local_endpoint().port());
}

}  // namespace pmdb::transport
