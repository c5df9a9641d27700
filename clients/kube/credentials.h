#pragma once

#include <string>

#include "core/result.h"

namespace dbcanary::kube {

// How to reach and authenticate to one kube-apiserver. PEM material is either a file path
// (read by libcurl on every request) or inline data (kubeconfig *-data, base64-decoded here).
// Tokens are never stored in messages; token_file is re-read on every request so a rotated
// projected service-account token is picked up without a restart.
struct Credentials {
  std::string server;  // "https://host:port" (http:// only for tests against a fake)
  std::string token;   // static bearer token (kubeconfig user.token); registered as a secret
  std::string token_file;
  std::string ca_file;
  std::string ca_data;
  std::string client_cert_file;
  std::string client_cert_data;
  std::string client_key_file;
  std::string client_key_data;  // registered as a secret
  bool insecure_skip_tls_verify = false;
  std::string source;  // "in-cluster service account" or "kubeconfig PATH (context NAME)"
};

// Where the in-cluster service account lives; overridable for tests.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string host_env = "KUBERNETES_SERVICE_HOST";
  std::string port_env = "KUBERNETES_SERVICE_PORT";
};

// In-cluster: the API server from KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA.
// Fails with kConfig when the environment variables or the token file are missing.
Result<Credentials> InClusterCredentials(const InClusterPaths& paths = {});

// Outside the cluster: reads a kubeconfig (`context` empty = current-context). Supports
// token / tokenFile, client-certificate(-data) / client-key(-data),
// certificate-authority(-data), insecure-skip-tls-verify. Exec and auth-provider plugins are
// refused with kConfig: a resident exporter should use a service-account token.
Result<Credentials> KubeconfigCredentials(const std::string& path, const std::string& context);

}  // namespace dbcanary::kube
