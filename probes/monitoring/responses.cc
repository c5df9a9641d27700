#include "probes/monitoring/responses.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "clients/kube/time.h"

namespace dbcanary::monitoring {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A Prometheus sample value: a string holding a float ("1", "NaN", "+Inf").
std::optional<double> SampleValue(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (text == "NaN") return kNaN;
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  try {
    size_t used = 0;
    double parsed = std::stod(text, &used);
    if (used != text.size()) return std::nullopt;
    return parsed;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A [timestamp, "value"] pair; `numeric` false for string results (any string value).
std::optional<PromSeries> Point(const nlohmann::json& pair, bool numeric) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return std::nullopt;
  }
  PromSeries point;
  point.timestamp = pair[0].get<double>();
  if (numeric) {
    auto value = SampleValue(pair[1]);
    if (!value) return std::nullopt;
    point.value = *value;
  } else {
    point.value = kNaN;
  }
  return point;
}

}  // namespace

std::string Shorten(std::string_view text, size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > max) out += "...";
  return out;
}

Result<PromAnswer> ParsePromAnswer(long http_status, std::string_view body,
                                   const std::string& where) {
  const bool ok_status = http_status >= 200 && http_status < 300;
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.value("status", "") == "error") {
    std::string type = parsed.contains("errorType") && parsed["errorType"].is_string()
                           ? parsed["errorType"].get<std::string>()
                           : "unknown";
    std::string text = parsed.contains("error") && parsed["error"].is_string()
                           ? parsed["error"].get<std::string>()
                           : "";
    return MakeError(ErrorCode::kQuery, where + "query failed (HTTP " +
                                            std::to_string(http_status) + ", errorType " +
                                            Shorten(type, 40) + "): " + Shorten(text));
  }
  if (!ok_status) {
    return MakeError(ErrorCode::kQuery, where + "HTTP " + std::to_string(http_status) +
                                            (body.empty() ? "" : ": " + Shorten(body)));
  }
  if (parsed.is_discarded() || !parsed.is_object()) {
    return MakeError(ErrorCode::kProtocol, where + "the answer is not a JSON object (" +
                                               std::to_string(body.size()) + " bytes)");
  }
  if (parsed.value("status", "") != "success" || !parsed.contains("data") ||
      !parsed["data"].is_object()) {
    return MakeError(ErrorCode::kProtocol, where +
                                               "the answer has no \"status\":\"success\" "
                                               "with a data object");
  }
  const auto& data = parsed["data"];
  if (!data.contains("resultType") || !data["resultType"].is_string() || !data.contains("result")) {
    return MakeError(ErrorCode::kProtocol, where + "data lacks resultType or result");
  }
  PromAnswer answer;
  answer.result_type = data["resultType"].get<std::string>();
  const auto& result = data["result"];
  auto bad_shape = [&](const std::string& what) {
    return MakeError(ErrorCode::kProtocol,
                     where + "malformed " + answer.result_type + " result: " + what);
  };
  if (answer.result_type == "scalar" || answer.result_type == "string") {
    auto point = Point(result, answer.result_type == "scalar");
    if (!point) return bad_shape("expected [timestamp, \"value\"]");
    answer.series.push_back(*point);
    return answer;
  }
  if (answer.result_type != "vector" && answer.result_type != "matrix") {
    return MakeError(ErrorCode::kProtocol,
                     where + "unknown resultType \"" + Shorten(answer.result_type, 40) + "\"");
  }
  if (!result.is_array()) return bad_shape("result is not a list");
  for (const auto& series : result) {
    if (!series.is_object()) return bad_shape("a series is not an object");
    if (answer.result_type == "vector") {
      if (!series.contains("value")) return bad_shape("a series has no value");
      auto point = Point(series["value"], true);
      if (!point) return bad_shape("expected value [timestamp, \"value\"]");
      answer.series.push_back(*point);
      continue;
    }
    if (!series.contains("values") || !series["values"].is_array()) {
      return bad_shape("a series has no values list");
    }
    std::optional<PromSeries> newest;
    for (const auto& pair : series["values"]) {
      auto point = Point(pair, true);
      if (!point) return bad_shape("expected values [[timestamp, \"value\"], ...]");
      if (!newest || point->timestamp >= newest->timestamp) newest = point;
    }
    if (newest) answer.series.push_back(*newest);
  }
  return answer;
}

Result<LogsAnswer> ParseLogsAnswer(long http_status, std::string_view body,
                                   const std::string& where) {
  if (http_status < 200 || http_status >= 300) {
    return MakeError(ErrorCode::kQuery, where + "HTTP " + std::to_string(http_status) +
                                            (body.empty() ? "" : ": " + Shorten(body)));
  }
  LogsAnswer answer;
  size_t line_number = 0;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return MakeError(ErrorCode::kProtocol,
                       where + "line " + std::to_string(line_number) + " is not a JSON object");
    }
    if (!parsed.contains("_time") || !parsed["_time"].is_string()) {
      return MakeError(ErrorCode::kProtocol,
                       where + "line " + std::to_string(line_number) +
                           " has no _time field (do not drop it with a fields pipe)");
    }
    auto time = kube::ParseRfc3339(parsed["_time"].get_ref<const std::string&>());
    if (!time) {
      return MakeError(ErrorCode::kProtocol,
                       where + "line " + std::to_string(line_number) + ": _time is not RFC 3339");
    }
    ++answer.lines;
    if (!answer.newest || *time > *answer.newest) answer.newest = *time;
  }
  return answer;
}

}  // namespace dbcanary::monitoring
