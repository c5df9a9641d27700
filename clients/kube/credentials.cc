#include "clients/kube/credentials.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "config/secret.h"
#include "core/base64.h"

namespace dbcanary::kube {
namespace {

bool FileReadable(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

// Registers the token in `path` for redaction as soon as the credentials are loaded: a drill
// command or an error may print it before the first API call reads the file.
void RegisterTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  RegisterSecretValue(token);
}

// Resolves a kubeconfig-relative path the way kubectl does: relative to the file's directory.
std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).string();
}

std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value || !value.IsScalar()) return {};
  return value.Scalar();
}

// Finds `name` in a kubeconfig list of {name, KEY: {...}} and returns the inner map.
YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry.IsMap() && Scalar(entry, "name") == name) return entry[inner];
  }
  return YAML::Node();
}

// Kubeconfig `key`-data into `out`: base64, padding optional, line breaks ignored (as kubectl
// reads it). Absent leaves `out` alone.
Status ReadData(const YAML::Node& node, const char* key, const std::string& where,
                std::string& out) {
  const std::string data = Scalar(node, key);
  if (data.empty()) return Ok{};
  auto decoded = DecodeBase64(data, {Base64Padding::kOptional, /*ignore_whitespace=*/true});
  if (!decoded) return MakeError(ErrorCode::kConfig, where + ": " + key + " is not base64");
  out = std::move(*decoded);
  return Ok{};
}

// The server and trust settings of a kubeconfig cluster entry.
Status ReadCluster(const YAML::Node& cluster, const std::string& base_dir, const std::string& where,
                   Credentials& credentials) {
  credentials.server = Scalar(cluster, "server");
  if (credentials.server.empty())
    return MakeError(ErrorCode::kConfig, where + ": cluster has no server");
  while (!credentials.server.empty() && credentials.server.back() == '/')
    credentials.server.pop_back();
  credentials.ca_file = Resolve(base_dir, Scalar(cluster, "certificate-authority"));
  if (auto read = ReadData(cluster, "certificate-authority-data", where, credentials.ca_data);
      !read) {
    return read.error();
  }
  credentials.insecure_skip_tls_verify = Scalar(cluster, "insecure-skip-tls-verify") == "true";
  return Ok{};
}

// The token or client certificate of a kubeconfig user entry; secrets are registered.
Status ReadUser(const YAML::Node& user, const std::string& base_dir, const std::string& where,
                Credentials& credentials) {
  if (user["exec"] || user["auth-provider"]) {
    return MakeError(ErrorCode::kConfig,
                     where +
                         ": exec and auth-provider credentials are not supported; use a "
                         "token, tokenFile or client certificate");
  }
  credentials.token = Scalar(user, "token");
  if (!credentials.token.empty()) RegisterSecretValue(credentials.token);
  credentials.token_file = Resolve(base_dir, Scalar(user, "tokenFile"));
  credentials.client_cert_file = Resolve(base_dir, Scalar(user, "client-certificate"));
  credentials.client_key_file = Resolve(base_dir, Scalar(user, "client-key"));
  if (auto read = ReadData(user, "client-certificate-data", where, credentials.client_cert_data);
      !read) {
    return read.error();
  }
  if (auto read = ReadData(user, "client-key-data", where, credentials.client_key_data); !read) {
    return read.error();
  }
  if (!credentials.client_key_data.empty()) RegisterSecretValue(credentials.client_key_data);
  return Ok{};
}

}  // namespace

Result<Credentials> InClusterCredentials(const InClusterPaths& paths) {
  const char* host = std::getenv(paths.host_env.c_str());
  const char* port = std::getenv(paths.port_env.c_str());
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return MakeError(ErrorCode::kConfig, "kubernetes in_cluster: " + paths.host_env + " and " +
                                             paths.port_env +
                                             " are not set (not running in a pod?)");
  }
  if (!FileReadable(paths.token_file)) {
    return MakeError(
        ErrorCode::kConfig,
        "kubernetes in_cluster: cannot read the service-account token file " + paths.token_file);
  }
  Credentials credentials;
  std::string host_part = host;
  if (host_part.find(':') != std::string::npos) host_part = "[" + host_part + "]";  // IPv6
  credentials.server = "https://" + host_part + ":" + port;
  credentials.token_file = paths.token_file;
  RegisterTokenFile(paths.token_file);
  credentials.ca_file = paths.ca_file;
  credentials.source = "in-cluster service account";
  return credentials;
}

Result<Credentials> KubeconfigCredentials(const std::string& path, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kConfig, "kubeconfig " + path + ": " + error.msg);
  }
  if (!root.IsMap()) return MakeError(ErrorCode::kConfig, "kubeconfig " + path + ": not a mapping");
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  std::string context_name = context.empty() ? Scalar(root, "current-context") : context;
  if (context_name.empty()) {
    return MakeError(ErrorCode::kConfig,
                     "kubeconfig " + path + ": no context given and no current-context set");
  }
  const std::string where = "kubeconfig " + path + " (context " + context_name + ")";
  YAML::Node ctx = FindNamed(root["contexts"], context_name, "context");
  if (!ctx || !ctx.IsMap()) return MakeError(ErrorCode::kConfig, where + ": no such context");
  const std::string cluster_name = Scalar(ctx, "cluster");
  const std::string user_name = Scalar(ctx, "user");
  YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) {
    return MakeError(ErrorCode::kConfig, where + ": no cluster named \"" + cluster_name + "\"");
  }
  Credentials credentials;
  credentials.source = where;
  if (auto read = ReadCluster(cluster, base_dir, where, credentials); !read) return read.error();
  if (!user_name.empty()) {
    YAML::Node user = FindNamed(root["users"], user_name, "user");
    if (!user)
      return MakeError(ErrorCode::kConfig, where + ": no user named \"" + user_name + "\"");
    if (user.IsMap()) {
      if (auto read = ReadUser(user, base_dir, where, credentials); !read) return read.error();
    }
  }
  return credentials;
}

}  // namespace dbcanary::kube
