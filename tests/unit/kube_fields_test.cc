// The Kubernetes fixtures against docs/kubernetes-fields.md, the table of every CNPG and
// Dragonfly field dbcanary reads: in each fixture object of a listed kind, every listed field
// that is present has the listed JSON type, no key beside a listed one is a near-miss spelling
// of it, and every row is present (with its type) in at least one fixture. Planted wrong types
// and misspellings show the checker reports them.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "clients/kube/time.h"

namespace dbcanary {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kSource = DBCANARY_SOURCE_DIR;
const fs::path kTable = kSource / "docs" / "kubernetes-fields.md";
const fs::path kFixtures = kSource / "tests" / "fake_kube" / "fixtures";

struct FieldRow {
  std::string kind;
  std::string path;
  std::string type;
  std::vector<std::string> segments;  // keys, "[]" (array elements), "*" (map values)
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string text) {
  const auto first = text.find_first_not_of(" \t");
  const auto last = text.find_last_not_of(" \t");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

// `a.b[].c["x/y"].*` -> {"a", "b", "[]", "c", "x/y", "*"}; empty on a malformed path.
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> segments;
  std::string current;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.') {
      if (!current.empty()) segments.push_back(current);
      current.clear();
    } else if (c == '[' && path.compare(i, 2, "[]") == 0) {
      if (!current.empty()) segments.push_back(current);
      current.clear();
      segments.emplace_back("[]");
      ++i;
    } else if (c == '[' && path.compare(i, 2, "[\"") == 0) {
      const auto end = path.find("\"]", i + 2);
      if (end == std::string::npos) return {};
      if (!current.empty()) segments.push_back(current);
      current.clear();
      segments.push_back(path.substr(i + 2, end - i - 2));
      i = end + 1;
    } else {
      current += c;
    }
  }
  if (!current.empty()) segments.push_back(current);
  return segments;
}

const std::set<std::string> kTypes = {"string", "integer", "boolean",   "object",
                                      "array",  "map",     "timestamp", "gotime"};

// The rows of every table whose header starts "| Kind | Field | JSON type".
std::vector<FieldRow> ParseFieldTable(const std::string& markdown, std::vector<std::string>& bad) {
  std::vector<FieldRow> rows;
  std::istringstream lines(markdown);
  bool in_table = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| Kind | Field | JSON type", 0) == 0) {
      in_table = true;
      continue;
    }
    if (line.rfind("|", 0) != 0) {
      in_table = false;
      continue;
    }
    if (!in_table || line.rfind("| ---", 0) == 0) continue;
    std::vector<std::string> cells;
    std::istringstream split(line.substr(1));
    for (std::string cell; std::getline(split, cell, '|');) cells.push_back(Trim(cell));
    if (cells.size() < 5 || cells[1].size() < 2 || cells[1].front() != '`' ||
        cells[1].back() != '`') {
      bad.push_back("table row not understood: " + line);
      continue;
    }
    FieldRow row{cells[0], cells[1].substr(1, cells[1].size() - 2), cells[2], {}};
    row.segments = SplitPath(row.path);
    if (row.segments.empty()) bad.push_back("malformed path: " + row.path);
    if (kTypes.count(row.type) == 0) bad.push_back(row.path + ": unknown JSON type " + row.type);
    rows.push_back(std::move(row));
  }
  return rows;
}

bool TypeMatches(const json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "boolean") return value.is_boolean();
  if (type == "object" || type == "map") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "timestamp") {
    return value.is_string() && kube::ParseRfc3339(value.get<std::string>()).has_value();
  }
  if (type == "gotime") {
    return value.is_string() && kube::ParseGoTimeString(value.get<std::string>()).has_value();
  }
  return false;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> previous(b.size() + 1);
  std::vector<size_t> current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A key that is probably a misspelling of `wanted`: same letters in another case, or (for
// names of five letters or more) at most two edits away.
bool NearMiss(const std::string& key, const std::string& wanted) {
  if (key == wanted) return false;
  if (Lower(key) == Lower(wanted)) return true;
  return wanted.size() >= 5 && EditDistance(key, wanted) <= 2;
}

class FieldChecker {
 public:
  explicit FieldChecker(std::vector<FieldRow> rows) : rows_(std::move(rows)) {
    for (const auto& row : rows_) {
      for (const auto& segment : row.segments) known_keys_[row.kind].insert(segment);
    }
  }

  // Problems of one object of `kind`; marks the rows found with their type.
  std::vector<std::string> Check(const json& object, const std::string& kind,
                                 const std::string& where) {
    std::vector<std::string> problems;
    for (size_t r = 0; r < rows_.size(); ++r) {
      const FieldRow& row = rows_[r];
      if (row.kind != kind) continue;
      Walk(
          object, row, 0, where,
          [&](const json& value, const std::string& at) {
            if (TypeMatches(value, row.type)) {
              seen_.insert(r);
            } else {
              problems.push_back(at + ": " + value.dump() + " is not " + row.type + " (" +
                                 row.kind + " " + row.path + ")");
            }
          },
          problems);
    }
    return problems;
  }

  std::vector<std::string> Unseen() const {
    std::vector<std::string> out;
    for (size_t r = 0; r < rows_.size(); ++r) {
      if (seen_.count(r) == 0) out.push_back(rows_[r].kind + " " + rows_[r].path);
    }
    return out;
  }

 private:
  void Walk(const json& node, const FieldRow& row, size_t index, const std::string& at,
            const std::function<void(const json&, const std::string&)>& visit,
            std::vector<std::string>& problems) const {
    if (index == row.segments.size()) {
      visit(node, at);
      return;
    }
    const std::string& segment = row.segments[index];
    if (segment == "[]") {
      if (!node.is_array()) return;  // the row of the array itself reports the type
      for (size_t i = 0; i < node.size(); ++i) {
        Walk(node[i], row, index + 1, at + "[" + std::to_string(i) + "]", visit, problems);
      }
    } else if (segment == "*") {
      if (!node.is_object()) return;
      for (const auto& [key, value] : node.items()) {
        Walk(value, row, index + 1, at + "." + key, visit, problems);
      }
    } else if (node.is_object()) {
      if (auto it = node.find(segment); it != node.end()) {
        Walk(*it, row, index + 1, at + "." + segment, visit, problems);
        return;
      }
      const auto& known = known_keys_.at(row.kind);
      for (const auto& [key, value] : node.items()) {
        if (known.count(key) == 0 && NearMiss(key, segment)) {
          problems.push_back(at + "." + key + " looks like a misspelling of " + segment + " (" +
                             row.kind + " " + row.path + ")");
        }
      }
    }
  }

  std::vector<FieldRow> rows_;
  std::map<std::string, std::set<std::string>> known_keys_;
  std::set<size_t> seen_;
};

// The objects of a fixture with their kinds: a list's items (which the API server sends without
// kind) take the list's kind minus "List".
std::vector<std::pair<std::string, json>> ObjectsOf(const json& fixture) {
  std::vector<std::pair<std::string, json>> out;
  const std::string kind = fixture.value("kind", "");
  if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0 &&
      fixture.contains("items") && fixture["items"].is_array()) {
    for (const auto& item : fixture["items"]) {
      out.emplace_back(item.value("kind", kind.substr(0, kind.size() - 4)), item);
    }
  } else {
    out.emplace_back(kind, fixture);
  }
  return out;
}

std::vector<FieldRow> TableRows() {
  std::vector<std::string> bad;
  auto rows = ParseFieldTable(ReadFile(kTable), bad);
  for (const auto& problem : bad) ADD_FAILURE() << kTable << ": " << problem;
  return rows;
}

json Fixture(const std::string& name) { return json::parse(ReadFile(kFixtures / name)); }

TEST(KubeFieldsTest, TableListsTheFieldsOfEveryKindTheClientReads) {
  const auto rows = TableRows();
  std::set<std::string> kinds;
  for (const auto& row : rows) kinds.insert(row.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"Backup", "Cluster", "Dragonfly", "ObjectStore", "Pod",
                                          "Pooler", "ScheduledBackup"}));
  EXPECT_GE(rows.size(), 50U);
}

TEST(KubeFieldsTest, EveryFixtureMatchesTheFieldTable) {
  FieldChecker checker(TableRows());
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    const std::string name = entry.path().filename().string();
    json fixture;
    ASSERT_NO_THROW(fixture = json::parse(ReadFile(entry.path()))) << name;
    for (const auto& [kind, object] : ObjectsOf(fixture)) {
      for (const auto& problem : checker.Check(object, kind, name)) ADD_FAILURE() << problem;
    }
  }
  EXPECT_GT(files, 20U);
  for (const auto& row : checker.Unseen()) {
    ADD_FAILURE() << "no fixture carries " << row << " (with its listed type)";
  }
}

// Each fixture generation of the renamed names is present: the newer CNPG pods carry both role
// labels, the older ones only `role`; clusters from before and after the backup plugins.
TEST(KubeFieldsTest, FixturesCarryOlderAndNewerNames) {
  const json newer = Fixture("pods-cnpg.json");
  const json older = Fixture("pods-cnpg-legacy.json");
  bool newer_has_both = false;
  for (const auto& pod : newer["items"]) {
    const auto& labels = pod["metadata"]["labels"];
    newer_has_both |= labels.contains("cnpg.io/instanceRole") && labels.contains("role");
  }
  EXPECT_TRUE(newer_has_both);
  for (const auto& pod : older["items"]) {
    EXPECT_FALSE(pod["metadata"]["labels"].contains("cnpg.io/instanceRole"));
  }
  EXPECT_TRUE(Fixture("cluster-legacy.json")["status"].contains("lastSuccessfulBackupByMethod"));
  EXPECT_TRUE(Fixture("cluster-healthy.json")["spec"].contains("plugins"));
}

std::vector<std::string> CheckOne(const json& object, const std::string& kind) {
  FieldChecker checker(TableRows());
  return checker.Check(object, kind, "planted");
}

bool Mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

TEST(KubeFieldsTest, PlantedWrongTypesAreReported) {
  json cluster = Fixture("cluster-healthy.json");
  ASSERT_TRUE(CheckOne(cluster, "Cluster").empty());

  json wrong = cluster;
  wrong["status"]["readyInstances"] = "3";  // a number written as a string
  auto problems = CheckOne(wrong, "Cluster");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_TRUE(Mentions(problems, "planted.status.readyInstances: \"3\" is not integer"))
      << problems[0];

  wrong = cluster;
  wrong["status"]["lastSuccessfulBackup"] = 1732500000;  // epoch seconds instead of RFC 3339
  EXPECT_TRUE(Mentions(CheckOne(wrong, "Cluster"), "status.lastSuccessfulBackup"));

  wrong = cluster;
  wrong["status"]["certificates"]["expirations"]["pgmain-ca"] = "2027-02-28T09:00:00Z";
  EXPECT_TRUE(Mentions(CheckOne(wrong, "Cluster"), "is not gotime"));

  wrong = cluster;
  wrong["status"]["instancesStatus"] = {{"healthy", "pgmain-1"}};  // a map of lists, not strings
  EXPECT_TRUE(Mentions(CheckOne(wrong, "Cluster"), "status.instancesStatus.healthy"));

  wrong = cluster;
  wrong["status"]["conditions"] = {{"Ready", "True"}};  // conditions are a list
  EXPECT_TRUE(Mentions(CheckOne(wrong, "Cluster"), "is not array"));

  json dragonfly = Fixture("dragonfly-rolling-update.json");
  dragonfly["status"]["isRollingUpdate"] = "true";
  EXPECT_TRUE(Mentions(CheckOne(dragonfly, "Dragonfly"), "is not boolean"));

  json pod = Fixture("pods-cnpg.json")["items"][0];
  pod["metadata"]["labels"]["cnpg.io/instanceRole"] = true;
  EXPECT_TRUE(Mentions(CheckOne(pod, "Pod"), "cnpg.io/instanceRole"));
}

TEST(KubeFieldsTest, PlantedMisspellingsAreReported) {
  json cluster = Fixture("cluster-healthy.json");
  cluster["status"]["currentPrimry"] = cluster["status"]["currentPrimary"];
  cluster["status"].erase("currentPrimary");
  auto problems = CheckOne(cluster, "Cluster");
  EXPECT_TRUE(
      Mentions(problems, "status.currentPrimry looks like a misspelling of currentPrimary"));

  json pooler = Fixture("pooler.json");
  pooler["spec"]["pgbouncer"]["poolmode"] = "session";  // wrong case
  pooler["spec"]["pgbouncer"].erase("poolMode");
  EXPECT_TRUE(Mentions(CheckOne(pooler, "Pooler"), "misspelling of poolMode"));

  // two real neighbours are not misspellings of each other
  json pod = Fixture("pods-cnpg.json")["items"][0];
  pod["metadata"]["labels"].erase("cnpg.io/podRole");
  pod["metadata"]["labels"]["cnpg.io/jobRole"] = "initdb";
  EXPECT_FALSE(Mentions(CheckOne(pod, "Pod"), "misspelling"));
}

TEST(KubeFieldsTest, PathSyntax) {
  EXPECT_EQ(SplitPath("metadata.labels[\"cnpg.io/instanceRole\"]"),
            (std::vector<std::string>{"metadata", "labels", "cnpg.io/instanceRole"}));
  EXPECT_EQ(
      SplitPath("status.serverRecoveryWindow.*.lastFailedBackupTime"),
      (std::vector<std::string>{"status", "serverRecoveryWindow", "*", "lastFailedBackupTime"}));
  EXPECT_EQ(SplitPath("spec.plugins[].name"),
            (std::vector<std::string>{"spec", "plugins", "[]", "name"}));
  EXPECT_TRUE(SplitPath("metadata.labels[\"unterminated").empty());
}

}  // namespace
}  // namespace dbcanary
