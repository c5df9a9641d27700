#include "tests/integration/harness/scrape_labels.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <sstream>
#include <vector>

namespace dbcanary::testing {
namespace {

const char* const kScrapeObjects[] = {
    DBCANARY_SOURCE_DIR "/deploy/kustomize/components/servicemonitor/servicemonitor.yaml",
    DBCANARY_SOURCE_DIR "/deploy/kustomize/components/vmservicescrape/vmservicescrape.yaml",
};

// What both operators generate for every endpoint of a Service scrape, before the object's own
// settings: job and instance (Prometheus itself), namespace, service, pod, container, endpoint
// (the port name), node (an endpoint whose target is a Node).
const char* const kOperatorTargetLabels[] = {"job", "instance",  "namespace", "service",
                                             "pod", "container", "endpoint",  "node"};

// Kubernetes label keys become label names the way the operators sanitise them
// (app.kubernetes.io/name -> app_kubernetes_io_name).
std::string Sanitised(const std::string& key) {
  std::string name = key;
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

void AddNames(const YAML::Node& list, std::set<std::string>& out) {
  if (!list || !list.IsSequence()) return;
  for (const auto& item : list) out.insert(Sanitised(item.as<std::string>()));
}

void AddRelabelTargets(const YAML::Node& relabelings, std::set<std::string>& out) {
  if (!relabelings || !relabelings.IsSequence()) return;
  for (const auto& rule : relabelings) {
    for (const char* key : {"targetLabel", "target_label"}) {
      if (rule[key]) {
        std::string name = rule[key].as<std::string>();
        // __tmp and __meta labels are dropped before the scrape.
        if (name.rfind("__", 0) != 0) out.insert(name);
      }
    }
  }
}

}  // namespace

std::set<std::string> ShippedScrapeTargetLabels(std::string* error) {
  std::set<std::string> labels(std::begin(kOperatorTargetLabels), std::end(kOperatorTargetLabels));
  for (const char* path : kScrapeObjects) {
    YAML::Node object;
    try {
      object = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      if (error != nullptr) *error = std::string(path) + ": " + e.what();
      return {};
    }
    const YAML::Node spec = object["spec"];
    if (!spec || !spec["endpoints"] || spec["endpoints"].size() == 0) {
      if (error != nullptr) *error = std::string(path) + ": no spec.endpoints";
      return {};
    }
    AddNames(spec["targetLabels"], labels);
    AddNames(spec["podTargetLabels"], labels);
    for (const auto& endpoint : spec["endpoints"]) {
      AddRelabelTargets(endpoint["relabelings"], labels);     // ServiceMonitor
      AddRelabelTargets(endpoint["relabelConfigs"], labels);  // VMServiceScrape
    }
  }
  return labels;
}

std::set<std::string> ReservedPlatformLabels() { return {"cluster"}; }

std::set<std::string> ExpositionLabelNames(const std::string& body) {
  std::set<std::string> names;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t i = line.find_first_of("{ ");
    if (i == std::string::npos || line[i] != '{') continue;
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t equals = line.find('=', i);
      if (equals == std::string::npos) break;
      names.insert(line.substr(i, equals - i));
      i = equals + 2;  // past ="
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      ++i;  // past the closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
  return names;
}

}  // namespace dbcanary::testing
