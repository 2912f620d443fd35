#include "node/transport/peer.h"

#include "node/transport/tls.h"
#include "security/policy.h"

namespace pmdb::transport {

call::Credentials CredentialsOf(const grpc::ServerContextBase& context) {
  call::Credentials credentials;
  auto auth = context.auth_context();
  if (auth != nullptr) credentials.peer = PeerIdentity(*auth);
  auto it = context.client_metadata().find(security::kOnBehalfOfKey);
  if (it != context.client_metadata().end()) {
    credentials.on_behalf_of = std::string(it->second.data(), it->second.size());
  }
  return credentials;
}

}  // namespace pmdb::transport
