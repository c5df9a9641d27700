// The top-level `kubernetes:` config section: strict keys, defaults, and its targets.

#include <gtest/gtest.h>

#include "config/config.h"

namespace dbcanary {
namespace {

Result<std::shared_ptr<const Config>> Parse(const std::string& text) {
  return ParseConfig(text, "k.yaml");
}

TEST(KubeConfigTest, ReadsSectionWithDefaults) {
  auto config = Parse(R"(
kubernetes:
  kubeconfig: /etc/dbcanary/kubeconfig
  context: prod
  clusters:
    - name: pgmain-k8s
      namespace: db
      cnpg_cluster: pgmain
      probes:
        k8s_cnpg_cluster: { interval: 30s }
    - name: pgother
      namespace: db2
)");
  ASSERT_TRUE(config) << config.error().message;
  const auto& kube = *(*config)->kubernetes;
  EXPECT_FALSE(kube.in_cluster);
  EXPECT_EQ(kube.kubeconfig, "/etc/dbcanary/kubeconfig");
  EXPECT_EQ(kube.context, "prod");
  EXPECT_EQ(kube.timeout, std::chrono::seconds(5));
  ASSERT_EQ(kube.clusters.size(), 2u);
  EXPECT_EQ(kube.clusters[0].cnpg_cluster, "pgmain");
  EXPECT_EQ(kube.clusters[1].cnpg_cluster, "pgother");  // defaults to the target name
  EXPECT_EQ((*config)->FindKubeCluster("pgmain-k8s")->namespace_, "db");
  auto probes = (*config)->AllProbes();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0]->kind, "k8s_cnpg_cluster");
  EXPECT_EQ(probes[0]->target, "pgmain-k8s");
}

TEST(KubeConfigTest, AbsentSectionMeansNoKubernetes) {
  auto config = Parse("exporter: { workers: 2 }\n");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE((*config)->kubernetes.has_value());
  EXPECT_EQ((*config)->FindKubeCluster("x"), nullptr);
}

TEST(KubeConfigTest, RejectsBadSections) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"kubernetes: { clusters: [] }\n", "set in_cluster: true or kubeconfig"},
      {"kubernetes: { in_cluster: true, kubeconfig: /x }\n", "kubernetes.kubeconfig"},
      {"kubernetes: { in_cluster: true, context: c }\n", "kubernetes.context"},
      {"kubernetes: { in_cluster: true, api_server: ftp://x }\n", "kubernetes.api_server"},
      {"kubernetes: { in_cluster: true, token: abc }\n", "kubernetes.token"},
      {"kubernetes: { in_cluster: true, clusters: [{ name: a, namespace: Bad_NS }] }\n",
       "kubernetes.clusters[0].namespace"},
      {"kubernetes: { in_cluster: true, clusters: [{ name: a }] }\n", "namespace"},
      {"kubernetes: { in_cluster: true, clusters: [{ name: a, namespace: db, nmespace: x }] }\n",
       "kubernetes.clusters[0].nmespace"},
      {"kubernetes: { in_cluster: true, clusters: [{ name: a, namespace: db }, { name: a, "
       "namespace: db }] }\n",
       "duplicate target name \"a\""},
  };
  for (const auto& c : cases) {
    auto config = Parse(c.yaml);
    ASSERT_FALSE(config) << c.yaml;
    EXPECT_EQ(config.error().code, ErrorCode::kConfig);
    EXPECT_NE(config.error().message.find(c.error), std::string::npos)
        << c.yaml << " -> " << config.error().message;
  }
}

TEST(KubeConfigTest, TargetNamesAreUniqueAcrossSections) {
  auto config = Parse(R"(
dragonfly:
  - name: shared
    master: { host: 127.0.0.1 }
kubernetes:
  in_cluster: true
  clusters: [{ name: shared, namespace: db }]
)");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("duplicate target name \"shared\""), std::string::npos)
      << config.error().message;
}

}  // namespace
}  // namespace dbcanary
