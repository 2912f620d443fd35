#include "node/transport/connection_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "node/base/strings.h"

namespace pmdb::transport {
namespace {

// For the store (RocksDB keeps at most 512 table files open), its logs, gRPC and the rest.
constexpr uint64_t kReservedDescriptors = 1024;

std::string AddressOf(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof(text));
  }
  return text;
}

// What identifies the socket behind a descriptor: its device and inode (0 when the descriptor
// is closed or no longer a socket).
uint64_t InodeOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return (static_cast<uint64_t>(st.st_dev) << 40) ^ static_cast<uint64_t>(st.st_ino);
}

}  // namespace

void ApplyTimeouts(const ConnectionLimits& limits, grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(limits.handshake_timeout_ms));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(limits.idle_timeout_s) * 1000);
}

uint64_t RaiseOpenFilesLimit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

absl::StatusOr<std::unique_ptr<ConnectionGate>> ConnectionGate::Listen(const std::string& listen,
                                                                       ConnectionLimits limits) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("listen address '", listen, "' is not HOST:PORT"));
  }
  std::string host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(StrCat("cannot listen on ", listen, ": ", gai_strerror(rc)));
  }
  // One address: IPv4 first, so that "localhost" is 127.0.0.1 ("[::]" listens on both).
  std::vector<addrinfo*> order;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) order.push_back(a);
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET) order.push_back(a);
  }
  int fd = -1;
  std::string why;
  for (addrinfo* a : order) {
    if (fd >= 0) break;
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
      why = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(StrCat("cannot listen on ", listen, ": ", why,
                                         " (address in use, or not an address of this host)"));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int chosen = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(bound).sin6_port)
                                           : ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(fd);
    return absl::InternalError("cannot create an eventfd");
  }
  if (limits.max_connections == 0) {
    uint64_t open_files = RaiseOpenFilesLimit();
    limits.max_connections = static_cast<uint32_t>(
        open_files > 2 * kReservedDescriptors ? open_files - kReservedDescriptors : open_files / 2);
  }
  return std::unique_ptr<ConnectionGate>(new ConnectionGate(fd, chosen, wake, limits));
}

ConnectionGate::ConnectionGate(int fd, int port, int wake, ConnectionLimits limits)
    : fd_(fd), port_(port), wake_(wake), limits_(limits) {
  reserve_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

ConnectionGate::~ConnectionGate() {
  Stop();
  close(fd_);
  close(wake_);
  if (reserve_ >= 0) close(reserve_);
}

void ConnectionGate::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { Loop(); });
}

void ConnectionGate::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_, &one, sizeof(one));
  thread_.join();
}

ConnectionGate::Stats ConnectionGate::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{admitted_.load(), refused_.load(), open_.size(), limits_.max_connections};
}

void ConnectionGate::Loop() {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      // Drain what is pending, a bounded number at a time.
      for (int i = 0; i < 64; ++i) AcceptOne();
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      Sweep();
    }
  }
}

void ConnectionGate::AcceptOne() {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      // At the descriptor limit: give up the reserve to take the connection off the backlog,
      // close it, and keep the reserve again, so that the listener keeps working.
      if (reserve_ >= 0) close(reserve_);
      int dropped = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (dropped >= 0) close(dropped);
      reserve_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (dropped < 0 || reserve_ < 0) {
        // Another thread took the descriptor: wait a little rather than spin on the backlog.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (dropped >= 0) {
        ++refused_;
        Refused("?", "the process is at its open-files limit");
      }
    }
    return;  // EAGAIN: nothing pending; anything else: try again on the next wake-up
  }
  const std::string address = AddressOf(peer);
  bool admitted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto over = [&] {
      auto it = per_address_.find(address);
      return open_.size() >= limits_.max_connections ||
             (it != per_address_.end() && it->second >= limits_.per_address);
    };
    // Forget connections gRPC has closed only when a limit is near (and every second): a sweep
    // per accept would cost as much as there are connections.
    if (over()) Sweep();
    // A descriptor number handed out again since the last sweep: its old connection is gone.
    if (auto stale = open_.find(fd); stale != open_.end()) Forget(stale);
    uint32_t& from = per_address_[address];
    if (open_.size() < limits_.max_connections && from < limits_.per_address) {
      ++from;
      open_[fd] = Open{InodeOf(fd), address};
      admitted = true;
    } else if (from == 0) {
      per_address_.erase(address);
    }
  }
  if (!admitted) {
    close(fd);
    ++refused_;
    Refused(address, "over the connection limits");
    return;
  }
  ++admitted_;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
  p.listener_fd = fd_;
  p.fd = fd;
  acceptor_->HandleNewConnection(&p);
}

std::map<int, ConnectionGate::Open>::iterator ConnectionGate::Forget(
    std::map<int, Open>::iterator it) {
  auto a = per_address_.find(it->second.address);
  if (a != per_address_.end() && --a->second == 0) per_address_.erase(a);
  return open_.erase(it);
}

void ConnectionGate::Sweep() {
  for (auto it = open_.begin(); it != open_.end();) {
    it = InodeOf(it->first) == it->second.inode ? std::next(it) : Forget(it);
  }
}

void ConnectionGate::Refused(const std::string& address, const char* why) {
  // At most one line a minute: a flood must not flood the log too.
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  if (now - last_complaint_ < 60) return;
  last_complaint_ = now;
  std::fprintf(stderr, "pmdb: refusing connections (%s; from %s, among others); %llu so far\n", why,
               address.c_str(), static_cast<unsigned long long>(refused_.load()));
}

}  // namespace pmdb::transport
