#include "tests/integration/harness/monitoring.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

namespace dbcanary::testing {
namespace {

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<ExporterProcess> StartScrapedExporter(const std::string& config) {
  const int port = std::stoi(Stack::Get().Env("DBCANARY_LISTEN_PORT"));
  return std::make_unique<ExporterProcess>(std::vector<std::string>{"serve", "--config", config},
                                           std::map<std::string, std::string>{}, port);
}

double QueryVictoriaMetrics(const std::string& query) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const std::string port_text = Stack::Get().Env("DBCANARY_STACK_PORT_VICTORIA_METRICS");
  if (port_text.empty()) return kNaN;
  HttpResponse response =
      HttpRequest(std::stoi(port_text), "GET", "/api/v1/query?query=" + UrlEncode(query));
  if (response.status != 200) return kNaN;
  auto answer = nlohmann::json::parse(response.body, nullptr, false);
  if (answer.is_discarded()) return kNaN;
  const auto& result = answer["data"]["result"];
  if (!result.is_array() || result.empty()) return kNaN;
  return std::stod(result[0]["value"][1].get<std::string>());
}

bool WaitForQuery(const std::string& query, bool (*accept)(double), std::chrono::seconds timeout) {
  for (auto until = std::chrono::steady_clock::now() + timeout;;) {
    if (accept(QueryVictoriaMetrics(query))) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace dbcanary::testing
