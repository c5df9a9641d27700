#include "probes/probe.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/number_format.h"

namespace dbcanary {

ExpectationResult ExpectNumber(std::string check, std::string target, double observed,
                               std::string_view op, double threshold) {
  ExpectationResult result;
  result.check = std::move(check);
  result.target = std::move(target);
  result.observed = observed;
  result.threshold = threshold;
  if (std::isnan(observed)) {
    result.pass = false;
  } else if (op == ">=") {
    result.pass = observed >= threshold;
  } else if (op == "<=") {
    result.pass = observed <= threshold;
  } else {
    result.pass = observed == threshold;
  }
  result.observed_text = std::isnan(observed) ? "unknown" : FormatValue(observed);
  result.expected_text = std::string(op) + " " + FormatValue(threshold);
  return result;
}

ExpectationResult ExpectText(std::string check, std::string target, std::string observed,
                             std::string expected) {
  ExpectationResult result;
  result.check = std::move(check);
  result.target = std::move(target);
  result.pass = observed == expected;
  result.observed = result.pass ? 1 : 0;
  result.threshold = std::numeric_limits<double>::quiet_NaN();
  result.observed_text = std::move(observed);
  result.expected_text = "== " + expected;
  return result;
}

void ProbeResult::Fail(ErrorCode code, std::string message) {
  success = false;
  error = Error{code, std::move(message)};
}

void ProbeResult::Fail(Error failure) {
  success = false;
  error = std::move(failure);
}

void ProbeResult::Add(std::string name, Labels labels, double value) {
  samples.push_back(Sample{std::move(name), std::move(labels), value});
}

void ProbeRegistry::Add(std::string kind, ProbeFactory factory) {
  for (const auto& [existing, unused] : factories_) {
    if (existing == kind) {
      std::fprintf(stderr, "dbcanary: probe kind \"%s\" registered twice\n", kind.c_str());
      std::abort();
    }
  }
  factories_.emplace_back(std::move(kind), std::move(factory));
}

Result<std::unique_ptr<Probe>> ProbeRegistry::Create(const ProbeSettings& settings,
                                                     const Config& config) const {
  for (const auto& [kind, factory] : factories_) {
    if (kind == settings.kind) return factory(settings, config);
  }
  std::string known;
  for (const auto& name : Kinds()) known += (known.empty() ? "" : ", ") + name;
  try {
    settings.params->FailHere("unknown probe kind \"" + settings.kind + "\" (known: " + known +
                              ")");
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

namespace detail {

void FailNoTarget(const ProbeSettings& settings, std::string_view what) {
  std::string message = std::string(what) + " named \"" + settings.target + "\"";
  if (settings.params) settings.params->FailHere(message);
  throw ConfigError(message);
}

}  // namespace detail

std::vector<std::string> ProbeRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& entry : factories_) kinds.push_back(entry.first);
  return kinds;
}

}  // namespace dbcanary
