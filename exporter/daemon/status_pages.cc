#include "exporter/daemon/status_pages.h"

#include <fmt/format.h>

#include <ctime>

#include "exporter/core/result.h"
#include "exporter/daemon/version.h"

namespace dbcanary {
namespace {

std::string FormatTime(std::chrono::system_clock::time_point at) {
  std::time_t whole = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[32];
  size_t length = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer, length);
}

std::string ProbeRow(const ProbeSnapshot& probe) {
  const ProbeResult* latest = probe.latest.get();
  std::string state = "pending";
  std::string last_run = "never";
  std::string detail;
  if (latest != nullptr) {
    state = latest->success ? "up" : "down";
    last_run = FormatTime(latest->finished_at);
    if (!latest->success && latest->error) detail = std::string(ErrorCodeName(latest->error->code));
  }
  return fmt::format(
      "<tr class=\"{0}\"><td>{1}</td><td>{2}</td><td>{0}</td><td>{3}</td><td>{4}</td>"
      "<td>{5}</td></tr>\n",
      state, EscapeHtml(probe.info->key.kind), EscapeHtml(probe.info->key.target), last_run,
      EscapeHtml(detail), probe.counters.runs);
}

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Readiness CheckReadiness(const std::vector<ProbeSnapshot>& probes) {
  std::string missing;
  for (const auto& probe : probes) {
    if (probe.latest) continue;
    missing += missing.empty() ? "" : ", ";
    missing += probe.info->key.Name();
  }
  if (missing.empty()) return {true, "ready\n"};
  return {false, "not ready: no result yet from " + missing + "\n"};
}

std::string LandingPage(const std::vector<ProbeSnapshot>& probes) {
  std::string rows;
  for (const auto& probe : probes) rows += ProbeRow(probe);
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dbcanary</title>\n"
      "<style>body{{font-family:sans-serif}} td,th{{padding:2px 10px;text-align:left}} "
      ".up td:nth-child(3){{color:green}} .down td:nth-child(3){{color:red}}</style>\n"
      "</head><body>\n<h1>dbcanary</h1>\n<p>Version {} (revision {})</p>\n"
      "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/healthz\">/healthz</a> &middot; "
      "<a href=\"/readyz\">/readyz</a></p>\n"
      "<table>\n<tr><th>probe</th><th>target</th><th>state</th><th>last run (UTC)</th>"
      "<th>reason</th><th>runs</th></tr>\n{}</table>\n</body></html>\n",
      EscapeHtml(Version()), EscapeHtml(Revision()), rows);
}

}  // namespace dbcanary
