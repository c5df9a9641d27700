#include "clients/kube/client.h"

#include <utility>

#include "clients/http/http_client.h"

namespace dbcanary::kube {
namespace {

// What one call is about, for its error messages.
struct CallInfo {
  const std::string& verb;  // "get", "list", "create", "delete" (the RBAC verb)
  const Resource& resource;
  const std::string& name;  // empty for list and create
  std::string where;        // "kubernetes API https://10.0.0.1:6443: "
  std::string what;         // "get backups.postgresql.cnpg.io db/b1"
};

std::string ScopeText(const Resource& resource) {
  return resource.namespace_.empty() ? std::string("cluster-wide")
                                     : "in namespace " + resource.namespace_;
}

// The Status message the server sent, shortened; it never contains request credentials.
std::string ServerMessage(const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    std::string message = parsed["message"].get<std::string>();
    if (message.size() > 300) message.resize(300);
    return message;
  }
  return {};
}

// /api/VERSION or /apis/GROUP/VERSION, then [/namespaces/NS]/PLURAL[/NAME][?QUERY].
std::string Url(const std::string& server, const Resource& resource, const std::string& name,
                const std::string& query) {
  std::string url = server;
  url += resource.group.empty() ? "/api/" + resource.version
                                : "/apis/" + resource.group + "/" + resource.version;
  if (!resource.namespace_.empty()) {
    url += "/namespaces/" + http::PercentEncode(resource.namespace_);
  }
  url += "/" + resource.plural;
  if (!name.empty()) url += "/" + http::PercentEncode(name);
  if (!query.empty()) url += "?" + query;
  return url;
}

// The JSON request with the credentials' token (the file re-read each time) and TLS material.
http::Request MakeRequest(const Credentials& credentials, const CallInfo& call, const char* method,
                          std::optional<std::string> body) {
  http::Request request;
  request.method = method;
  request.label = call.where + call.what;
  request.headers.push_back("Accept: application/json");
  if (body) request.headers.push_back("Content-Type: application/json");
  request.body = std::move(body);
  request.bearer_token = credentials.token;
  request.bearer_token_file = credentials.token_file;
  request.tls.ca_file = credentials.ca_file;
  request.tls.ca_data = credentials.ca_data;
  request.tls.client_cert_file = credentials.client_cert_file;
  request.tls.client_cert_data = credentials.client_cert_data;
  request.tls.client_key_file = credentials.client_key_file;
  request.tls.client_key_data = credentials.client_key_data;
  request.tls.insecure = credentials.insecure_skip_tls_verify;
  request.max_body = Client::kMaxBodyBytes;
  return request;
}

// The error for an answer that is not a success (status outside 2xx).
Error StatusProblem(const CallInfo& call, long status, const std::string& body) {
  const std::string server_message = ServerMessage(body);
  const std::string suffix = server_message.empty() ? "" : " (server: " + server_message + ")";
  if (status == 401) {
    return http::StatusError(ErrorCode::kAuth, status,
                             call.where + call.what +
                                 ": unauthorized (401): the bearer token or client certificate "
                                 "is invalid or expired" +
                                 suffix);
  }
  if (status == 403) {
    const Resource& resource = call.resource;
    return http::StatusError(
        ErrorCode::kAuth, status,
        call.where + "forbidden: cannot " + call.verb + " " + resource.QualifiedName() +
            (call.name.empty() ? "" : " " + call.name) + " " + ScopeText(resource) +
            ": grant verb \"" + call.verb + "\" on resource \"" + resource.plural + "\" (group " +
            (resource.group.empty() ? "\"\" (core)" : resource.group) + ")");
  }
  if (status == 404) {
    return http::StatusError(ErrorCode::kQuery, status,
                             call.where + call.what + ": not found (404)" + suffix);
  }
  return http::StatusError(ErrorCode::kQuery, status,
                           call.where + call.what + ": HTTP " + std::to_string(status) + suffix);
}

// The JSON object of a successful answer (with an items array for a list).
Result<nlohmann::json> ParseAnswer(const CallInfo& call, const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return MakeError(ErrorCode::kProtocol,
                     call.where + call.what + ": the answer is not a JSON object (" +
                         std::to_string(body.size()) + " bytes, truncated or malformed)");
  }
  if (call.verb == "list" && !(parsed.contains("items") && parsed["items"].is_array())) {
    return MakeError(ErrorCode::kProtocol,
                     call.where + call.what + ": list answer has no items array");
  }
  return parsed;
}

}  // namespace

std::string Resource::QualifiedName() const {
  return group.empty() ? plural : plural + "." + group;
}

std::string Describe(const Resource& resource, const std::string& name) {
  std::string out = resource.QualifiedName() + " ";
  if (!resource.namespace_.empty()) out += resource.namespace_ + "/";
  return out + name;
}

Client::Client(Credentials credentials, std::chrono::milliseconds call_timeout)
    : credentials_(std::move(credentials)), call_timeout_(call_timeout) {}

Result<nlohmann::json> Client::Get(const Resource& resource, const std::string& name,
                                   const Deadline& deadline) const {
  return Call("GET", "get", resource, name, "", std::nullopt, deadline);
}

Result<nlohmann::json> Client::List(const Resource& resource, const std::string& label_selector,
                                    const Deadline& deadline) const {
  const std::string query =
      label_selector.empty() ? "" : "labelSelector=" + http::PercentEncode(label_selector);
  return Call("GET", "list", resource, "", query, std::nullopt, deadline);
}

Result<nlohmann::json> Client::Create(const Resource& resource, const nlohmann::json& object,
                                      const Deadline& deadline) const {
  return Call("POST", "create", resource, "", "", object.dump(), deadline);
}

Result<nlohmann::json> Client::DryRunCreate(const Resource& resource, const nlohmann::json& object,
                                            const Deadline& deadline) const {
  return Call("POST", "create", resource, "", "dryRun=All", object.dump(), deadline);
}

Status Client::Delete(const Resource& resource, const std::string& name,
                      const Deadline& deadline) const {
  auto result = Call("DELETE", "delete", resource, name, "", std::nullopt, deadline);
  if (!result) return result.error();
  return Ok{};
}

Result<nlohmann::json> Client::Call(const char* method, const std::string& verb,
                                    const Resource& resource, const std::string& name,
                                    const std::string& query, std::optional<std::string> body,
                                    const Deadline& deadline) const {
  const CallInfo call{
      verb, resource, name, "kubernetes API " + credentials_.server + ": ",
      verb + " " + (name.empty() ? resource.QualifiedName() : Describe(resource, name))};
  http::Request request = MakeRequest(credentials_, call, method, std::move(body));
  request.url = Url(credentials_.server, resource, name, query);
  request.timeout = call_timeout_;
  auto response = http::Perform(request, deadline);
  if (!response) return response.error();
  if (response->status < 200 || response->status >= 300) {
    return StatusProblem(call, response->status, response->body);
  }
  return ParseAnswer(call, response->body);
}

}  // namespace dbcanary::kube
