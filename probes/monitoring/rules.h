#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace dbcanary::monitoring {

// What the rule engine reports for one rule group (summed over the files that declare it).
struct RuleGroupState {
  size_t rules = 0;
  // Rules whose last evaluation failed: a non-empty lastError, or health "err". A rule not yet
  // evaluated ("unknown") is not counted: it has not failed.
  size_t failing = 0;
  std::string first_error;  // the first failing rule's name and lastError, shortened
};

// Parses a Prometheus-compatible GET /api/v1/rules answer (Prometheus, vmalert): data.groups[],
// each with a string `name` and its rules in `rules` (also the older vmalert split into
// `alerting_rules` and `recording_rules`). Returns the groups by name. Errors, naming `where`:
// kQuery for `"status":"error"` or a non-2xx status, kProtocol for a body of another shape.
Result<std::map<std::string, RuleGroupState>> ParseRulesAnswer(long http_status,
                                                               std::string_view body,
                                                               const std::string& where);

// Whether `name` may be a declared rule group (the `group` label): 1..127 bytes of
// [A-Za-z0-9_.:-], which covers the group names of rule files and PrometheusRule objects.
bool IsRuleGroupName(const std::string& name);

}  // namespace dbcanary::monitoring
