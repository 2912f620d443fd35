#include "node/transport/grpc_metrics.h"

#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace pmdb::transport {
namespace {

using grpc::experimental::InterceptionHookPoints;

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
    registry_->Add("grpc_server_started_total", labels_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
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

}  // namespace

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
