#include "node/transport/grpc_metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpc/support/log.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "node/base/log.h"

namespace pmdb::transport {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr char kUnreadable[] =
    "the request could not be read: it is malformed or nested deeper than 100 levels";

const char* TypeOf(grpc::experimental::ServerRpcInfo::Type t) {
  switch (t) {
    case grpc::experimental::ServerRpcInfo::Type::UNARY:
      return "unary";
    case grpc::experimental::ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case grpc::experimental::ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(metrics::Registry* registry, grpc::experimental::ServerRpcInfo* info)
      : registry_(registry), start_(std::chrono::steady_clock::now()) {
    // "/pmdb.v1.RegionService/Count"
    std::string full = info->method() == nullptr ? "" : info->method();
    size_t slash = full.rfind('/');
    std::string service =
        slash == std::string::npos || slash == 0 ? "unknown" : full.substr(1, slash - 1);
    std::string method = slash == std::string::npos ? "unknown" : full.substr(slash + 1);
    labels_ = {
        {"grpc_type", TypeOf(info->type())}, {"grpc_service", service}, {"grpc_method", method}};
    known_method_ = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
                        service + "." + method) != nullptr;
    registry_->Add("grpc_server_started_total", labels_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          status.error_message().empty() && known_method_) {
        // gRPC's answer when it cannot parse the request of a method the server has (protobuf
        // reads at most 100 levels of nesting): say so, the same at the hub and every node.
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kUnreadable);
        methods->ModifySendStatus(status);
      }
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics::Labels with_code = labels_;
      with_code.emplace_back("grpc_code", absl::StatusCodeToString(
                                              static_cast<absl::StatusCode>(status.error_code())));
      registry_->Add("grpc_server_handled_total", with_code);
      registry_->Observe("grpc_server_handling_seconds", labels_, seconds);
    }
    methods->Proceed();
  }

 private:
  metrics::Registry* registry_;
  std::chrono::steady_clock::time_point start_;
  metrics::Labels labels_;
  bool known_method_ = false;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(metrics::Registry* registry) : registry_(registry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(registry_, info);
  }

 private:
  metrics::Registry* registry_;
};

void LogGrpc(gpr_log_func_args* args) {
  const char* level = args->severity == GPR_LOG_SEVERITY_ERROR  ? "error"
                      : args->severity == GPR_LOG_SEVERITY_INFO ? "info"
                                                                : "debug";
  log::Line(level, "grpc")
      .Str("message", args->message == nullptr ? "" : args->message)
      .Str("source", args->file == nullptr ? "" : args->file)
      .Int("line", args->line)
      .Emit();
}

}  // namespace

void RouteGrpcLogs() { gpr_set_log_function(LogGrpc); }

void AddGrpcMetrics(metrics::Registry* registry, grpc::ServerBuilder& builder) {
  registry->Describe("grpc_server_started_total", metrics::Type::kCounter,
                     "RPCs started on the server.");
  registry->Describe("grpc_server_handled_total", metrics::Type::kCounter,
                     "RPCs completed on the server, regardless of success or failure.");
  registry->Describe("grpc_server_handling_seconds", metrics::Type::kHistogram,
                     "Response latency (seconds) of RPCs handled by the server.",
                     metrics::LatencyBuckets());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<MetricsInterceptorFactory>(registry));
  builder.experimental().SetInterceptorCreators(std::move(factories));
}

}  // namespace pmdb::transport
