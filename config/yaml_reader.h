#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dbcanary {

// Thrown while reading a config; caught at the loader's edge and turned into an
// Error{kConfig} whose message is "FILE:LINE:COLUMN: key.path: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Strict, path-aware access to one YAML mapping. Every getter records the key as
// known; Finish() rejects any key nobody asked for, so typos never pass silently.
// The longest duration any setting accepts (10 years): deadlines (now + duration) must not
// overflow, which they would past ~292 years.
inline constexpr std::chrono::milliseconds kMaxConfigDuration{3650LL * 24 * 3600 * 1000};

class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string path, std::shared_ptr<const std::string> file);

  const std::string& path() const { return path_; }
  std::string KeyPath(std::string_view key) const;
  bool Has(std::string_view key) const;

  std::optional<std::string> String(std::string_view key);
  std::string RequiredString(std::string_view key);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  int64_t RequiredInt(std::string_view key, int64_t min, int64_t max);
  std::optional<double> Number(std::string_view key, double min, double max);
  std::optional<bool> Bool(std::string_view key);
  // At most kMaxConfigDuration; longer fails naming the key.
  std::optional<std::chrono::milliseconds> Duration(std::string_view key);
  // One of `allowed`; the error lists them.
  std::optional<std::string> Enum(std::string_view key, const std::vector<std::string>& allowed);
  std::optional<YamlMap> Map(std::string_view key);
  std::vector<YamlMap> ListOfMaps(std::string_view key);
  std::vector<std::string> ListOfStrings(std::string_view key);
  // The keys of a mapping value, each with its own YamlMap (for `probes:`).
  std::vector<std::pair<std::string, YamlMap>> MapOfMaps(std::string_view key);

  // Rejects keys that no getter asked for.
  void Finish() const;

  [[noreturn]] void Fail(std::string_view key, const std::string& message) const;
  [[noreturn]] void FailHere(const std::string& message) const;

 private:
  YAML::Node Lookup(std::string_view key);
  std::string Location(const YAML::Node& node) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const std::string> file_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace dbcanary
