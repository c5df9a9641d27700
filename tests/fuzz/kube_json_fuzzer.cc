// libFuzzer target: decoding Kubernetes API objects (probes/kubernetes/*: the pure Evaluate*
// halves of the k8s_* probes). The body comes from the API server or whatever answers at its
// address; a CRD's schema changes across operator versions, so any JSON -- fields missing, of
// the wrong type, nested oddly -- must give samples or a bounded error, never a crash and never
// an exception (probes must not throw). The same document is fed to every decoder, as a
// Cluster, a Pooler, a Dragonfly and its StatefulSet, a Deployment, a CRD, endpoints, and every
// input of the backups probe.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "probes/kubernetes/k8s_cnpg_backups_probe.h"
#include "probes/kubernetes/k8s_cnpg_cluster_probe.h"
#include "probes/kubernetes/k8s_cnpg_operator_probe.h"
#include "probes/kubernetes/k8s_cnpg_pooler_probe.h"
#include "probes/kubernetes/k8s_dragonfly_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Parse as the client does, but without exceptions: junk is the client's error path.
  nlohmann::json doc =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;
  const double now = 1764000000;  // 2025-11-24, inside the fixtures' time range
  const std::string target = "fuzz";
  dbcanary::ProbeResult out;

  dbcanary::CnpgClusterExpect cluster_expect;
  (void)dbcanary::EvaluateCnpgCluster(doc, target, "ns", "cluster", cluster_expect, now, out);
  cluster_expect.min_ready_instances = 2;
  (void)dbcanary::EvaluateCnpgCluster(doc, target, "ns", "cluster", cluster_expect, now, out);

  (void)dbcanary::EvaluateCnpgPooler(doc, target, "ns", "pooler", std::nullopt, out);
  (void)dbcanary::EvaluateCnpgPooler(doc, target, "ns", "pooler", 1, out);

  (void)dbcanary::EvaluateDragonfly(doc, &doc, target, std::nullopt, out);
  (void)dbcanary::EvaluateDragonfly(doc, nullptr, target, 1, out);

  double ready = 0;
  double wanted = 0;
  (void)dbcanary::EvaluateOperatorDeployment(doc, target, "cnpg", std::nullopt, out, &ready,
                                             &wanted);
  (void)dbcanary::CrdEstablished(doc);
  (void)dbcanary::CountSliceEndpoints(doc);
  (void)dbcanary::CountCoreEndpoints(doc);

  (void)dbcanary::FindObjectStore(doc, std::nullopt, std::nullopt, "cluster");
  (void)dbcanary::FindObjectStore(doc, std::string("store"), std::string("server"), "cluster");
  dbcanary::BackupInputs inputs;
  inputs.cluster = &doc;
  inputs.backups = &doc;
  inputs.scheduled = &doc;
  inputs.object_store = &doc;
  inputs.server_name = "cluster";
  dbcanary::EvaluateBackups(inputs, target, "cluster", dbcanary::BackupExpect{}, now, out);
  return 0;
}
