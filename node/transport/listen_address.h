// "host:port" as the configuration writes a listening address ("127.0.0.1:9464",
// "[::1]:8443", "0.0.0.0:0" for any free port), checked whole: a port with trailing characters
// or out of range, or a host that is not an IP address, is an error naming the setting.
#ifndef PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_
#define PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_

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

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_LISTEN_ADDRESS_H_
