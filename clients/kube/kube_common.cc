#include "clients/kube/kube_common.h"

#include <cctype>
#include <stdexcept>
#include <utility>

#include "clients/kube/time.h"

namespace dbcanary::kube {

Result<Client> MakeClient(const KubernetesSettings& settings, const InClusterPaths& paths) {
  Result<Credentials> credentials =
      settings.in_cluster ? InClusterCredentials(paths)
                          : KubeconfigCredentials(settings.kubeconfig, settings.context);
  if (!credentials) return credentials.error();
  if (!settings.api_server.empty()) {
    credentials->server = settings.api_server;
    while (!credentials->server.empty() && credentials->server.back() == '/') {
      credentials->server.pop_back();
    }
  }
  return Client(std::move(*credentials), settings.timeout);
}

std::optional<double> ParseQuantity(std::string_view text) {
  static const std::pair<std::string_view, double> kSuffixes[] = {
      {"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30}, {"Ti", 0x1p40}, {"Pi", 0x1p50},
      {"Ei", 0x1p60}, {"n", 1e-9},    {"u", 1e-6},    {"m", 1e-3},    {"k", 1e3},
      {"M", 1e6},     {"G", 1e9},     {"T", 1e12},    {"P", 1e15},    {"E", 1e18}};
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) != 0 || text[digits] == '.' ||
          text[digits] == '+' || text[digits] == '-')) {
    ++digits;
  }
  const std::string_view suffix = text.substr(digits);
  double multiplier = 1;
  std::string number(text.substr(0, digits));
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    number = std::string(text);  // a decimal exponent: std::stod reads it whole
  } else if (!suffix.empty()) {
    bool known = false;
    for (const auto& [name, factor] : kSuffixes) {
      if (name == suffix) {
        multiplier = factor;
        known = true;
      }
    }
    if (!known) return std::nullopt;
  }
  if (number.empty()) return std::nullopt;
  try {
    size_t used = 0;
    const double value = std::stod(number, &used);
    if (used != number.size()) return std::nullopt;
    return value * multiplier;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const nlohmann::json* Field(const nlohmann::json& object, std::initializer_list<const char*> path) {
  const nlohmann::json* current = &object;
  for (const char* key : path) {
    if (!current->is_object()) return nullptr;
    auto it = current->find(key);
    if (it == current->end()) return nullptr;
    current = &*it;
  }
  return current;
}

std::optional<std::string> Text(const nlohmann::json& object,
                                std::initializer_list<const char*> path) {
  const auto* field = Field(object, path);
  if (field == nullptr || !field->is_string()) return std::nullopt;
  return field->get<std::string>();
}

std::optional<double> Number(const nlohmann::json& object,
                             std::initializer_list<const char*> path) {
  const auto* field = Field(object, path);
  if (field == nullptr || !field->is_number()) return std::nullopt;
  return field->get<double>();
}

std::optional<bool> Flag(const nlohmann::json& object, std::initializer_list<const char*> path) {
  const auto* field = Field(object, path);
  if (field == nullptr || !field->is_boolean()) return std::nullopt;
  return field->get<bool>();
}

std::optional<double> Timestamp(const nlohmann::json& object,
                                std::initializer_list<const char*> path) {
  auto text = Text(object, path);
  if (!text) return std::nullopt;
  return ParseRfc3339(*text);
}

std::optional<double> ConditionTrue(const nlohmann::json& object, std::string_view type) {
  const auto* conditions = Field(object, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return std::nullopt;
  for (const auto& condition : *conditions) {
    if (Text(condition, {"type"}) == std::string(type)) {
      return Text(condition, {"status"}) == std::string("True") ? 1.0 : 0.0;
    }
  }
  return std::nullopt;
}

std::optional<int> NamedContainerPort(const nlohmann::json& pod, std::string_view name) {
  const nlohmann::json* containers = Field(pod, {"spec", "containers"});
  if (containers == nullptr || !containers->is_array()) return std::nullopt;
  for (const auto& container : *containers) {
    const nlohmann::json* ports = Field(container, {"ports"});
    if (ports == nullptr || !ports->is_array()) continue;
    for (const auto& port : *ports) {
      if (Text(port, {"name"}).value_or("") != name) continue;
      const nlohmann::json* number = Field(port, {"containerPort"});
      if (number != nullptr && number->is_number_integer()) return number->get<int>();
    }
  }
  return std::nullopt;
}

}  // namespace dbcanary::kube
