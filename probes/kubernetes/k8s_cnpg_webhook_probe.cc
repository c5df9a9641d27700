#include "probes/kubernetes/k8s_cnpg_webhook_probe.h"

#include <limits>
#include <utility>

#include "clients/kube/kube_common.h"
#include "core/deadline.h"

namespace dbcanary {
namespace {

constexpr const char* kAccepted = "dbcanary_k8s_cnpg_webhook_dry_run_accepted";
constexpr const char* kDuration = "dbcanary_k8s_cnpg_webhook_dry_run_duration_seconds";

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class K8sCnpgWebhookProbe final : public Probe {
 public:
  K8sCnpgWebhookProbe(KubernetesSettings kube, KubeCluster cluster, std::string object_name,
                      double max_seconds)
      : kube_(std::move(kube)),
        cluster_(std::move(cluster)),
        object_name_(std::move(object_name)),
        max_seconds_(max_seconds) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgWebhookMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    const auto start = SteadyClock::now();
    auto answer =
        client->DryRunCreate(kube::CnpgResource("clusters", cluster_.namespace_),
                             WebhookProbeCluster(object_name_, cluster_.namespace_), ctx.deadline);
    const double seconds = SecondsSince(start);
    if (auto error = EvaluateWebhookDryRun(answer, seconds, max_seconds_, cluster_.name,
                                           cluster_.namespace_, result)) {
      result.Fail(std::move(*error));
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  KubernetesSettings kube_;
  KubeCluster cluster_;
  std::string object_name_;
  double max_seconds_;
};

}  // namespace

const std::vector<MetricDesc>& K8sCnpgWebhookMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kAccepted,
       "1 when the server-side dry-run create of a minimal Cluster passed admission (the CNPG "
       "webhooks), 0 when it was refused; absent when the API server did not answer.",
       MetricType::kGauge},
      {kDuration, "Seconds the dry-run create took, admission webhooks included.",
       MetricType::kGauge},
  };
  return descs;
}

nlohmann::json WebhookProbeCluster(const std::string& name, const std::string& ns) {
  return nlohmann::json{
      {"apiVersion", "postgresql.cnpg.io/v1"},
      {"kind", "Cluster"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels", {{"app.kubernetes.io/managed-by", "dbcanary"}}}}},
      {"spec", {{"instances", 1}, {"storage", {{"size", "1Gi"}}}}},
  };
}

std::optional<Error> EvaluateWebhookDryRun(const Result<nlohmann::json>& answer, double seconds,
                                           double max_seconds, const std::string& target,
                                           const std::string& ns, ProbeResult& out) {
  const Labels labels = {{"target", target}, {"k8s_namespace", ns}};
  const int status = answer ? 0 : answer.error().cause.http_status;
  // An HTTP answer other than our own 401/403 is admission's verdict: a refusal (400/422 with
  // the webhook's reason, or 500 "failed calling webhook") is what this probe looks for.
  const bool answered = answer || (status != 0 && status != 401 && status != 403);
  double accepted = kNaN;
  if (answered) {
    accepted = answer ? 1 : 0;
    out.Add(kAccepted, labels, accepted);
    out.Add(kDuration, labels, seconds);
  }
  auto passed = ExpectNumber("cnpg_webhook_dry_run", target, accepted, "==", 1);
  if (answered && !answer) passed.observed_text += " refused: " + answer.error().message;
  out.expectations.push_back(std::move(passed));
  // Judged on every answer, a refusal included: a fast refusal fails only the check above.
  out.expectations.push_back(ExpectNumber("cnpg_webhook_dry_run_seconds", target,
                                          answered ? seconds : kNaN, "<=", max_seconds));
  if (answered) return std::nullopt;
  return answer.error();
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgWebhookProbe(const ProbeSettings& settings,
                                                         const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    std::string object_name = "dbcanary-webhook-probe";
    double max_seconds = 5;
    if (settings.params) {
      if (auto name = settings.params->String("object_name")) {
        if (name->rfind("dbcanary-", 0) != 0 || name->size() > 63) {
          settings.params->Fail("object_name", "must start with dbcanary- (at most 63 characters)");
        }
        object_name = *name;
      }
      if (auto map = settings.params->Map("expect")) {
        if (auto bound = map->Duration("max_duration")) {
          if (*bound <= std::chrono::milliseconds(0)) map->Fail("max_duration", "must be positive");
          max_seconds = std::chrono::duration<double>(*bound).count();
        }
        map->Finish();
      }
      settings.params->Finish();
    }
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_cnpg_webhook: no kubernetes cluster named \"" + settings.target + "\"");
    }
    return std::unique_ptr<Probe>(std::make_unique<K8sCnpgWebhookProbe>(
        *config.kubernetes, *cluster, std::move(object_name), max_seconds));
  });
}

}  // namespace dbcanary
