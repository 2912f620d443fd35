#include "node/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include "node/base/strings.h"
#include "node/core/node_core.h"
#include "node/hub/hub.h"
#include "node/transport/admin_service.h"
#include "node/transport/connection_gate.h"
#include "node/transport/federation_service.h"
#include "node/transport/grpc_region_client.h"
#include "node/transport/region_service.h"
#include "node/transport/tls.h"
#include "security/audit.h"

namespace pmdb::server {
namespace {

void EnableStandardServices() {
  static const bool once = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)once;
}

// What both servers share: the gRPC server, its port, and an orderly stop.
class GrpcServer : public Server {
 public:
  int port() const override { return gate_ == nullptr ? 0 : gate_->port(); }
  void Shutdown(std::chrono::milliseconds grace) override {
    if (gate_ != nullptr) gate_->Stop();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + grace);
  }
  void Wait() override {
    if (server_ != nullptr) server_->Wait();
  }

  // Listens through a connection gate (node/transport/connection_gate.h) and starts serving.
  absl::Status Listen(grpc::ServerBuilder& builder, const std::string& listen,
                      const transport::ConnectionLimits& limits,
                      std::shared_ptr<grpc::ServerCredentials> creds) {
    auto gate = transport::ConnectionGate::Listen(listen, limits);
    if (!gate.ok()) return gate.status();
    transport::ApplyTimeouts(limits, builder);
    auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, std::move(creds));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) return absl::InternalError(StrCat("cannot start serving on ", listen));
    gate_ = std::move(*gate);
    gate_->Start(std::move(acceptor));
    return absl::OkStatus();
  }

 protected:
  // Derived destructors call this first: no call may run while their state goes away.
  void Stop() {
    Shutdown(std::chrono::milliseconds(0));
    Wait();
    server_.reset();
    gate_.reset();
  }

 private:
  std::unique_ptr<transport::ConnectionGate> gate_;
  std::unique_ptr<grpc::Server> server_;
};

class NodeServer final : public GrpcServer {
 public:
  ~NodeServer() override {
    Stop();
    admin_.reset();
    region_.reset();
    core_.reset();
    audit_.reset();  // writes what is queued
    store_.reset();
  }

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<core::NodeCore> core_;
  std::unique_ptr<transport::RegionServiceImpl> region_;
  std::unique_ptr<transport::AdminServiceImpl> admin_;
};

class HubServer final : public GrpcServer {
 public:
  ~HubServer() override {
    Stop();
    federation_.reset();
    hub_.reset();
    audit_.reset();
    store_.reset();
  }

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<transport::FederationServiceImpl> federation_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> StartNode(const NodeConfig& config) {
  auto self = security::CheckTlsFiles(config.tls);
  if (!self.ok()) return self.status();
  if (self->role != security::Role::kNode || self->region != config.settings.region) {
    return absl::InvalidArgumentError(StrCat(config.tls.cert, " is ", self->uri,
                                             ", not the node of region ", config.settings.region));
  }
  auto node = std::make_unique<NodeServer>();
  auto store = storage::Store::Open(
      config.db, {.create_if_missing = true, .min_free_bytes = uint64_t{config.min_free_mb} << 20});
  if (!store.ok()) return store.status();
  node->store_ = std::move(*store);
  auto audit =
      security::AuditLog::Open(node->store_.get(), {.accept_damage = config.accept_audit_damage});
  if (!audit.ok()) return audit.status();
  node->audit_ = std::move(*audit);
  core::NodeSettings settings = config.settings;
  settings.federation = self->federation;
  auto core = core::NodeCore::Create(std::move(settings), node->store_.get(), node->audit_.get());
  if (!core.ok()) return core.status();
  node->core_ = std::move(*core);
  node->region_ = std::make_unique<transport::RegionServiceImpl>(node->core_.get());
  node->admin_ = std::make_unique<transport::AdminServiceImpl>(node->core_.get());

  auto creds = transport::MakeServerCredentials(config.tls, self->federation);
  if (!creds.ok()) return creds.status();
  EnableStandardServices();
  grpc::ServerBuilder builder;
  builder.RegisterService(node->region_.get());
  builder.RegisterService(node->admin_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  absl::Status listening = node->Listen(builder, config.listen, config.limits, *creds);
  if (!listening.ok()) return listening;
  return std::unique_ptr<Server>(std::move(node));
}

absl::StatusOr<std::unique_ptr<Server>> StartHub(const HubConfig& config) {
  auto self = security::CheckTlsFiles(config.tls);
  if (!self.ok()) return self.status();
  if (self->role != security::Role::kHub) {
    return absl::InvalidArgumentError(StrCat(config.tls.cert, " is ", self->uri, ", not the hub"));
  }
  auto hub = std::make_unique<HubServer>();
  auto store =
      storage::Store::Open(config.db, {.create_if_missing = true,
                                       .block_cache_bytes = 8 << 20,
                                       .min_free_bytes = uint64_t{config.min_free_mb} << 20});
  if (!store.ok()) return store.status();
  hub->store_ = std::move(*store);
  auto audit =
      security::AuditLog::Open(hub->store_.get(), {.accept_damage = config.accept_audit_damage});
  if (!audit.ok()) return audit.status();
  hub->audit_ = std::move(*audit);

  std::vector<hub::Region> regions;
  for (const RegionEndpoint& r : config.regions) {
    auto creds = transport::MakeChannelCredentials(
        config.tls, StrCat("spiffe://", self->federation, "/region/", r.id, "/node"));
    if (!creds.ok()) return creds.status();
    grpc::ChannelArguments args;
    // Each region gets its own connection even when addresses repeat.
    args.SetString("pmdb.region", r.id);
    auto channel = grpc::CreateCustomChannel(r.address, *creds, args);
    regions.push_back(
        {r.id, std::make_shared<transport::GrpcRegionClient>(v1::RegionService::NewStub(channel))});
  }
  hub::HubSettings settings{.federation = self->federation,
                            .deadline = std::chrono::milliseconds(config.deadline_ms),
                            .disclosure = config.disclosure};
  hub->hub_ =
      std::make_unique<hub::Hub>(std::move(settings), std::move(regions), hub->audit_.get());
  // The account of researchers' spending comes back from the hub's own log (a year of it).
  auto history = security::ListAudit(
      *hub->store_->Snapshot(),
      {.since_unix_micros = (SystemClock().NowSeconds() - 366 * 86400) * int64_t{1000000}});
  if (!history.ok()) return history.status();
  hub->hub_->Replay(*history);
  hub->federation_ = std::make_unique<transport::FederationServiceImpl>(hub->hub_.get());
  auto creds = transport::MakeServerCredentials(config.tls, self->federation);
  if (!creds.ok()) return creds.status();
  EnableStandardServices();
  grpc::ServerBuilder builder;
  builder.RegisterService(hub->federation_.get());
  absl::Status listening = hub->Listen(builder, config.listen, config.limits, *creds);
  if (!listening.ok()) return listening;
  return std::unique_ptr<Server>(std::move(hub));
}

}  // namespace pmdb::server
