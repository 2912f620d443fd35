#include "node/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "node/base/log.h"
#include "node/base/strings.h"
#include "node/beacon/backends.h"
#include "node/beacon/beacon_api.h"
#include "node/beacon/matchmaker.h"
#include "node/core/node_core.h"
#include "node/hub/hub.h"
#include "node/shard/shard_map.h"
#include "node/shard/shard_service.h"
#include "node/shard/shard_set.h"
#include "node/transport/admin_service.h"
#include "node/transport/connection_gate.h"
#include "node/transport/federation_service.h"
#include "node/transport/grpc_metrics.h"
#include "node/transport/grpc_region_client.h"
#include "node/transport/https_server.h"
#include "node/transport/ops_endpoint.h"
#include "node/transport/region_service.h"
#include "node/transport/tls.h"
#include "node/web/web_api.h"
#include "query/limits.h"
#include "security/audit.h"
#include "security/signed_head.h"
#include "security/x509.h"

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

// Descriptors the process has open, and its soft limit.
std::pair<uint64_t, uint64_t> OpenFiles() {
  uint64_t open = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++open;
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  return {open, static_cast<uint64_t>(limit.rlim_cur)};
}

// When a certificate file stops being valid (seconds since the epoch), or nothing.
std::optional<int64_t> ExpiryOf(const std::string& path) {
  auto cert = security::ReadCertificate(path);
  if (!cert.ok()) return std::nullopt;
  return security::NotAfter(cert->get());
}

// The Beacon request for an HTTPS request whose path starts with /api, with the absolute base
// URL answers link to (the Host the client used, else the listening address).
beacon::BeaconHttpRequest UnderApi(const transport::HttpsRequest& request,
                                   const std::string& listen) {
  return {.method = request.method,
          .path = request.path.substr(4),
          .query = request.query,
          .body = request.body,
          .content_type = request.content_type,
          .base_url = StrCat("https://", request.host.empty() ? listen : request.host, "/api")};
}

// The HTTPS front end of [https] (the hub's APIs and page, a node's operators' page): mutual TLS
// with the server's own certificates, the web page linkable from elsewhere.
transport::HttpsOptions MutualTlsOptions(
    const HttpsConfig& https, const std::string& federation, const security::TlsFiles& tls,
    std::function<std::string(int, const std::string&)> error_body) {
  return {.listen = https.listen,
          .federation = federation,
          .tls = tls,
          .max_body_bytes = size_t{https.max_body_kb} << 10,
          .read_timeout = std::chrono::milliseconds(https.read_timeout_ms),
          .max_connections = https.max_connections,
          .max_connections_per_address = https.max_connections_per_address,
          .cors_origins = https.cors_origins,
          .link_paths = {"/", "/app/*"},
          .error_body = std::move(error_body)};
}

// What both servers share: the gRPC server, its port, metrics and probes, and an orderly stop.
class GrpcServer : public Server {
 public:
  int port() const override { return gate_ == nullptr ? 0 : gate_->port(); }
  int ops_port() const override { return ops_ == nullptr ? 0 : ops_->port(); }
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
    transport::AddGrpcMetrics(&registry_, builder);
    auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, std::move(creds));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) return absl::InternalError(StrCat("cannot start serving on ", listen));
    gate_ = std::move(*gate);
    gate_->Start(std::move(acceptor));
    return absl::OkStatus();
  }

  // Checks of the server's own kind that /readyz adds (set before StartOps).
  std::vector<std::function<absl::Status()>> ready_checks_;

  // The metrics every server has, the readiness checks, and (with a `listen` address) the
  // operations endpoint serving them (node/transport/ops_endpoint.h). `audit` null: a shard's.
  absl::Status StartOps(const std::string& listen, const storage::Store* store,
                        const security::AuditLog* audit, const security::TlsFiles& tls,
                        uint64_t min_free_bytes) {
    using metrics::Type;
    metrics::Registry& r = registry_;
    r.Describe("pmdb_build_info", Type::kGauge,
               "Always 1; the labels say which pmdb and which libraries run.");
    r.Describe("pmdb_ready", Type::kGauge, "1 when /readyz says ready, else 0.");
    r.Describe("pmdb_store_disk_bytes", Type::kGauge, "Bytes the store occupies on disk.");
    r.Describe("pmdb_disk_free_bytes", Type::kGauge, "Bytes free on the store's file system.");
    r.Describe("pmdb_disk_reserve_bytes", Type::kGauge,
               "Free bytes below which writes are refused (min_free_mb).");
    r.Describe("pmdb_rocksdb_pending_compaction_bytes", Type::kGauge,
               "RocksDB's estimate of bytes compaction still has to rewrite (backlog).");
    r.Describe("pmdb_rocksdb_running_compactions", Type::kGauge, "RocksDB compactions running.");
    r.Describe("pmdb_rocksdb_write_stopped", Type::kGauge,
               "1 while RocksDB stops writes (a write stall), else 0.");
    r.Describe("pmdb_rocksdb_delayed_write_rate_bytes", Type::kGauge,
               "The rate RocksDB slows writes to, in bytes/s; 0 when writes are not delayed.");
    r.Describe("pmdb_rocksdb_memtable_bytes", Type::kGauge, "Bytes in RocksDB's memtables.");
    r.Describe("pmdb_rocksdb_sst_bytes", Type::kGauge, "Bytes in RocksDB's table files.");
    r.Describe("pmdb_connections_open", Type::kGauge, "Connections open on the gRPC port.");
    r.Describe("pmdb_connections_max", Type::kGauge,
               "The most connections taken at once ([limits] max_connections or the default).");
    r.Describe("pmdb_connections_admitted_total", Type::kCounter, "Connections accepted.");
    r.Describe("pmdb_connections_refused_total", Type::kCounter,
               "Connections closed at once: over a limit or at the descriptor limit.");
    r.Describe("pmdb_open_files", Type::kGauge, "File descriptors the process has open.");
    r.Describe("pmdb_open_files_limit", Type::kGauge, "The process's open-files limit.");
    r.Describe("pmdb_audit_entries", Type::kGauge, "Entries in the audit log.");
    r.Describe("pmdb_audit_write_failing", Type::kGauge,
               "1 while the last write to the audit log failed (nothing is answered), else 0.");
    r.Describe("pmdb_certificate_expiry_timestamp_seconds", Type::kGauge,
               "When the TLS certificate (server) and the federation CA (ca) expire.");
    auto not_ready = [this, store, audit, min_free_bytes]() {
      std::vector<std::string> reasons;
      auto [open, limit] = OpenFiles();
      if (limit > 0 && open + 32 > limit) {
        reasons.push_back(StrCat("out of file descriptors (", open, " of ", limit, " open)"));
      }
      if (gate_ != nullptr) {
        transport::ConnectionGate::Stats g = gate_->stats();
        if (g.max_connections > 0 && g.open >= g.max_connections) {
          reasons.push_back(StrCat("at its connection limit (", g.open, " open)"));
        }
      }
      std::string audit_error = audit == nullptr ? "" : audit->last_error();
      if (!audit_error.empty()) {
        reasons.push_back(StrCat("the audit log cannot be written: ", audit_error));
      }
      auto free = store->FreeBytes();
      if (free.ok() && *free < min_free_bytes) {
        reasons.push_back(StrCat("the disk holding the store has ", *free >> 20,
                                 " MiB free, below its reserve of ", min_free_bytes >> 20, " MiB"));
      }
      for (const auto& check : ready_checks_) {
        absl::Status s = check();
        if (!s.ok()) reasons.push_back(std::string(s.message()));
      }
      return reasons;
    };
    r.AddCollector([this, store, audit, tls, min_free_bytes, not_ready] {
      std::vector<metrics::Sample> out;
      out.push_back({"pmdb_build_info",
                     {{"version", core::kVersion},
                      {"rocksdb", storage::RocksDbVersion()},
                      {"openssl", security::OpenSslVersion()},
                      {"grpc", grpc::Version()}},
                     1});
      out.push_back({"pmdb_ready", {}, not_ready().empty() ? 1.0 : 0.0});
      auto size = store->DiskSize();
      if (size.ok()) out.push_back({"pmdb_store_disk_bytes", {}, static_cast<double>(*size)});
      auto free = store->FreeBytes();
      if (free.ok()) out.push_back({"pmdb_disk_free_bytes", {}, static_cast<double>(*free)});
      out.push_back({"pmdb_disk_reserve_bytes", {}, static_cast<double>(min_free_bytes)});
      for (const auto& [name, property] : std::vector<std::pair<const char*, const char*>>{
               {"pmdb_rocksdb_pending_compaction_bytes",
                "rocksdb.estimate-pending-compaction-bytes"},
               {"pmdb_rocksdb_running_compactions", "rocksdb.num-running-compactions"},
               {"pmdb_rocksdb_write_stopped", "rocksdb.is-write-stopped"},
               {"pmdb_rocksdb_delayed_write_rate_bytes", "rocksdb.actual-delayed-write-rate"},
               {"pmdb_rocksdb_memtable_bytes", "rocksdb.cur-size-all-mem-tables"},
               {"pmdb_rocksdb_sst_bytes", "rocksdb.total-sst-files-size"}}) {
        out.push_back({name, {}, static_cast<double>(store->RocksDbFigure(property))});
      }
      if (gate_ != nullptr) {
        transport::ConnectionGate::Stats g = gate_->stats();
        out.push_back({"pmdb_connections_open", {}, static_cast<double>(g.open)});
        out.push_back({"pmdb_connections_max", {}, static_cast<double>(g.max_connections)});
        out.push_back({"pmdb_connections_admitted_total", {}, static_cast<double>(g.admitted)});
        out.push_back({"pmdb_connections_refused_total", {}, static_cast<double>(g.refused)});
      }
      auto [open, limit] = OpenFiles();
      out.push_back({"pmdb_open_files", {}, static_cast<double>(open)});
      out.push_back({"pmdb_open_files_limit", {}, static_cast<double>(limit)});
      if (audit != nullptr) {  // a shard keeps none: its node audits every question
        out.push_back({"pmdb_audit_entries", {}, static_cast<double>(audit->size())});
        out.push_back({"pmdb_audit_write_failing", {}, audit->last_error().empty() ? 0.0 : 1.0});
      }
      for (const auto& [which, path] :
           std::vector<std::pair<const char*, std::string>>{{"server", tls.cert}, {"ca", tls.ca}}) {
        auto expiry = ExpiryOf(path);
        if (expiry.has_value()) {
          out.push_back({"pmdb_certificate_expiry_timestamp_seconds",
                         {{"certificate", which}},
                         static_cast<double>(*expiry)});
        }
      }
      return out;
    });
    if (listen.empty()) return absl::OkStatus();
    auto ops =
        transport::OpsEndpoint::Start(listen, {.registry = &registry_, .not_ready = not_ready});
    if (!ops.ok()) return ops.status();
    ops_ = std::move(*ops);
    return absl::OkStatus();
  }

 protected:
  // Derived destructors call this first: no call may run while their state goes away.
  void Stop() {
    ops_.reset();  // no scrape reads what goes away below
    Shutdown(std::chrono::milliseconds(0));
    Wait();
    server_.reset();
    gate_.reset();
  }

 public:
  metrics::Registry registry_;  // the first member: destroyed last

 private:
  std::unique_ptr<transport::OpsEndpoint> ops_;
  std::unique_ptr<transport::ConnectionGate> gate_;
  std::unique_ptr<grpc::Server> server_;
};

// Threads of their own for the public tier's questions, so that a question's work never holds
// up the HTTPS front end's one io thread (whose other requests would time it); at most
// `capacity` wait. Jobs not started when it is destroyed are dropped.
class Workers {
 public:
  Workers(size_t threads, size_t capacity) : capacity_(capacity) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // False when `capacity` jobs already wait.
  bool Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || jobs_.size() >= capacity_) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// The public tier's calls: whether a variant is seen, through the node's core, on the public
// tier's own threads; nothing else.
class PublicBackend final : public beacon::BeaconBackend {
 public:
  PublicBackend(core::NodeCore* core, Workers* workers) : core_(core), workers_(workers) {}
  void Exists(const v1::Criterion& variant,
              std::function<void(absl::StatusOr<v1::PublicAnswer>)> done) override {
    const auto arrived = Pacer::Steady::now();  // paced from here, not from when a thread is free
    core::NodeCore* core = core_;
    if (!workers_->Post(
            [core, variant, done, arrived] { core->PublicExists(variant, done, arrived); })) {
      done(absl::UnavailableError("the public tier is busy; try again in a moment"));
    }
  }
  void Count(const call::Credentials&, const v1::CountRequest&,
             std::function<void(absl::StatusOr<v1::FederatedCount>)> done) override {
    done(NotHere());
  }
  void Frequency(const call::Credentials&, const v1::FrequencyRequest&,
                 std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) override {
    done(NotHere());
  }
  void SimilarCases(const call::Credentials&, const v1::SimilarCasesRequest&,
                    std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) override {
    done(NotHere());
  }
  void Info(const call::Credentials&,
            std::function<void(absl::StatusOr<v1::FederationInfo>)> done) override {
    done(NotHere());
  }
  const vocab::Ontology* ontology() const override { return nullptr; }
  const vocab::CodeList* icd10() const override { return nullptr; }

 private:
  static absl::Status NotHere() {
    return absl::PermissionDeniedError("the public tier answers only whether a variant is seen");
  }
  core::NodeCore* core_;
  Workers* workers_;
};

// At most `per_minute` requests from one client address in any 60 s.
class AddressRate {
 public:
  explicit AddressRate(uint32_t per_minute) : per_minute_(per_minute) {}
  bool Allow(const std::string& address) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    if (++calls_ % 1024 == 0) {  // forget addresses quiet for a minute
      for (auto it = seen_.begin(); it != seen_.end();) {
        it = it->second.empty() || now - it->second.back() >= kWindow ? seen_.erase(it)
                                                                      : std::next(it);
      }
    }
    std::deque<std::chrono::steady_clock::time_point>& times = seen_[address];
    while (!times.empty() && now - times.front() >= kWindow) times.pop_front();
    if (times.size() >= per_minute_) return false;
    times.push_back(now);
    return true;
  }

 private:
  static constexpr std::chrono::minutes kWindow{1};
  const uint32_t per_minute_;
  std::mutex mu_;
  uint64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> seen_
      ABSL_GUARDED_BY(mu_);
};

class NodeServer final : public GrpcServer {
 public:
  ~NodeServer() override {
    page_https_.reset();
    page_workers_.reset();
    page_api_.reset();
    public_https_.reset();    // no more requests,
    public_workers_.reset();  // and none running, before the core they go to
    public_beacon_.reset();
    public_backend_.reset();
    Stop();
    shard_workers_.reset();                   // no question still waits for the shards
    if (shards_ != nullptr) shards_->Stop();  // its refreshes reload the core's catalog
    admin_.reset();
    region_.reset();
    core_.reset();
    shards_.reset();
    leadership_.reset();  // another node may lead the region at once
    audit_.reset();       // writes what is queued
    store_.reset();
  }

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<security::AuditLog> audit_;
  std::shared_ptr<const shard::Leadership> leadership_;  // a sharded region's node's hold on it
  std::shared_ptr<shard::ShardSet> shards_;              // a sharded region's shards ([shards])
  std::unique_ptr<Workers> shard_workers_;               // where questions wait for them
  std::unique_ptr<core::NodeCore> core_;
  std::unique_ptr<transport::RegionServiceImpl> region_;
  std::unique_ptr<transport::AdminServiceImpl> admin_;

  int https_port() const override { return public_https_ == nullptr ? 0 : public_https_->port(); }
  int page_port() const override { return page_https_ == nullptr ? 0 : page_https_->port(); }

  // The operators' web page and pmdb's JSON admin calls ([https]), over mutual TLS: only this
  // region's operators are let in; the calls run on threads of their own.
  absl::Status StartPage(const NodeConfig& config, const std::string& federation) {
    page_workers_ = std::make_unique<Workers>(2, 64);
    Workers* workers = page_workers_.get();
    page_api_ = std::make_unique<web::NodeWebApi>(
        core_.get(),
        [workers](std::function<void()> job) { return workers->Post(std::move(job)); });
    const web::NodeWebApi* page_api = page_api_.get();
    transport::HttpsOptions options =
        MutualTlsOptions(config.https, federation, config.tls, web::ErrorJson);
    const std::string region = config.settings.region;
    auto server = transport::HttpsServer::Start(
        std::move(options),
        [page_api, region](const call::Credentials& who, const transport::HttpsRequest& request,
                           std::function<void(transport::HttpsResponse)> answer) {
          if (!who.peer.ok() || who.peer->role != security::Role::kOperator ||
              who.peer->region != region) {
            return answer({.status = 403,
                           .body = web::ErrorJson(
                               403, StrCat("this page is for the operators of region ", region))});
          }
          if (request.path.starts_with("/pmdb/")) return page_api->Handle(who, request, answer);
          if (web::IsPagePath(request.path)) return answer(web::PageFile(request.path));
          answer({.status = 404,
                  .body = web::ErrorJson(
                      404, "the operators' page is at /, pmdb's own calls under /pmdb/v1")});
        });
    if (!server.ok()) return server.status();
    page_https_ = std::move(*server);
    return absl::OkStatus();
  }

  // The public tier ([public]): a Beacon for anyone, without a certificate, answering only
  // whether one variant is seen (core::NodeCore::PublicExists), with a rate per address.
  absl::Status StartPublic(const NodeConfig& config) {
    public_workers_ = std::make_unique<Workers>(2, 64);
    public_backend_ = std::make_unique<PublicBackend>(core_.get(), public_workers_.get());
    const core::PublicTier& tier = config.settings.public_tier;
    const std::string& region = config.settings.region;
    const BeaconConfig defaults;
    beacon::BeaconIdentity identity{
        .id = config.beacon.id == defaults.id ? StrCat("se.pmdb.", region) : config.beacon.id,
        .name = config.beacon.name == defaults.name
                    ? StrCat("pmdb public beacon of region ", region)
                    : config.beacon.name,
        .organization = config.beacon.organization,
        .contact = config.beacon.contact,
        .url = config.beacon.url,
        .environment = config.beacon.environment,
        .version = core::kVersion,
        .description = StrCat(
            "Whether a variant is seen in region ", config.settings.region,
            ": a boolean from the count of its carriers with differential privacy (noise of sd ",
            tier.scale.sigma(), ", seen from ", tier.threshold,
            "), so variants carried by few people are usually answered false")};
    public_beacon_ =
        std::make_unique<beacon::BeaconApi>(std::move(identity), public_backend_.get(), true);
    public_rate_ = std::make_unique<AddressRate>(config.public_https.requests_per_minute);
    const beacon::BeaconApi* api = public_beacon_.get();
    AddressRate* rate = public_rate_.get();
    const uint32_t per_minute = config.public_https.requests_per_minute;
    transport::HttpsOptions options{
        .listen = config.public_https.listen,
        .federation = config.settings.federation,
        .tls =
            [&] {
              security::TlsFiles files = config.tls;
              if (!config.public_https.cert.empty()) {
                files.cert = config.public_https.cert;
                files.key = config.public_https.key;
              }
              return files;
            }(),
        .max_body_bytes = 16 << 10,
        .read_timeout = std::chrono::milliseconds(5000),
        .max_connections = config.public_https.max_connections,
        .max_connections_per_address = config.public_https.max_connections_per_address,
        .cors_origins = {"*"},
        .anonymous = true,
        .error_body = [api](int status,
                            const std::string& m) { return api->ErrorBody(status, m); }};
    const std::string listen = config.public_https.listen;
    metrics::Registry* registry = &registry_;
    registry->Describe("pmdb_public_requests_total", metrics::Type::kCounter,
                       "Requests to the public tier, by the HTTP status of the answer (429: over "
                       "the rate per address, or the public budget spent).");
    auto server = transport::HttpsServer::Start(
        std::move(options),
        [api, rate, per_minute, listen, registry](
            const call::Credentials& who, const transport::HttpsRequest& request,
            std::function<void(transport::HttpsResponse)> answer) {
          auto respond = [answer, registry](transport::HttpsResponse out) {
            registry->Add("pmdb_public_requests_total", {{"status", std::to_string(out.status)}});
            answer(std::move(out));
          };
          auto send = [respond](beacon::BeaconHttpReply r) {
            transport::HttpsResponse out;
            out.status = r.status;
            out.body = std::move(r.body);
            if (r.cacheable) out.headers.push_back({"Cache-Control", "public, max-age=300"});
            respond(std::move(out));
          };
          if (!rate->Allow(request.client_address)) {
            transport::HttpsResponse out;
            out.status = 429;
            out.body = api->ErrorBody(
                429, StrCat("at most ", per_minute, " requests a minute from one address"));
            out.headers.push_back({"Retry-After", "60"});
            return respond(std::move(out));
          }
          const std::string& path = request.path;
          if (path != "/api" && !path.starts_with("/api/")) {
            return send({.status = 404,
                         .body = api->ErrorBody(404, "the Beacon API is under /api (/api/info)")});
          }
          api->Handle(who, UnderApi(request, listen), send);
        });
    if (!server.ok()) return server.status();
    public_https_ = std::move(*server);
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Workers> page_workers_;
  std::unique_ptr<web::NodeWebApi> page_api_;
  std::unique_ptr<transport::HttpsServer> page_https_;
  std::unique_ptr<Workers> public_workers_;
  std::unique_ptr<PublicBackend> public_backend_;
  std::unique_ptr<beacon::BeaconApi> public_beacon_;
  std::unique_ptr<AddressRate> public_rate_;
  std::unique_ptr<transport::HttpsServer> public_https_;
};

class HubServer final : public GrpcServer {
 public:
  ~HubServer() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (witnessing_.joinable()) witnessing_.join();
    https_.reset();  // before the hub its requests go to
    Stop();
    federation_.reset();
    hub_.reset();
    audit_.reset();
    store_.reset();
  }

  // Checks every region's audit head now (before the hub serves) and then every `interval`
  // (witness.h), until the hub stops. Problems go to stderr; the witness refuses the region
  // from then on.
  void StartWitnessing(std::chrono::seconds interval, std::chrono::milliseconds deadline) {
    CheckAuditHeads(deadline);
    witnessing_ = std::thread([this, interval, deadline] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
        lock.unlock();
        CheckAuditHeads(deadline);
        lock.lock();
      }
    });
  }
  void CheckAuditHeads(std::chrono::milliseconds deadline) {
    std::promise<std::vector<std::string>> checked;
    hub_->CheckAuditHeads(
        std::chrono::system_clock::now() + deadline,
        [&checked](std::vector<std::string> problems) { checked.set_value(std::move(problems)); });
    for (const std::string& p : checked.get_future().get()) {
      if (log::Enabled()) {
        log::Line("warning", "audit_witness").Str("problem", p).Emit();
      } else {
        std::cerr << "pmdb hub: " << p << std::endl;
      }
    }
  }

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<hub::Witness> witness_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<transport::FederationServiceImpl> federation_;
  std::unique_ptr<beacon::HubBackend> beacon_backend_;
  std::unique_ptr<beacon::BeaconApi> beacon_;
  std::unique_ptr<beacon::MatchmakerApi> matchmaker_;
  std::unique_ptr<web::HubWebApi> page_api_;
  std::unique_ptr<transport::HttpsServer> https_;  // destroyed first: it calls the others

  int https_port() const override { return https_ == nullptr ? 0 : https_->port(); }

  // The HTTPS front end ([https]): GA4GH Beacon v2 under /api and Matchmaker Exchange under
  // /mme (node/beacon), the web page at / and pmdb's own JSON calls under /pmdb (node/web).
  absl::Status StartHttps(const HubConfig& config, const std::string& federation) {
    std::shared_ptr<const vocab::Ontology> hpo;
    if (!config.beacon.hpo.empty()) {
      auto loaded = vocab::Ontology::LoadObo(config.beacon.hpo);
      if (!loaded.ok()) return loaded.status();
      hpo = std::make_shared<const vocab::Ontology>(*std::move(loaded));
    }
    std::shared_ptr<const vocab::CodeList> icd10;
    if (!config.beacon.icd10.empty()) {
      auto loaded = vocab::CodeList::LoadIcd10(config.beacon.icd10);
      if (!loaded.ok()) return loaded.status();
      icd10 = std::make_shared<const vocab::CodeList>(*std::move(loaded));
    }
    // The regions' deadline plus time to merge and audit: well within the Beacon Network's 5 s
    // with the default deadline of 2 s.
    beacon_backend_ = std::make_unique<beacon::HubBackend>(
        hub_.get(), std::chrono::milliseconds(config.deadline_ms + 1000), std::move(hpo),
        std::move(icd10));
    beacon::BeaconIdentity identity{
        .id = config.beacon.id,
        .name = config.beacon.name,
        .organization = config.beacon.organization,
        .contact = config.beacon.contact,
        .url = config.beacon.url,
        .environment = config.beacon.environment,
        .version = core::kVersion,
        .description =
            StrCat("Counts of individuals and variants' allele frequencies from ",
                   config.regions.size(), config.regions.size() == 1 ? " region" : " regions",
                   " of the federation, each through the region's disclosure "
                   "control; no records")};
    beacon_ = std::make_unique<beacon::BeaconApi>(std::move(identity), beacon_backend_.get());
    matchmaker_ =
        std::make_unique<beacon::MatchmakerApi>(beacon_backend_.get(), config.beacon.disclaimer);
    page_api_ = std::make_unique<web::HubWebApi>(
        hub_.get(), std::chrono::milliseconds(config.deadline_ms + 1000));
    const beacon::BeaconApi* api = beacon_.get();
    const beacon::MatchmakerApi* mme = matchmaker_.get();
    const web::HubWebApi* page_api = page_api_.get();
    transport::HttpsOptions options = MutualTlsOptions(
        config.https, federation, config.tls,
        [api](int status, const std::string& m) { return api->ErrorBody(status, m); });
    const std::string listen = config.https.listen;
    metrics::Registry* registry = &registry_;
    registry->Describe(
        "pmdb_https_requests_total", metrics::Type::kCounter,
        "Requests the HTTPS front end handed on, by API (beacon, mme, pmdb: pmdb's own JSON "
        "calls, page: the web page's files, other: an unknown path) "
        "and the HTTP status of the answer; the front end's own refusals (a body or headers "
        "over the limits, a refused certificate or origin) are not counted here.");
    auto server = transport::HttpsServer::Start(
        std::move(options),
        [api, mme, page_api, listen, registry](
            const call::Credentials& who, const transport::HttpsRequest& request,
            std::function<void(transport::HttpsResponse)> answer) {
          const std::string& path = request.path;
          const std::string which = path.starts_with("/mme/")                     ? "mme"
                                    : path == "/api" || path.starts_with("/api/") ? "beacon"
                                    : path.starts_with("/pmdb/")                  ? "pmdb"
                                    : web::IsPagePath(path)                       ? "page"
                                                                                  : "other";
          auto respond = [answer, registry, which](transport::HttpsResponse out) {
            registry->Add("pmdb_https_requests_total",
                          {{"api", which}, {"status", std::to_string(out.status)}});
            answer(std::move(out));
          };
          auto send = [respond](beacon::BeaconHttpReply r) {
            transport::HttpsResponse out;
            out.status = r.status;
            out.body = std::move(r.body);
            if (r.cacheable) out.headers.push_back({"Cache-Control", "private, max-age=300"});
            respond(std::move(out));
          };
          if (which == "mme") {
            return mme->Handle(who, request.method, path.substr(4), request.content_type,
                               request.body, [respond](beacon::MatchReply r) {
                                 transport::HttpsResponse out;
                                 out.status = r.status;
                                 out.content_type = r.content_type;
                                 out.body = std::move(r.body);
                                 respond(std::move(out));
                               });
          }
          if (which == "pmdb") return page_api->Handle(who, request, respond);
          if (which == "page") return respond(web::PageFile(path));
          if (which == "other") {
            return send({.status = 404,
                         .body = api->ErrorBody(404,
                                                "the web page is at /, the Beacon API under /api "
                                                "(/api/info), Matchmaker Exchange at /mme/match, "
                                                "pmdb's own calls under /pmdb/v1")});
          }
          api->Handle(who, UnderApi(request, listen), send);
        });
    if (!server.ok()) return server.status();
    https_ = std::move(*server);
    return absl::OkStatus();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread witnessing_;
};

}  // namespace

// The process's log format ([log] format), and gRPC's messages through it.
void StartLogging(const std::string& format) {
  log::SetFormat(format == "off"    ? log::Format::kOff
                 : format == "text" ? log::Format::kText
                                    : log::Format::kJson);
  if (log::Enabled()) transport::RouteGrpcLogs();
}

absl::StatusOr<std::unique_ptr<Server>> StartNode(const NodeConfig& config) {
  StartLogging(config.log_format);
  query::SetLimits(config.question_limits);
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
  settings.head_certificate = config.tls.cert;
  settings.head_key = config.tls.key;
  settings.federation_ca = config.tls.ca;
  auto core = core::NodeCore::Create(std::move(settings), node->store_.get(), node->audit_.get());
  if (!core.ok()) return core.status();
  node->core_ = std::move(*core);
  node->core_->set_metrics(&node->registry_);
  if (!config.shards.etcd.empty()) {
    core::NodeCore* the_core = node->core_.get();
    // One node leads the region at a time: its budgets and audit log are the region's.
    auto etcd = shard::Etcd::Connect({.endpoint = config.shards.etcd, .tls = config.tls});
    if (!etcd.ok()) return etcd.status();
    char host[256] = {};
    (void)gethostname(host, sizeof(host) - 1);
    auto leadership = shard::Leadership::Take(
        *etcd, config.settings.region, StrCat(self->uri, " on ", host, " (pid ", getpid(), ")"),
        std::chrono::milliseconds(config.shards.leader_wait_ms));
    if (!leadership.ok()) return leadership.status();
    node->leadership_ = std::move(*leadership);
    node->ready_checks_.push_back(
        [held = std::weak_ptr<const shard::Leadership>(node->leadership_)] {
          auto l = held.lock();
          return l != nullptr ? l->Check() : absl::UnavailableError("the node is stopping");
        });
    auto shards = shard::ShardSet::Start(
        {.region = config.settings.region,
         .federation = self->federation,
         .etcd = {.endpoint = config.shards.etcd, .tls = config.tls},
         .tls = config.tls,
         .deadline = std::chrono::milliseconds(config.shards.deadline_ms),
         .refresh = std::chrono::milliseconds(config.shards.refresh_ms),
         .leadership = node->leadership_},
        node->store_.get(), [the_core] { return the_core->ReloadCatalog(); });
    if (!shards.ok()) {
      return absl::Status(shards.status().code(),
                          StrCat("the region's shards ([shards] etcd = ", config.shards.etcd,
                                 "): ", std::string(shards.status().message())));
    }
    node->shards_ = *shards;
    node->core_->UseShards(node->shards_, node->shards_);
  }
  if (node->shards_ != nullptr) {
    // Questions wait for the shards off gRPC's threads (region_service.h).
    node->shard_workers_ = std::make_unique<Workers>(32, 1024);
    node->region_ = std::make_unique<transport::RegionServiceImpl>(
        node->core_.get(),
        [w = node->shard_workers_.get()](std::function<void()> job) { return w->Post(job); });
  } else {
    node->region_ = std::make_unique<transport::RegionServiceImpl>(node->core_.get());
  }
  node->admin_ = std::make_unique<transport::AdminServiceImpl>(node->core_.get());

  auto creds = transport::MakeServerCredentials(config.tls, self->federation);
  if (!creds.ok()) return creds.status();
  EnableStandardServices();
  grpc::ServerBuilder builder;
  builder.RegisterService(node->region_.get());
  builder.RegisterService(node->admin_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_mb) << 20);
  absl::Status listening = node->Listen(builder, config.listen, config.limits, *creds);
  if (!listening.ok()) return listening;
  node->registry_.Describe(
      "pmdb_budget_spent_rho", metrics::Type::kGauge,
      "Privacy budget spent in its window (zCDP rho): the region's, each project's, and "
      "each project's share of the region's, over window_days.");
  node->registry_.Describe("pmdb_budget_limit_rho", metrics::Type::kGauge,
                           "The budget's limit over its window (zCDP rho).");
  node->registry_.Describe("pmdb_budget_left_rho", metrics::Type::kGauge,
                           "What is left of the budget now (zCDP rho).");
  node->registry_.AddCollector([core = node->core_.get()] {
    std::vector<metrics::Sample> out;
    for (const v1::BudgetState& b : core->RegionBudgets()) {
      // "region", "project P", "project P's share of the region"; each over its window.
      std::string scope = b.name(), project;
      constexpr std::string_view kShare = "'s share of the region";
      if (scope.starts_with("project ")) {
        project = scope.substr(8);
        scope = "project";
        if (project.ends_with(kShare)) {
          project.resize(project.size() - kShare.size());
          scope = "project_share_of_region";
        }
      }
      metrics::Labels labels = {
          {"scope", scope}, {"project", project}, {"window_days", std::to_string(b.period_days())}};
      out.push_back({"pmdb_budget_spent_rho", labels, b.spent_rho()});
      out.push_back({"pmdb_budget_limit_rho", labels, b.limit_rho()});
      out.push_back({"pmdb_budget_left_rho", labels, std::max(0.0, b.limit_rho() - b.spent_rho())});
    }
    return out;
  });
  absl::Status ops = node->StartOps(config.metrics_listen, node->store_.get(), node->audit_.get(),
                                    config.tls, uint64_t{config.min_free_mb} << 20);
  if (!ops.ok()) return ops;
  if (!config.https.listen.empty()) {
    absl::Status page = node->StartPage(config, self->federation);
    if (!page.ok()) return page;
  }
  if (config.settings.public_tier.enabled) {
    NodeConfig with_federation = config;
    with_federation.settings.federation = self->federation;
    absl::Status pub = node->StartPublic(with_federation);
    if (!pub.ok()) return pub;
  }
  return std::unique_ptr<Server>(std::move(node));
}

// A shard of a sharded region: its store, the ShardService, and its membership in etcd.
class ShardServer final : public GrpcServer {
 public:
  ~ShardServer() override {
    membership_.reset();  // leaves the region first: the node stops asking at once
    Stop();
    service_.reset();
    admin_.reset();
    store_.reset();
  }
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<shard::ShardServiceImpl> service_;
  std::unique_ptr<shard::ShardAdminServiceImpl> admin_;
  std::unique_ptr<shard::Membership> membership_;
};

absl::StatusOr<std::unique_ptr<Server>> StartShard(const ShardServeConfig& config) {
  StartLogging(config.log_format);
  auto self = security::CheckTlsFiles(config.tls);
  if (!self.ok()) return self.status();
  if (self->role != security::Role::kShard || self->region != config.region) {
    return absl::InvalidArgumentError(
        StrCat(config.tls.cert, " is ", self->uri, ", not a shard of region ", config.region,
               ": a shard serves with its own certificate (pmdb ca issue --identity spiffe://",
               self->federation, "/region/", config.region,
               "/shard --ip ADDRESS), never the node's, whose key the hub trusts"));
  }
  auto etcd = shard::Etcd::Connect({.endpoint = config.etcd, .tls = config.tls});
  if (!etcd.ok()) return etcd.status();
  auto map = shard::ReadShardMap(*etcd, config.region);
  if (!map.ok()) return map.status();
  std::optional<shard::ShardInfo> mine;
  for (const shard::ShardInfo& s : *map) {
    if (s.entry.name() == config.name) mine = s;
  }
  if (!mine.has_value()) {
    if (!config.join) {
      return absl::NotFoundError(StrCat("region ", config.region, " has no shard named ",
                                        config.name,
                                        " in its shard map (pmdb shard add, or "
                                        "--join to add it)"));
    }
    auto added =
        shard::AddShard(*etcd, config.region, config.name, shard::kPendingAddress, config.size);
    if (!added.ok()) return added.status();
    map = shard::ReadShardMap(*etcd, config.region);
    if (!map.ok()) return map.status();
    for (const shard::ShardInfo& s : *map) {
      if (s.entry.name() == config.name) mine = s;
    }
    if (!mine.has_value()) return absl::AbortedError("the new shard vanished from the map");
  }
  auto server = std::make_unique<ShardServer>();
  auto store = storage::Store::Open(
      config.db, {.create_if_missing = true, .min_free_bytes = uint64_t{config.min_free_mb} << 20});
  if (!store.ok()) return store.status();
  server->store_ = std::move(*store);
  absl::Status made =
      storage::MakeShard(*server->store_, mine->entry.first_ordinal(), mine->entry.end_ordinal());
  if (!made.ok()) {
    return absl::Status(made.code(),
                        StrCat(config.db, " cannot be shard ", config.name, " of ordinals ",
                               mine->entry.first_ordinal(), "-", mine->entry.end_ordinal(), ": ",
                               std::string(made.message()),
                               " (an interrupted pmdb shard move? run it again to finish it)"));
  }
  server->service_ = std::make_unique<shard::ShardServiceImpl>(config.region, server->store_.get());
  // Writes come from the region's leading node only (shard_map.h, Leadership).
  server->admin_ = std::make_unique<shard::ShardAdminServiceImpl>(
      config.region, server->store_.get(),
      [etcd = *etcd, region = config.region](const std::string& token) {
        return shard::CheckLeader(etcd, region, token);
      },
      [service = server->service_.get()] { service->WarmSoon(); });
  server->service_->WarmSoon();  // the cases indexed before the first search
  auto creds = transport::MakeServerCredentials(config.tls, self->federation);
  if (!creds.ok()) return creds.status();
  // No gRPC health or reflection services: they would answer any certificate of the federation,
  // and a shard answers its node only (its probes are /livez and /readyz on --metrics).
  grpc::ServerBuilder builder;
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->admin_.get());
  builder.SetMaxReceiveMessageSize(8 << 20);  // ingest chunks of 1 MiB, opt-out lists
  absl::Status listening = server->Listen(builder, config.listen, config.limits, *creds);
  if (!listening.ok()) return listening;
  // Where the node finds it: the advertised address, or the one listened on.
  std::string address = config.advertise;
  if (address.empty()) {
    const std::string host = config.listen.substr(0, config.listen.rfind(':'));
    if (host == "0.0.0.0" || host == "[::]" || host.empty()) {
      return absl::InvalidArgumentError(
          StrCat("shard ", config.name, " listens on ", config.listen,
                 ": give --advertise HOST:PORT, the address its node reaches it at"));
    }
    address = StrCat(host, ":", server->port());
  }
  auto range = storage::ShardRangeOf(*server->store_->Snapshot());
  if (!range.ok()) return range.status();
  if (!mine->entry.store_id().empty() && mine->entry.store_id() != range->id) {
    return absl::FailedPreconditionError(
        StrCat(config.db, " is not the store shard ", config.name, " served from (store ",
               range->id, ", the map knows ", mine->entry.store_id(),
               "): a new store in its place would hide its people; restore its backup"));
  }
  if (mine->entry.address() != address || mine->entry.store_id() != range->id) {
    v1::ShardEntry moved = mine->entry;
    moved.set_address(address);
    moved.set_store_id(range->id);
    auto json = shard::EntryJson(moved);
    if (!json.ok()) return json.status();
    auto put = etcd->PutIf(shard::ShardsPrefix(config.region) + config.name, mine->raw, *json);
    if (!put.ok()) return put.status();
    if (!*put) {
      return absl::AbortedError(
          StrCat("shard ", config.name, "'s map entry changed while it started; start it again"));
    }
  }
  auto membership =
      shard::Membership::Join(*etcd, shard::MemberKey(config.region, config.name), address);
  if (!membership.ok()) return membership.status();
  server->membership_ = std::move(*membership);
  absl::Status ops = server->StartOps(config.metrics_listen, server->store_.get(), nullptr,
                                      config.tls, uint64_t{config.min_free_mb} << 20);
  if (!ops.ok()) return ops;
  return std::unique_ptr<Server>(std::move(server));
}

absl::StatusOr<std::unique_ptr<Server>> StartHub(const HubConfig& config) {
  StartLogging(config.log_format);
  query::SetLimits(config.question_limits);
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

  std::vector<std::string> ids;
  for (const RegionEndpoint& r : config.regions) ids.push_back(r.id);
  auto witness = hub::Witness::Open(hub->store_.get(), ids, config.accept_region_audit);
  if (!witness.ok()) return witness.status();
  hub->witness_ = std::move(*witness);
  // Every head the hub keeps must be signed by its region's node, under the federation's CA.
  hub->witness_->set_verifier([ca = config.tls.ca](const std::string& region,
                                                   const v1::AuditHeadReply& head) {
    if (head.signature().empty()) return absl::FailedPreconditionError("no signature");
    return security::VerifyNodeSignature(
        head.certificate(), ca, region, head.time_unix_micros() / 1000000,
        security::HeadMessage(region, head.entries(), head.head_hash(), head.time_unix_micros()),
        head.signature());
  });
  for (const std::string& r : config.accept_region_audit) {
    std::cerr << "pmdb hub: region " << r
              << "'s audit log is accepted as it is now (--accept-region-audit)" << std::endl;
  }
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
                            .disclosure = config.disclosure,
                            .national = config.national};
  hub->hub_ = std::make_unique<hub::Hub>(std::move(settings), std::move(regions), hub->audit_.get(),
                                         &SystemClock(), hub->witness_.get());
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
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_mb) << 20);
  hub->hub_->set_metrics(&hub->registry_);
  hub->StartWitnessing(std::chrono::seconds(config.witness_interval_s),
                       std::chrono::milliseconds(config.deadline_ms));
  absl::Status listening = hub->Listen(builder, config.listen, config.limits, *creds);
  if (!listening.ok()) return listening;
  absl::Status ops = hub->StartOps(config.metrics_listen, hub->store_.get(), hub->audit_.get(),
                                   config.tls, uint64_t{config.min_free_mb} << 20);
  if (!ops.ok()) return ops;
  if (!config.https.listen.empty()) {
    absl::Status https = hub->StartHttps(config, self->federation);
    if (!https.ok()) return https;
  }
  return std::unique_ptr<Server>(std::move(hub));
}

}  // namespace pmdb::server
