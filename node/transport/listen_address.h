// "host:port" as the configuration writes a listening address ("127.0.0.1:9464",
// "[::1]:8443", "0.0.0.0:0" for any free port), checked whole: a port with trailing characters
// or out of range, or a host that is not an IP address, is an error naming the setting.
#ifndef PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_
#define PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pmdb::transport {

struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;      // 0: any free port
};

// `setting` names where the address came from, for the message ("[metrics] listen").
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view listen, std::string_view setting);

// Opens, binds and listens `acceptor` on `where` (address reuse on); UNAVAILABLE naming `what`
// ("metrics", "HTTPS") when it cannot. Returns the port bound.
absl::StatusOr<int> Listen(boost::asio::ip::tcp::acceptor& acceptor, const ListenAddress& where,
                           std::string_view what);

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_
