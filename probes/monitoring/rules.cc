#include "probes/monitoring/rules.h"

#include <nlohmann/json.hpp>

#include "probes/monitoring/responses.h"

namespace dbcanary::monitoring {
namespace {

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Adds the rules of one list to `group`; false when the list or a rule has another shape.
bool AddRules(const nlohmann::json& rules, RuleGroupState& group) {
  if (!rules.is_array()) return false;
  for (const auto& rule : rules) {
    if (!rule.is_object()) return false;
    ++group.rules;
    const std::string error = StringField(rule, "lastError");
    if (error.empty() && StringField(rule, "health") != "err") continue;
    if (group.failing++ == 0) {
      group.first_error = Shorten(StringField(rule, "name"), 80) + ": " +
                          Shorten(error.empty() ? "health err" : error, 200);
    }
  }
  return true;
}

}  // namespace

Result<std::map<std::string, RuleGroupState>> ParseRulesAnswer(long http_status,
                                                               std::string_view body,
                                                               const std::string& where) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && StringField(parsed, "status") == "error") {
    return MakeError(ErrorCode::kQuery, where + "rules API failed (HTTP " +
                                            std::to_string(http_status) +
                                            "): " + Shorten(StringField(parsed, "error")));
  }
  if (http_status < 200 || http_status >= 300) {
    return MakeError(ErrorCode::kQuery, where + "HTTP " + std::to_string(http_status) +
                                            (body.empty() ? "" : ": " + Shorten(body)));
  }
  const nlohmann::json* groups = nullptr;
  if (parsed.is_object() && parsed.contains("data") && parsed["data"].is_object()) {
    auto it = parsed["data"].find("groups");
    if (it != parsed["data"].end() && it->is_array()) groups = &*it;
  }
  if (groups == nullptr) {
    return MakeError(ErrorCode::kProtocol, where + "the answer has no data.groups list (" +
                                               std::to_string(body.size()) +
                                               " bytes): is the URL a Prometheus or vmalert?");
  }
  std::map<std::string, RuleGroupState> out;
  for (const auto& group : *groups) {
    const std::string name = group.is_object() ? StringField(group, "name") : "";
    if (name.empty()) {
      return MakeError(ErrorCode::kProtocol, where + "a rule group without a name");
    }
    RuleGroupState& state = out[name];
    bool shaped = true;
    bool any = false;
    for (const char* key : {"rules", "alerting_rules", "recording_rules"}) {
      auto it = group.find(key);
      if (it == group.end() || it->is_null()) continue;
      any = true;
      shaped = shaped && AddRules(*it, state);
    }
    if (!shaped || !any) {
      return MakeError(ErrorCode::kProtocol,
                       where + "rule group \"" + Shorten(name, 80) + "\" has no rules list");
    }
  }
  return out;
}

bool IsRuleGroupName(const std::string& name) {
  if (name.empty() || name.size() > 127) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace dbcanary::monitoring
