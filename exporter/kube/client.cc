#include "exporter/kube/client.h"

#include <curl/curl.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string_view>

namespace dbcanary::kube {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Sink {
  std::string body;
  bool too_large = false;
};

size_t Write(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * count;
  if (sink->body.size() + bytes > Client::kMaxBodyBytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, bytes);
  return bytes;
}

std::string Escape(CURL* curl, const std::string& text) {
  char* escaped = curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

std::string ReadToken(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) ok = false;
  return token;
}

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
    : credentials_(std::move(credentials)), call_timeout_(call_timeout) {
  GlobalInit();
}

Result<nlohmann::json> Client::Get(const Resource& resource, const std::string& name,
                                   const Deadline& deadline) const {
  return Call("GET", "get", resource, name, "", nullptr, deadline);
}

Result<nlohmann::json> Client::List(const Resource& resource, const std::string& label_selector,
                                    const Deadline& deadline) const {
  return Call("GET", "list", resource, "", label_selector, nullptr, deadline);
}

Result<nlohmann::json> Client::Create(const Resource& resource, const nlohmann::json& object,
                                      const Deadline& deadline) const {
  std::string body = object.dump();
  return Call("POST", "create", resource, "", "", &body, deadline);
}

Status Client::Delete(const Resource& resource, const std::string& name,
                      const Deadline& deadline) const {
  auto result = Call("DELETE", "delete", resource, name, "", nullptr, deadline);
  if (!result) return result.error();
  return Ok{};
}

Result<nlohmann::json> Client::Call(const char* method, const std::string& verb,
                                    const Resource& resource, const std::string& name,
                                    const std::string& selector, const std::string* body,
                                    const Deadline& deadline) const {
  const std::string what =
      verb + " " + (name.empty() ? resource.QualifiedName() : Describe(resource, name));
  const std::string where = "kubernetes API " + credentials_.server + ": ";
  auto budget = std::min(deadline.Remaining(), call_timeout_);
  if (budget <= std::chrono::milliseconds(0)) {
    return MakeError(ErrorCode::kTimeout, where + what + ": no time left before the deadline");
  }
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return MakeError(ErrorCode::kInternal, where + "curl_easy_init failed");
  CURL* c = curl.get();

  std::string url = credentials_.server;
  url += resource.group.empty() ? "/api/" + resource.version
                                : "/apis/" + resource.group + "/" + resource.version;
  if (!resource.namespace_.empty()) url += "/namespaces/" + Escape(c, resource.namespace_);
  url += "/" + resource.plural;
  if (!name.empty()) url += "/" + Escape(c, name);
  if (!selector.empty()) url += "?labelSelector=" + Escape(c, selector);

  std::string token = credentials_.token;
  if (!credentials_.token_file.empty()) {
    bool ok = false;
    token = ReadToken(credentials_.token_file, ok);  // re-read: rotated tokens just work
    if (!ok) {
      return MakeError(ErrorCode::kAuth,
                       where + "cannot read the bearer token file " + credentials_.token_file);
    }
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  add_header("Accept: application/json");
  if (body != nullptr) add_header("Content-Type: application/json");
  std::string auth_header;
  if (!token.empty()) {
    auth_header = "Authorization: Bearer " + token;
    add_header(auth_header);
  }

  Sink sink;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_blob ca_blob{}, cert_blob{}, key_blob{};
  if (!credentials_.ca_data.empty()) {
    ca_blob = {const_cast<char*>(credentials_.ca_data.data()), credentials_.ca_data.size(),
               CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca_blob);
  } else if (!credentials_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, credentials_.ca_file.c_str());
  }
  if (!credentials_.client_cert_data.empty()) {
    cert_blob = {const_cast<char*>(credentials_.client_cert_data.data()),
                 credentials_.client_cert_data.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert_blob);
  } else if (!credentials_.client_cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, credentials_.client_cert_file.c_str());
  }
  if (!credentials_.client_key_data.empty()) {
    key_blob = {const_cast<char*>(credentials_.client_key_data.data()),
                credentials_.client_key_data.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key_blob);
  } else if (!credentials_.client_key_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLKEY, credentials_.client_key_file.c_str());
  }
  if (credentials_.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    std::string detail = curl_easy_strerror(code);
    if (sink.too_large) {
      return MakeError(ErrorCode::kProtocol, where + what + ": response larger than " +
                                                 std::to_string(kMaxBodyBytes) + " bytes");
    }
    // A TLS alert from the server after the handshake (TLS 1.3 reports a refused or missing
    // client certificate this way) surfaces as a receive/send error: it is a TLS failure,
    // not a truncated answer. libcurl's error text names the alert and holds no secret.
    if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) &&
        std::string_view(error_buffer).find(" alert ") != std::string_view::npos) {
      return MakeError(ErrorCode::kTls,
                       where + what + ": TLS failed (" + std::string(error_buffer) + ")");
    }
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return MakeError(ErrorCode::kTimeout, where + what + ": no complete answer within " +
                                                  std::to_string(budget.count()) + "ms");
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_WEIRD_SERVER_REPLY:
        return MakeError(ErrorCode::kProtocol,
                         where + what + ": truncated or malformed answer (" + detail + ")");
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CLIENTCERT:
        // libcurl's error buffer says why ("unable to get local issuer certificate").
        return MakeError(ErrorCode::kTls,
                         where + what + ": TLS failed (" +
                             (error_buffer[0] != '\0' ? std::string(error_buffer) : detail) + ")");
      default:
        return MakeError(ErrorCode::kConnect, where + what + ": " + detail);
    }
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const std::string server_message = ServerMessage(sink.body);
  const std::string suffix = server_message.empty() ? "" : " (server: " + server_message + ")";
  if (status == 401) {
    return MakeError(ErrorCode::kAuth, where + what +
                                           ": unauthorized (401): the bearer token or "
                                           "client certificate is invalid or expired" +
                                           suffix);
  }
  if (status == 403) {
    return MakeError(ErrorCode::kAuth,
                     where + "forbidden: cannot " + verb + " " + resource.QualifiedName() +
                         (name.empty() ? "" : " " + name) + " " + ScopeText(resource) +
                         ": grant verb \"" + verb + "\" on resource \"" + resource.plural +
                         "\" (group " + (resource.group.empty() ? "\"\" (core)" : resource.group) +
                         ")");
  }
  if (status == 404) {
    return MakeError(ErrorCode::kQuery, where + what + ": not found (404)" + suffix);
  }
  if (status < 200 || status >= 300) {
    return MakeError(ErrorCode::kQuery, where + what + ": HTTP " + std::to_string(status) + suffix);
  }
  auto parsed = nlohmann::json::parse(sink.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return MakeError(ErrorCode::kProtocol, where + what + ": the answer is not a JSON object (" +
                                               std::to_string(sink.body.size()) +
                                               " bytes, truncated or malformed)");
  }
  if (verb == "list" && !(parsed.contains("items") && parsed["items"].is_array())) {
    return MakeError(ErrorCode::kProtocol, where + what + ": list answer has no items array");
  }
  return parsed;
}

}  // namespace dbcanary::kube
