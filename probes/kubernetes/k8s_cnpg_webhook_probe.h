#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_webhook", target: a kubernetes.clusters[] entry. Exercises the CNPG operator's
// admission webhooks (mutating mcluster.cnpg.io, validating vcluster.cnpg.io) the way a
// `kubectl apply` does: one server-side dry-run create (POST ...?dryRun=All) of a minimal
// Cluster named `dbcanary-webhook-probe` in the target's namespace. Nothing is stored. Ready
// webhook endpoints (k8s_cnpg_operator) say the pods run; this says they answer, and how fast.
// Opt-in: it needs the `create` verb on clusters (deploy/kustomize/components/webhook-dryrun).
// Params: object_name (default dbcanary-webhook-probe), expect: { max_duration: 5s }.
Result<std::unique_ptr<Probe>> CreateK8sCnpgWebhookProbe(const ProbeSettings& settings,
                                                         const Config& config);

const std::vector<MetricDesc>& K8sCnpgWebhookMetricDescs();

// The minimal Cluster sent (postgresql.cnpg.io/v1): one instance, 1Gi of storage.
nlohmann::json WebhookProbeCluster(const std::string& name, const std::string& ns);

// Turns the outcome of one dry-run create into samples and expectations (pure). `answer` is
// the API server's answer or its error; `seconds` the round trip. Returns the error that fails
// the run: none for an answer (accepted or refused by admission), the error for no answer
// (timeout, connect, TLS) and for our own RBAC or credentials (401/403).
std::optional<Error> EvaluateWebhookDryRun(const Result<nlohmann::json>& answer, double seconds,
                                           double max_seconds, const std::string& target,
                                           const std::string& ns, ProbeResult& out);

}  // namespace dbcanary
