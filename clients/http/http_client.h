#pragma once

// The one libcurl wrapper: every HTTP request of dbcanary (the monitoring_pipeline probe's
// query APIs, the Kubernetes API client) goes through Perform().

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/deadline.h"
#include "core/result.h"

namespace dbcanary::http {

// TLS trust and identity of a request. PEM material is a file (read by libcurl on every
// request) or inline data; inline data wins over the file. All empty: the system trust store.
struct TlsOptions {
  std::string ca_file;
  std::string ca_data;
  std::string client_cert_file;
  std::string client_cert_data;
  std::string client_key_file;
  std::string client_key_data;
  bool insecure = false;  // no verification of the server's certificate or host name
};

struct Request {
  std::string method = "GET";
  std::string url;  // http:// or https:// only; redirects are not followed
  // How error messages name the request, e.g. "POST http://vm:8428/api/v1/query"; never a
  // credential. Messages are "<label>: <what went wrong>".
  std::string label;
  std::vector<std::string> headers;  // "Name: value"
  std::string bearer_token;          // "Authorization: Bearer ..." when set
  std::string bearer_token_file;     // re-read on every request (rotated tokens); wins
  std::string username;              // basic auth when set
  std::string password;
  std::optional<std::string> body;  // sent as is (set the Content-Type header)
  TlsOptions tls;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // cap, with the deadline
  size_t max_body = size_t{16} * 1024 * 1024;                   // a larger answer is kProtocol
  bool accept_compressed = false;  // offer every encoding libcurl decodes (gzip, ...)
};

struct Response {
  long status = 0;  // HTTP status code
  std::string body;
};

// Sends `request`, bounded by the smaller of `deadline` and request.timeout. Any HTTP answer,
// whatever its status, is a Response: the caller judges the status (see StatusError). Errors
// are for no (complete) answer; messages start with the label and never hold a credential:
//   kTimeout  no time left, or no complete answer in time
//   kConnect  DNS / TCP failures (cause.system_errno when the system said why)
//   kTls      certificate or handshake failed, or a TLS alert from the server
//   kAuth     the bearer token file is unreadable or empty
//   kProtocol truncated, malformed, or larger than request.max_body
//   kInternal libcurl could not start
// A bearer token read from a file and the basic-auth "user:password" in base64 are registered
// as secrets, so an echo of the request in a logged body is redacted.
Result<Response> Perform(const Request& request, const Deadline& deadline);

// An error about an HTTP answer that was not a success: cause.http_status = status.
Error StatusError(ErrorCode code, long status, std::string message);

using FormFields = std::vector<std::pair<std::string, std::string>>;

// POSTs `form` (application/x-www-form-urlencoded) to endpoint.url + path, with the endpoint's
// bearer token or basic auth and CA file, bounded by the smaller of `deadline` and
// endpoint.timeout. Any HTTP status but 401/403 is returned for the caller to interpret.
// Errors are Perform's, labelled "POST <url>", and kAuth (cause.http_status set) for 401, 403.
Result<Response> PostForm(const HttpEndpoint& endpoint, const std::string& path,
                          const FormFields& form, const Deadline& deadline, size_t max_body);

// GETs endpoint.url + path (`path` may carry a query string), as PostForm does otherwise.
Result<Response> GetPath(const HttpEndpoint& endpoint, const std::string& path,
                         const Deadline& deadline, size_t max_body);

// The form body for `fields`: "k=v&k2=v2" with percent-encoding.
std::string EncodeForm(const FormFields& fields);

// Percent-encodes every byte but the unreserved A-Z a-z 0-9 - . _ ~ (RFC 3986), for a path
// segment or a query value.
std::string PercentEncode(std::string_view text);

}  // namespace dbcanary::http
