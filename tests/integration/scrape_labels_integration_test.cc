// Label names that survive scraping: the real dbcanary binary runs every probe kind of the local
// stack plus the Kubernetes probes (k8s_cnpg_cluster, k8s_cnpg_backups, k8s_cnpg_pooler,
// k8s_cnpg_operator, k8s_dragonfly) against the fake API server, and no label name on its
// /metrics may equal a target label that the shipped ServiceMonitor / VMServiceScrape add
// (Prometheus would rename ours to exported_<name>) or the platform's `cluster`. Every label name
// served must also be documented in docs/metrics.md or docs/metrics/*.md.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fake_kube/fake_kube_server.h"
#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/scrape_labels.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Serves a healthy CNPG cluster with backups, a Pooler, the CNPG operator and a Dragonfly (the
// objects the Kubernetes probes read), from the fixtures the unit tests use.
void ServePlatformObjects(FakeKube& kube) {
  const std::string cnpg = "/apis/postgresql.cnpg.io/v1/namespaces/db/";
  kube.SetFixture(cnpg + "clusters/pgmain", "cluster-healthy.json");
  kube.SetFixture(cnpg + "backups", "backups.json");
  kube.SetFixture(cnpg + "scheduledbackups", "scheduledbackups.json");
  kube.SetFixture("/apis/barmancloud.cnpg.io/v1/namespaces/db/objectstores/pgmain-store",
                  "objectstore.json");
  kube.SetFixture(cnpg + "poolers/gitlab-pooler-rw", "pooler.json");
  kube.SetFixture("/apis/apps/v1/namespaces/cnpg-system/deployments/cnpg-controller-manager",
                  "operator-deployment-ready.json");
  for (const char* crd : {"clusters", "backups", "scheduledbackups", "poolers"}) {
    kube.SetFixture(std::string("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/") + crd +
                        ".postgresql.cnpg.io",
                    std::string("crd-") + crd + ".json");
  }
  kube.SetFixture("/apis/discovery.k8s.io/v1/namespaces/cnpg-system/endpointslices",
                  "endpointslices-webhook-ready.json");
  kube.SetFixture("/apis/dragonflydb.io/v1alpha1/namespaces/cache/dragonflies/dragonfly",
                  "dragonfly-ready.json");
  kube.SetFixture("/apis/apps/v1/namespaces/cache/statefulsets/dragonfly",
                  "statefulset-dragonfly-ready.json");
  kube.SetFixture(
      "/apis/apps/v1/namespaces/dragonfly-operator-system/deployments/"
      "dragonfly-operator-controller-manager",
      "dragonfly-operator-deployment.json");
}

// The stack's config (drills left out) with the Kubernetes probes added: a kubernetes: section
// on the fake API server, and k8s_dragonfly on the stack's Dragonfly target.
std::string ConfigWithKubernetes(const std::string& kubeconfig, std::string* error) {
  std::string config = WithoutDrillsSection(ReadAll(Stack::Get().ConfigPath()));
  const std::string dragonfly_probes = "    probes:\n      dragonfly_basics: {}\n";
  size_t at = config.find(dragonfly_probes);
  if (at == std::string::npos || config.find("\nkubernetes:") != std::string::npos) {
    *error = "the stack config changed shape (dragonfly probes, or a kubernetes: section)";
    return "";
  }
  config.insert(at + dragonfly_probes.size(), "      k8s_dragonfly: { namespace: cache }\n");
  config += "kubernetes:\n  kubeconfig: " + kubeconfig +
            "\n  clusters:\n    - name: pgmain-k8s\n      namespace: db\n"
            "      cnpg_cluster: pgmain\n      probes:\n"
            "        k8s_cnpg_cluster: {}\n        k8s_cnpg_backups: {}\n"
            "        k8s_cnpg_pooler: { pooler: gitlab-pooler-rw }\n"
            "        k8s_cnpg_operator: {}\n";
  return config;
}

// Pins: a probe that labels a series `namespace`, `service`, `pod`, `cluster`, ... (renamed to
// exported_* by every scrape of the shipped ServiceMonitor/VMServiceScrape, or colliding with
// the platform label the dashboard filters on), and a label name nobody documented.
TEST(ScrapeLabels, NoServedLabelEqualsAScrapeTargetLabel) {
  DBCANARY_REQUIRE_STACK();
  std::string error;
  std::set<std::string> reserved = ShippedScrapeTargetLabels(&error);
  ASSERT_FALSE(reserved.empty()) << error;
  for (const auto& name : ReservedPlatformLabels()) reserved.insert(name);

  FakeKube kube;
  ServePlatformObjects(kube);
  char dir_template[] = "/tmp/dbcanary-scrape-labels-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_dir{dir};
  const std::string kubeconfig = dir + "/kubeconfig";
  std::ofstream(kubeconfig) << "current-context: t\nclusters: [{ name: f, cluster: { server: \""
                            << kube.url()
                            << "\" } }]\nusers: [{ name: u, user: { token: test-token } }]\n"
                               "contexts: [{ name: t, context: { cluster: f, user: u } }]\n";
  const std::string config_text = ConfigWithKubernetes(kubeconfig, &error);
  ASSERT_FALSE(config_text.empty()) << error;
  const std::string config = dir + "/dbcanary.yaml";
  std::ofstream(config) << config_text;

  ExporterProcess exporter({"serve", "--config", config});
  ASSERT_TRUE(exporter.WaitReady(seconds(60))) << exporter.Log();

  // Every Kubernetes family and the pooler info must be served before the names are judged:
  // the test is about their labels. The wait ends as soon as they are.
  const std::vector<std::string> wanted = {
      "dbcanary_k8s_cnpg_cluster_phase{",      "dbcanary_backup_objects{",
      "dbcanary_k8s_cnpg_pooler_instances{",   "dbcanary_k8s_operator_webhook_endpoints{",
      "dbcanary_k8s_operator_ready_replicas{", "dbcanary_k8s_crd_established{",
      "dbcanary_k8s_dragonfly_phase{",         "dbcanary_pooler_info{",
      "dbcanary_pg_replication_streaming{",    "dbcanary_dragonfly_op_success{"};
  std::string body;
  std::vector<std::string> missing;
  const auto deadline = Clock::now() + seconds(60);
  do {
    std::this_thread::sleep_for(milliseconds(500));
    body = exporter.Get("/metrics").body;
    missing.clear();
    for (const auto& family : wanted) {
      if (body.find("\n" + family) == std::string::npos) missing.push_back(family);
    }
  } while (!missing.empty() && Clock::now() < deadline);
  for (const auto& family : missing) ADD_FAILURE() << "not served: " << family;
  ASSERT_TRUE(missing.empty()) << exporter.Log();

  const std::set<std::string> served = ExpositionLabelNames(body);
  // The renamed object labels are really there (the families above carry them).
  for (const char* name : {"k8s_namespace", "k8s_service", "cnpg_cluster", "postgres_cluster"}) {
    EXPECT_EQ(served.count(name), 1u) << name << " not served";
  }
  for (const auto& name : served) {
    EXPECT_EQ(reserved.count(name), 0u)
        << "label `" << name << "` equals a target label of the shipped scrape objects (or the "
        << "platform label): Prometheus renames it to exported_" << name;
  }

  std::string docs = ReadAll(DBCANARY_SOURCE_DIR "/docs/metrics.md");
  for (const auto& entry : fs::directory_iterator(DBCANARY_SOURCE_DIR "/docs/metrics")) {
    docs += ReadAll(entry.path().string());
  }
  for (const auto& name : served) {
    EXPECT_TRUE(std::regex_search(docs, std::regex("\\b" + name + "\\b")))
        << "label `" << name << "` is served but documented nowhere in docs/metrics*";
  }
  std::string list;
  for (const auto& name : reserved) list += name + " ";
  std::cerr << "scrape-labels: " << served.size() << " label names served, none of: " << list
            << "\n";
}

}  // namespace
}  // namespace dbcanary::testing
