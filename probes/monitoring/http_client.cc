#include "probes/monitoring/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "exporter/config/secret.h"

namespace dbcanary::monitoring {
namespace {

// base64("user:password"), as curl sends it in "Authorization: Basic ...".
std::string BasicCredentials(const std::string& user, const std::string& password) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = user + ":" + password;
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t bits = 0;
    for (size_t j = 0; j < 3; ++j) {
      bits = (bits << 8) | (j < n ? static_cast<unsigned char>(in[i + j]) : 0u);
    }
    for (size_t j = 0; j < 4; ++j) {
      out += j <= n ? kTable[(bits >> (18 - 6 * j)) & 63] : '=';
    }
  }
  return out;
}

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

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(const std::string& text) {
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

// The token in `path` without trailing whitespace; empty when unreadable or empty.
std::string ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

}  // namespace

std::string EncodeForm(const FormFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(key) + "=" + PercentEncode(value);
  }
  return out;
}

Result<HttpAnswer> PostForm(const HttpEndpoint& endpoint, const std::string& path,
                            const FormFields& form, const Deadline& deadline, size_t max_body) {
  GlobalInit();
  const std::string url = endpoint.url + path;
  const std::string where = "POST " + url + ": ";
  const auto budget = std::min(deadline.Remaining(), endpoint.timeout);
  if (budget <= std::chrono::milliseconds(0)) {
    return MakeError(ErrorCode::kTimeout, where + "no time left before the deadline");
  }
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return MakeError(ErrorCode::kInternal, where + "curl_easy_init failed");
  CURL* c = curl.get();

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  add_header("Content-Type: application/x-www-form-urlencoded");
  std::string auth_header;
  if (!endpoint.bearer_token_file.empty()) {
    std::string token = ReadToken(endpoint.bearer_token_file);
    if (token.empty()) {
      return MakeError(ErrorCode::kAuth,
                       where + "cannot read the bearer token file " + endpoint.bearer_token_file);
    }
    RegisterSecretValue(token);  // a rotated token is as secret as the first one
    auth_header = "Authorization: Bearer " + token;
    add_header(auth_header);
  }

  const std::string body = EncodeForm(form);
  Sink sink;
  sink.max_body = max_body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
  if (!endpoint.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, endpoint.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, endpoint.password.Reveal().c_str());
    // The Authorization header carries base64("user:password"): a server that echoes the
    // request into an error body (quoted in our error message) must not leak it in that form.
    RegisterSecretValue(BasicCredentials(endpoint.username, endpoint.password.Reveal()));
  }
  if (!endpoint.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, endpoint.ca_file.c_str());

  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    const std::string detail = curl_easy_strerror(code);
    if (sink.too_large) {
      return MakeError(ErrorCode::kProtocol,
                       where + "answer larger than " + std::to_string(max_body) + " bytes");
    }
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return MakeError(ErrorCode::kTimeout, where + "no complete answer within " +
                                                  std::to_string(budget.count()) + "ms");
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_BAD_CONTENT_ENCODING:
        return MakeError(ErrorCode::kProtocol,
                         where + "truncated or malformed answer (" + detail + ")");
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
        return MakeError(ErrorCode::kTls, where + "TLS failed (" + detail + ")");
      default:
        return MakeError(ErrorCode::kConnect, where + detail);
    }
  }
  HttpAnswer answer;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
  if (answer.status == 401 || answer.status == 403) {
    return MakeError(ErrorCode::kAuth,
                     where + "HTTP " + std::to_string(answer.status) +
                         (answer.status == 401 ? ": credentials missing or refused"
                                               : ": forbidden for these credentials"));
  }
  answer.body = std::move(sink.body);
  return answer;
}

}  // namespace dbcanary::monitoring
