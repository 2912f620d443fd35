// ConnectionGate: the node's and the hub's own accept loop, in front of gRPC. gRPC's listener
// accepts every TCP connection and keeps it until a TLS handshake completes or times out, so
// enough idle connections without a certificate exhaust the process's descriptors; once
// accept() fails with EMFILE a gRPC 1.51 server stops accepting for good while the process
// stays up (no supervisor restarts it). The gate owns the listening socket instead and hands
// each admitted connection to gRPC (an external connection acceptor), so that
//   * at most `max_connections` are open at once, and at most `per_address` from one peer
//     address: a flood from one address cannot crowd out everyone else;
//   * one descriptor is always kept in reserve, so that even at the open-files limit a pending
//     connection is accepted and closed rather than left in the backlog, and the listener keeps
//     working;
//   * a connection refused is closed at once, and counted.
// Open connections are tracked by descriptor and inode: one that gRPC has closed is forgotten
// on the next sweep (when a limit is reached, and every second).
//
// Thread-safe. Stop() before the gRPC server it feeds is destroyed.
#ifndef PMDB_NODE_TRANSPORT_CONNECTION_GATE_H_
#define PMDB_NODE_TRANSPORT_CONNECTION_GATE_H_

#include <grpcpp/server_builder.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace pmdb::transport {

struct ConnectionLimits {
  uint32_t max_connections = 0;  // 0: the open-files limit less 1024 for the store and the rest
  uint32_t per_address = 64;
  uint32_t handshake_timeout_ms = 10000;  // a connection that has not finished TLS by then goes
  uint32_t idle_timeout_s = 600;          // a connection with no call for this long is closed
};

// Applies the handshake and idle timeouts to a server being built.
void ApplyTimeouts(const ConnectionLimits& limits, grpc::ServerBuilder& builder);

// Raises the soft open-files limit to the hard one; returns the soft limit now in force.
uint64_t RaiseOpenFilesLimit();

class ConnectionGate {
 public:
  // Binds and listens on `listen` ("host:port"; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<ConnectionGate>> Listen(const std::string& listen,
                                                                ConnectionLimits limits);
  ~ConnectionGate();

  int port() const { return port_; }
  // Starts handing admitted connections to `acceptor` (from the builder of the started server).
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  void Stop();

  struct Stats {
    uint64_t admitted = 0;
    uint64_t refused = 0;  // over either limit, or at the descriptor limit
    uint64_t open = 0;
    uint32_t max_connections = 0;
  };
  Stats stats() const;

 private:
  ConnectionGate(int fd, int port, int wake, ConnectionLimits limits);
  void Loop();
  void AcceptOne();
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refused(const std::string& address, const char* why);

  struct Open {
    uint64_t inode;
    std::string address;
  };
  // Drops a connection gRPC has closed; the next entry.
  std::map<int, Open>::iterator Forget(std::map<int, Open>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int fd_;
  const int port_;
  const int wake_;  // an eventfd that ends the loop
  const ConnectionLimits limits_;
  int reserve_ = -1;  // a descriptor kept to be given up at the limit
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, Open> open_ ABSL_GUARDED_BY(mu_);  // by descriptor
  std::map<std::string, uint32_t> per_address_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> admitted_{0}, refused_{0};
  int64_t last_complaint_ = 0;  // loop thread only
};

}  // namespace pmdb::transport

#endif  // PMDB_NODE_TRANSPORT_CONNECTION_GATE_H_
