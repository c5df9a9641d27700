#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "exporter/config/config.h"
#include "exporter/core/deadline.h"
#include "exporter/core/result.h"

namespace dbcanary::monitoring {

struct HttpAnswer {
  long status = 0;  // HTTP status code
  std::string body;
};

using FormFields = std::vector<std::pair<std::string, std::string>>;

// POSTs `form` (application/x-www-form-urlencoded) to endpoint.url + path, with the endpoint's
// bearer token or basic auth and CA file, bounded by the smaller of `deadline` and
// endpoint.timeout. Any HTTP status but 401/403 is returned for the caller to interpret.
// Errors (bounded codes; messages name the URL, never a credential):
//   kTimeout  no complete answer in time      kConnect  DNS / TCP failures
//   kTls      certificate or handshake failed kAuth     401, 403, unreadable token file
//   kProtocol truncated, malformed or larger than `max_body` bytes
Result<HttpAnswer> PostForm(const HttpEndpoint& endpoint, const std::string& path,
                            const FormFields& form, const Deadline& deadline, size_t max_body);

// The form body for `fields`: "k=v&k2=v2" with percent-encoding.
std::string EncodeForm(const FormFields& fields);

}  // namespace dbcanary::monitoring
