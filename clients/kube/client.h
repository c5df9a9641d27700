#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "clients/kube/credentials.h"
#include "core/deadline.h"
#include "core/result.h"

namespace dbcanary::kube {

// A resource collection: group "" is the core API (/api/v1), otherwise /apis/GROUP/VERSION.
// An empty namespace_ means cluster-scoped.
struct Resource {
  std::string group;
  std::string version;
  std::string plural;  // "backups", "deployments", "customresourcedefinitions"
  std::string namespace_;

  // "backups.postgresql.cnpg.io" (core resources: just the plural).
  std::string QualifiedName() const;
};

// Read-mostly JSON client for the kube-apiserver, over clients/http. Every call is bounded by
// the smaller of the deadline and the configured per-call timeout. Errors (bounded codes; an
// HTTP answer that is not a success also sets cause.http_status):
//   kAuth     401 (token invalid or expired) and 403 (the message names the missing verb and
//             resource so the RBAC fix is obvious)
//   kQuery    404 and other 4xx, 5xx
//   kTimeout  the deadline or call timeout passed
//   kConnect  DNS / TCP failures; kTls certificate problems
//   kProtocol a body that is not the JSON object expected (also a truncated body)
// Messages name the API server and resource; never a token.
class Client {
 public:
  Client(Credentials credentials, std::chrono::milliseconds call_timeout);

  Result<nlohmann::json> Get(const Resource& resource, const std::string& name,
                             const Deadline& deadline) const;
  // `label_selector` like "cnpg.io/cluster=pgmain"; empty lists everything.
  Result<nlohmann::json> List(const Resource& resource, const std::string& label_selector,
                              const Deadline& deadline) const;
  Result<nlohmann::json> Create(const Resource& resource, const nlohmann::json& object,
                                const Deadline& deadline) const;
  // POST with dryRun=All: validated, defaulted and sent through the admission webhooks, never
  // persisted. Answers the object as it would have been stored.
  Result<nlohmann::json> DryRunCreate(const Resource& resource, const nlohmann::json& object,
                                      const Deadline& deadline) const;
  Status Delete(const Resource& resource, const std::string& name, const Deadline& deadline) const;

  const std::string& server() const { return credentials_.server; }

  // Largest response body accepted; larger is kProtocol.
  static constexpr size_t kMaxBodyBytes = size_t{32} * 1024 * 1024;

 private:
  // One API call, in named steps: Url, MakeRequest, http::Perform, then StatusProblem for an
  // answer that is not a success, else ParseAnswer.
  Result<nlohmann::json> Call(const char* method, const std::string& verb, const Resource& resource,
                              const std::string& name, const std::string& query,
                              std::optional<std::string> body, const Deadline& deadline) const;

  Credentials credentials_;
  std::chrono::milliseconds call_timeout_;
};

// "KIND NAMESPACE/NAME" style description used in probe errors.
std::string Describe(const Resource& resource, const std::string& name);

}  // namespace dbcanary::kube
