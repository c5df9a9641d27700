#include "config/yaml_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/duration.h"

namespace dbcanary {
namespace {

std::string Quote(const YAML::Node& node) {
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "nothing";
}

}  // namespace

YamlMap::YamlMap(const YAML::Node& node, std::string path, std::shared_ptr<const std::string> file)
    : node_(node), path_(std::move(path)), file_(std::move(file)) {
  if (!node_.IsMap()) {
    if (node_.IsNull()) {
      node_ = YAML::Node(YAML::NodeType::Map);
    } else {
      throw ConfigError(Location(node_) + path_ + ": expected a mapping, got " + Quote(node_));
    }
  }
  // yaml-cpp keeps the first of two equal keys and drops the second without a word: a
  // section pasted twice would silently lose half of what it says.
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      throw ConfigError(Location(entry.first) + KeyPath(key) + ": duplicate key");
    }
  }
}

std::string YamlMap::Location(const YAML::Node& node) const {
  std::string location = *file_;
  auto mark = node.Mark();
  if (mark.line >= 0) {
    // Appended piece by piece: g++ 12 at -O3 reports a false -Wrestrict on "x" + to_string().
    location += ':';
    location += std::to_string(mark.line + 1);
    location += ':';
    location += std::to_string(mark.column + 1);
  }
  return location + ": ";
}

std::string YamlMap::KeyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

bool YamlMap::Has(std::string_view key) const {
  for (const auto& entry : node_) {
    if (entry.first.Scalar() == key) return !entry.second.IsNull();
  }
  return false;
}

YAML::Node YamlMap::Lookup(std::string_view key) {
  used_.insert(std::string(key));
  for (const auto& entry : node_) {
    if (entry.first.Scalar() == key) return entry.second;
  }
  return YAML::Node();
}

void YamlMap::Fail(std::string_view key, const std::string& message) const {
  YAML::Node where = node_;
  for (const auto& entry : node_) {
    if (entry.first.Scalar() == key) {
      where = entry.second;
      break;
    }
  }
  throw ConfigError(Location(where) + KeyPath(key) + ": " + message);
}

void YamlMap::FailHere(const std::string& message) const {
  throw ConfigError(Location(node_) + (path_.empty() ? "(top level)" : path_) + ": " + message);
}

std::optional<std::string> YamlMap::String(std::string_view key) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  if (!value.IsScalar()) Fail(key, "expected a string, got " + Quote(value));
  return value.Scalar();
}

std::string YamlMap::RequiredString(std::string_view key) {
  auto value = String(key);
  if (!value || value->empty()) {
    throw ConfigError(Location(node_) + KeyPath(key) + ": required but missing");
  }
  return *value;
}

std::optional<int64_t> YamlMap::Int(std::string_view key, int64_t min, int64_t max) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  std::string text = value.IsScalar() ? value.Scalar() : std::string();
  char* end = nullptr;
  errno = 0;
  long long parsed = value.IsScalar() ? std::strtoll(text.c_str(), &end, 10) : 0;
  if (!value.IsScalar() || text.empty() || *end != '\0' || errno != 0 || parsed < min ||
      parsed > max) {
    Fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + Quote(value));
  }
  return parsed;
}

int64_t YamlMap::RequiredInt(std::string_view key, int64_t min, int64_t max) {
  auto value = Int(key, min, max);
  if (!value) throw ConfigError(Location(node_) + KeyPath(key) + ": required but missing");
  return *value;
}

std::optional<double> YamlMap::Number(std::string_view key, double min, double max) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  std::string text = value.IsScalar() ? value.Scalar() : std::string();
  char* end = nullptr;
  double parsed = value.IsScalar() ? std::strtod(text.c_str(), &end) : 0;
  if (!value.IsScalar() || text.empty() || *end != '\0' || !std::isfinite(parsed) || parsed < min ||
      parsed > max) {
    Fail(key, "expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + Quote(value));
  }
  return parsed;
}

std::optional<bool> YamlMap::Bool(std::string_view key) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  if (value.IsScalar()) {
    const std::string& text = value.Scalar();
    if (text == "true") return true;
    if (text == "false") return false;
  }
  Fail(key, "expected true or false, got " + Quote(value));
}

std::optional<std::chrono::milliseconds> YamlMap::Duration(std::string_view key) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  if (value.IsScalar()) {
    if (auto parsed = ParseDuration(value.Scalar())) {
      // A deadline is now + duration in nanoseconds, which overflows beyond ~292 years; no
      // setting of a monitor needs more than the bound.
      if (*parsed > kMaxConfigDuration) {
        Fail(key,
             "at most " + FormatDuration(kMaxConfigDuration) + " (3650d), got " + Quote(value));
      }
      return parsed;
    }
  }
  Fail(key, "expected a duration such as \"500ms\", \"5s\" or \"2m\", got " + Quote(value));
}

std::optional<std::string> YamlMap::Enum(std::string_view key,
                                         const std::vector<std::string>& allowed) {
  auto value = String(key);
  if (!value) return std::nullopt;
  for (const auto& candidate : allowed) {
    if (*value == candidate) return value;
  }
  std::string list;
  for (const auto& candidate : allowed) list += (list.empty() ? "" : ", ") + candidate;
  Fail(key, "expected one of " + list + ", got \"" + *value + "\"");
}

std::optional<YamlMap> YamlMap::Map(std::string_view key) {
  YAML::Node value = Lookup(key);
  if (!value || value.IsNull()) return std::nullopt;
  return YamlMap(value, KeyPath(key), file_);
}

std::vector<YamlMap> YamlMap::ListOfMaps(std::string_view key) {
  YAML::Node value = Lookup(key);
  std::vector<YamlMap> items;
  if (!value || value.IsNull()) return items;
  if (!value.IsSequence()) Fail(key, "expected a list, got " + Quote(value));
  for (size_t i = 0; i < value.size(); ++i) {
    items.emplace_back(value[i], KeyPath(key) + "[" + std::to_string(i) + "]", file_);
  }
  return items;
}

std::vector<std::string> YamlMap::ListOfStrings(std::string_view key) {
  YAML::Node value = Lookup(key);
  std::vector<std::string> items;
  if (!value || value.IsNull()) return items;
  if (!value.IsSequence()) Fail(key, "expected a list of strings, got " + Quote(value));
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].IsScalar()) {
      throw ConfigError(Location(value[i]) + KeyPath(key) + "[" + std::to_string(i) +
                        "]: expected a string, got " + Quote(value[i]));
    }
    items.push_back(value[i].Scalar());
  }
  return items;
}

std::vector<std::pair<std::string, YamlMap>> YamlMap::MapOfMaps(std::string_view key) {
  YAML::Node value = Lookup(key);
  std::vector<std::pair<std::string, YamlMap>> items;
  if (!value || value.IsNull()) return items;
  if (!value.IsMap()) Fail(key, "expected a mapping, got " + Quote(value));
  for (const auto& entry : value) {
    std::string name = entry.first.Scalar();
    items.emplace_back(name, YamlMap(entry.second, KeyPath(key) + "." + name, file_));
  }
  return items;
}

void YamlMap::Finish() const {
  for (const auto& entry : node_) {
    const std::string& key = entry.first.Scalar();
    if (!used_.contains(key)) {
      std::string known;
      for (const auto& name : used_) known += (known.empty() ? "" : ", ") + name;
      throw ConfigError(Location(entry.first) + KeyPath(key) +
                        ": unknown key (known keys here: " + known + ")");
    }
  }
}

}  // namespace dbcanary
