#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "clients/kube/client.h"
#include "config/config.h"
#include "core/result.h"

namespace dbcanary::kube {

// Resources the k8s_* probes read.
inline Resource CnpgResource(std::string plural, std::string ns) {
  return Resource{"postgresql.cnpg.io", "v1", std::move(plural), std::move(ns)};
}

// Builds a client from the `kubernetes:` section: in-cluster or kubeconfig credentials, then
// the api_server override. Done per run, so a pod restart is not needed after the kubeconfig
// or token changes, and `check-config` works outside a cluster.
Result<Client> MakeClient(const KubernetesSettings& settings, const InClusterPaths& paths = {});

// Wall-clock now in Unix seconds.
double NowSeconds();

// JSON accessors that never throw: a missing or mistyped field is nullopt.
const nlohmann::json* Field(const nlohmann::json& object, std::initializer_list<const char*> path);
std::optional<std::string> Text(const nlohmann::json& object,
                                std::initializer_list<const char*> path);
std::optional<double> Number(const nlohmann::json& object, std::initializer_list<const char*> path);
std::optional<bool> Flag(const nlohmann::json& object, std::initializer_list<const char*> path);
// An RFC 3339 timestamp field, in Unix seconds.
std::optional<double> Timestamp(const nlohmann::json& object,
                                std::initializer_list<const char*> path);
// A resource.Quantity string ("10Gi", "500M", "1.5Ti", "2e9", "100m") as a number of base
// units; nullopt when malformed.
std::optional<double> ParseQuantity(std::string_view text);

// The metav1.Condition of `type`: 1 when status "True", 0 otherwise; nullopt when absent.
std::optional<double> ConditionTrue(const nlohmann::json& object, std::string_view type);
// The containerPort of the port named `name` in any container of a Pod (spec.containers[].ports[]);
// nullopt when no container declares it.
std::optional<int> NamedContainerPort(const nlohmann::json& pod, std::string_view name);

}  // namespace dbcanary::kube
