#include "clients/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "config/secret.h"
#include "core/base64.h"

namespace dbcanary::http {
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
  size_t max_body = 0;
  bool too_large = false;
};

size_t Write(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * count;
  if (sink->body.size() + bytes > sink->max_body) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, bytes);
  return bytes;
}

// What libcurl holds pointers to until curl_easy_perform returns.
struct Transfer {
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  Sink sink;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_blob ca_blob{};
  curl_blob cert_blob{};
  curl_blob key_blob{};

  void AddHeader(const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  }
};

Error Problem(const Request& request, ErrorCode code, const std::string& what,
              ErrorCause cause = {}) {
  return MakeError(code, request.label + ": " + what, std::move(cause));
}

// The token in `path` without trailing whitespace; nullopt when unreadable or empty.
std::optional<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) return std::nullopt;
  return token;
}

// The request's own headers, then the bearer token or basic auth.
std::optional<Error> SetHeadersAndAuth(const Request& request, Transfer& transfer) {
  for (const auto& header : request.headers) transfer.AddHeader(header);
  std::string token = request.bearer_token;
  if (!request.bearer_token_file.empty()) {
    auto read = ReadToken(request.bearer_token_file);  // re-read: rotated tokens just work
    if (!read) {
      return Problem(request, ErrorCode::kAuth,
                     "cannot read the bearer token file " + request.bearer_token_file);
    }
    token = std::move(*read);
    RegisterSecretValue(token);  // a rotated token is as secret as the first one
  }
  if (!token.empty()) transfer.AddHeader("Authorization: Bearer " + token);
  CURL* c = transfer.curl.get();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, transfer.headers.get());
  if (!request.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, request.password.c_str());
    // The Authorization header carries base64("user:password"): a server that echoes the
    // request into an error body (quoted in an error message) must not leak it in that form.
    RegisterSecretValue(EncodeBase64(request.username + ":" + request.password));
  }
  return std::nullopt;
}

// URL, method, body, answer collection and time limits.
void SetTransfer(const Request& request, Transfer& transfer, std::chrono::milliseconds budget) {
  CURL* c = transfer.curl.get();
  transfer.sink.max_body = request.max_body;
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, transfer.error_buffer);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body->size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer.sink);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (request.accept_compressed) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
}

// PEM `data` (kept by the caller until the transfer ends) or else the file `path`.
void SetPem(CURL* c, const std::string& data, curl_blob& blob, CURLoption blob_option,
            const std::string& path, CURLoption path_option) {
  if (!data.empty()) {
    blob = {const_cast<char*>(data.data()), data.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, blob_option, &blob);
  } else if (!path.empty()) {
    curl_easy_setopt(c, path_option, path.c_str());
  }
}

void SetTls(const TlsOptions& tls, Transfer& transfer) {
  CURL* c = transfer.curl.get();
  SetPem(c, tls.ca_data, transfer.ca_blob, CURLOPT_CAINFO_BLOB, tls.ca_file, CURLOPT_CAINFO);
  SetPem(c, tls.client_cert_data, transfer.cert_blob, CURLOPT_SSLCERT_BLOB, tls.client_cert_file,
         CURLOPT_SSLCERT);
  SetPem(c, tls.client_key_data, transfer.key_blob, CURLOPT_SSLKEY_BLOB, tls.client_key_file,
         CURLOPT_SSLKEY);
  if (tls.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

// The error for a transfer that ended without a complete answer.
Error TransportError(const Request& request, const Transfer& transfer, CURLcode code,
                     std::chrono::milliseconds budget) {
  const std::string detail = curl_easy_strerror(code);
  const std::string buffer = transfer.error_buffer;  // libcurl's detail; never a secret
  if (transfer.sink.too_large) {
    return Problem(request, ErrorCode::kProtocol,
                   "answer larger than " + std::to_string(request.max_body) + " bytes");
  }
  // A TLS alert from the server after the handshake (TLS 1.3 reports a refused or missing
  // client certificate this way) surfaces as a receive/send error: it is a TLS failure,
  // not a truncated answer.
  if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) &&
      buffer.find(" alert ") != std::string::npos) {
    return Problem(request, ErrorCode::kTls, "TLS failed (" + buffer + ")");
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Problem(request, ErrorCode::kTimeout,
                     "no complete answer within " + std::to_string(budget.count()) + "ms");
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return Problem(request, ErrorCode::kProtocol,
                     "truncated or malformed answer (" + detail + ")");
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CLIENTCERT:
      // The error buffer says why ("unable to get local issuer certificate").
      return Problem(request, ErrorCode::kTls,
                     "TLS failed (" + (buffer.empty() ? detail : buffer) + ")");
    default: {
      long os_errno = 0;
      curl_easy_getinfo(transfer.curl.get(), CURLINFO_OS_ERRNO, &os_errno);
      ErrorCause cause;
      cause.system_errno = static_cast<int>(os_errno);
      return Problem(request, ErrorCode::kConnect, detail, std::move(cause));
    }
  }
}

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

Result<Response> Perform(const Request& request, const Deadline& deadline) {
  GlobalInit();
  const auto budget = std::min(deadline.Remaining(), request.timeout);
  if (budget <= std::chrono::milliseconds(0)) {
    return Problem(request, ErrorCode::kTimeout, "no time left before the deadline");
  }
  Transfer transfer;
  transfer.curl.reset(curl_easy_init());
  if (!transfer.curl) return Problem(request, ErrorCode::kInternal, "curl_easy_init failed");
  if (auto error = SetHeadersAndAuth(request, transfer)) return *error;
  SetTransfer(request, transfer, budget);
  SetTls(request.tls, transfer);

  const CURLcode code = curl_easy_perform(transfer.curl.get());
  if (code != CURLE_OK) return TransportError(request, transfer, code, budget);
  Response response;
  curl_easy_getinfo(transfer.curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(transfer.sink.body);
  return response;
}

Error StatusError(ErrorCode code, long status, std::string message) {
  ErrorCause cause;
  cause.http_status = static_cast<int>(status);
  return MakeError(code, std::move(message), std::move(cause));
}

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (Unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string EncodeForm(const FormFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(key) + "=" + PercentEncode(value);
  }
  return out;
}

namespace {

// One request to `endpoint` with its credentials, CA file and timeout; 401/403 become kAuth.
Result<Response> EndpointCall(const HttpEndpoint& endpoint, Request request,
                              const Deadline& deadline) {
  request.label = request.method + " " + request.url;
  request.bearer_token_file = endpoint.bearer_token_file;
  request.username = endpoint.username;
  request.password = endpoint.password.Reveal();
  request.tls.ca_file = endpoint.ca_file;
  request.timeout = endpoint.timeout;
  request.accept_compressed = true;  // gzip when the server offers it
  auto response = Perform(request, deadline);
  if (!response) return response;
  if (response->status == 401 || response->status == 403) {
    return StatusError(ErrorCode::kAuth, response->status,
                       request.label + ": HTTP " + std::to_string(response->status) +
                           (response->status == 401 ? ": credentials missing or refused"
                                                    : ": forbidden for these credentials"));
  }
  return response;
}

}  // namespace

Result<Response> PostForm(const HttpEndpoint& endpoint, const std::string& path,
                          const FormFields& form, const Deadline& deadline, size_t max_body) {
  Request request;
  request.method = "POST";
  request.url = endpoint.url + path;
  request.headers = {"Content-Type: application/x-www-form-urlencoded"};
  request.body = EncodeForm(form);
  request.max_body = max_body;
  return EndpointCall(endpoint, std::move(request), deadline);
}

Result<Response> GetPath(const HttpEndpoint& endpoint, const std::string& path,
                         const Deadline& deadline, size_t max_body) {
  Request request;
  request.url = endpoint.url + path;
  request.max_body = max_body;
  return EndpointCall(endpoint, std::move(request), deadline);
}

}  // namespace dbcanary::http
