#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace dbcanary::monitoring {

// One series of an instant-query answer: its newest point.
struct PromSeries {
  double value = 0;      // NaN for "NaN" (and for string results)
  double timestamp = 0;  // Unix seconds of the point (evaluation time for an instant vector,
                         // raw-sample time for a range selector like metric[5m])
};

// A parsed /api/v1/query answer. "scalar" and "string" answers count as one series.
struct PromAnswer {
  std::string result_type;  // vector | matrix | scalar | string
  std::vector<PromSeries> series;
};

// Parses the answer of a Prometheus-compatible /api/v1/query (Prometheus, VictoriaMetrics,
// vmselect) given its HTTP status. Errors, all naming `where`:
//   kQuery    `"status":"error"` (the message carries errorType and the server's text,
//             shortened), or any non-2xx status without a JSON error body
//   kProtocol a 2xx body that is not JSON or lacks data.resultType / data.result of the
//             shape its resultType promises
Result<PromAnswer> ParsePromAnswer(long http_status, std::string_view body,
                                   const std::string& where);

// A parsed VictoriaLogs /select/logsql/query answer (newline-delimited JSON objects).
struct LogsAnswer {
  size_t lines = 0;
  std::optional<double> newest;  // Unix seconds of the newest `_time`; none without lines
};

// Parses a /select/logsql/query answer given its HTTP status. Every non-empty line must be a JSON
// object with a string `_time` in RFC 3339 (VictoriaLogs' format, nanosecond fractions allowed).
// Errors, naming `where`: kQuery for a non-2xx status (VictoriaLogs answers a bad LogsQL query
// with 400 and a plain-text reason), kProtocol for a malformed line (its line number is named)
// or a line without a parseable `_time`.
Result<LogsAnswer> ParseLogsAnswer(long http_status, std::string_view body,
                                   const std::string& where);

// `text` cut to at most `max` bytes on a line of its own (for server messages in errors).
std::string Shorten(std::string_view text, size_t max = 300);

}  // namespace dbcanary::monitoring
