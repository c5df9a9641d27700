#include "drills/failover/failover_drill.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "clients/kube/client.h"
#include "drills/drill.h"
#include "drills/failover/trigger.h"
#include "drills/failover/write_log.h"
#include "tests/fake_kube/fake_kube_server.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

WriteAttempt Ack(int64_t seq, double started, double finished) {
  return WriteAttempt{seq, started, finished, true};
}
WriteAttempt Failed(int64_t seq, double started, double finished) {
  return WriteAttempt{seq, started, finished, false};
}

TEST(FailoverWriteLogTest, GapSpanningTheTriggerIsTheDowntime) {
  // acks every 0.1 s, trigger at 1.05, failures from 1.2 to 3.0, next ack at 3.45
  std::vector<WriteAttempt> log{Ack(1, 0.9, 0.91),   Ack(2, 1.0, 1.01),   Ack(3, 1.1, 1.11),
                                Failed(4, 1.2, 1.3), Failed(5, 1.4, 3.0), Ack(6, 3.1, 3.45),
                                Ack(7, 3.5, 3.51)};
  std::set<int64_t> present{1, 2, 3, 5, 6, 7};
  auto analysis = AnalyzeWrites(log, 1.05, &present, 3.0);
  EXPECT_EQ(analysis.attempts, 7);
  EXPECT_EQ(analysis.acknowledged, 5);
  EXPECT_EQ(analysis.failed, 2);
  EXPECT_NEAR(analysis.downtime_seconds, 3.45 - 1.11, 1e-9);
  EXPECT_NEAR(analysis.downtime_from, 1.11, 1e-9);
  EXPECT_NEAR(analysis.downtime_to, 3.45, 1e-9);
  EXPECT_NEAR(analysis.first_failure_to_ack_seconds, 3.45 - 1.2, 1e-9);
  EXPECT_NEAR(analysis.first_ack_after, 3.45, 1e-9);
  EXPECT_TRUE(analysis.lost.empty());
  EXPECT_EQ(analysis.ambiguous_committed, 1);  // seq 5 committed though not acknowledged
}

TEST(FailoverWriteLogTest, HangingWritesCountAsDowntimeWithoutFailures) {
  // a pooler that queues clients: no error, one write takes 6 s
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.01), Ack(2, 0.1, 6.2), Ack(3, 6.3, 6.31)};
  auto analysis = AnalyzeWrites(log, 0.05, nullptr, 0.0);
  EXPECT_NEAR(analysis.downtime_seconds, 6.19, 1e-9);
  EXPECT_EQ(analysis.first_failure_to_ack_seconds, 0);
  EXPECT_TRUE(analysis.lost.empty());
}

TEST(FailoverWriteLogTest, AcknowledgedButMissingSeqsAreLost) {
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.1), Ack(2, 0.2, 0.3), Ack(3, 0.4, 0.5),
                                Failed(4, 0.6, 2.0), Ack(5, 2.1, 2.2)};
  std::set<int64_t> present{1, 5};
  auto analysis = AnalyzeWrites(log, 0.35, &present, 2.0);
  EXPECT_EQ(analysis.lost, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(analysis.ambiguous_committed, 0);
  EXPECT_EQ(FormatSeqs(analysis.lost), "2, 3");
  EXPECT_EQ(FormatSeqs({1, 2, 3}, 2), "1, 2, ... (3 in all)");
}

TEST(FailoverWriteLogTest, NoAcknowledgementAfterTheTriggerIsUnknownDowntime) {
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.1), Failed(2, 0.2, 2.2), Failed(3, 2.3, 4.3)};
  auto analysis = AnalyzeWrites(log, 0.15, nullptr, 1.0);
  EXPECT_TRUE(std::isnan(analysis.downtime_seconds));
  EXPECT_TRUE(std::isnan(analysis.first_failure_to_ack_seconds));
  EXPECT_TRUE(std::isnan(analysis.first_ack_after));
}

TEST(FailoverWriteLogTest, ResumedOnlyCountsWritesStartedAfterThePromotion) {
  // seq 2 was acknowledged by the old primary right after the trigger: not a resumption
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.1), Ack(2, 0.2, 0.3), Failed(3, 0.4, 1.0),
                                Ack(4, 5.0, 5.1)};
  auto analysis = AnalyzeWrites(log, 0.15, nullptr, 4.0);
  EXPECT_NEAR(analysis.first_ack_after, 5.1, 1e-9);
  EXPECT_NEAR(analysis.downtime_seconds, 4.8, 1e-9);
}

TEST(FailoverWriteLogTest, WindowsSplitAtTheTriggerAndAtTheResumedWrite) {
  // before: 1, 2 (trigger at 0.25); during: 3 (failed), 4 (acked by the old primary: not a
  // resumption, it started before the new primary was found at 1.0); after: 5 on, including
  // the resumed write itself and a later failure
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.1), Ack(2, 0.2, 0.3), Failed(3, 0.4, 0.5),
                                Ack(4, 0.6, 0.7), Ack(5, 1.1, 1.2), Failed(6, 1.3, 1.4),
                                Ack(7, 1.5, 1.6)};
  auto analysis = AnalyzeWrites(log, 0.25, nullptr, 1.0);
  EXPECT_EQ(analysis.before.acknowledged, 2);
  EXPECT_EQ(analysis.before.failed, 0);
  EXPECT_EQ(analysis.during.acknowledged, 1);
  EXPECT_EQ(analysis.during.failed, 1);
  EXPECT_EQ(analysis.after.acknowledged, 2);
  EXPECT_EQ(analysis.after.failed, 1);
}

TEST(FailoverWriteLogTest, WithoutResumptionEverythingAfterTheTriggerIsDuring) {
  std::vector<WriteAttempt> log{Ack(1, 0.0, 0.1), Failed(2, 0.2, 2.2), Failed(3, 2.3, 4.3)};
  auto analysis = AnalyzeWrites(log, 0.15, nullptr, 1.0);
  EXPECT_EQ(analysis.before.acknowledged, 1);
  EXPECT_EQ(analysis.during.failed, 2);
  EXPECT_EQ(analysis.after.acknowledged + analysis.after.failed, 0);
}

// A config with one cluster, an rw and an ro pooler, and a kubernetes cluster.
std::shared_ptr<Config> TestConfig() {
  auto config = std::make_shared<Config>();
  PostgresCluster cluster;
  cluster.name = "pg";
  PgEndpoint member;
  member.name = "pg-1";
  cluster.instances.push_back(member);
  config->postgres_clusters.push_back(cluster);
  Pooler rw;
  rw.name = "pg-rw";
  rw.cluster = "pg";
  config->poolers.push_back(rw);
  Pooler ro = rw;
  ro.name = "pg-ro";
  ro.type = PoolerType::kReadOnly;
  config->poolers.push_back(ro);
  KubernetesSettings kube;
  KubeCluster kube_cluster;
  kube_cluster.name = "k-pg";
  kube_cluster.namespace_ = "db";
  kube.clusters.push_back(kube_cluster);
  config->kubernetes = kube;
  return config;
}

DrillSettings Settings(const std::string& yaml) {
  DrillSettings settings;
  settings.kind = "failover";
  settings.params = std::make_shared<YamlMap>(YAML::Load(yaml), "drills.jobs.failover",
                                              std::make_shared<const std::string>("test.yaml"));
  return settings;
}

TEST(FailoverParamsTest, ReadsCommandTriggerAndDefaults) {
  auto config = TestConfig();
  auto params = ReadFailoverParams(
      Settings("{cluster: pg, pooler: pg-rw, trigger: {command: [stack.sh, failover]}}"), *config);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->command, (std::vector<std::string>{"stack.sh", "failover"}));
  EXPECT_EQ(params->command_timeout, std::chrono::minutes(2));
  EXPECT_EQ(params->write_interval, milliseconds(100));
  EXPECT_EQ(params->table, "dbcanary_failover_writes");
  EXPECT_EQ(params->max_downtime_seconds, 30);
  EXPECT_EQ(params->max_lost_writes, 0);
  EXPECT_FALSE(params->max_recovery_seconds.has_value());
  EXPECT_EQ(params->min_writes_before, 20);
  EXPECT_EQ(params->min_writes_after, 20);
  EXPECT_EQ(params->settle, std::chrono::seconds(5));
}

TEST(FailoverParamsTest, ReadsTheWriterWindows) {
  auto config = TestConfig();
  auto params = ReadFailoverParams(
      Settings("{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, min_writes_before: 50, "
               "min_writes_after: 40, settle: 10s}"),
      *config);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->min_writes_before, 50);
  EXPECT_EQ(params->min_writes_after, 40);
  EXPECT_EQ(params->settle, std::chrono::seconds(10));
}

TEST(FailoverParamsTest, ReadsKubernetesTriggerAndExpectations) {
  auto config = TestConfig();
  auto params = ReadFailoverParams(
      Settings("{cluster: pg, pooler: pg-rw, trigger: {kubernetes: {cluster: k-pg}}, "
               "write_interval: 50ms, expect: {max_downtime_seconds: 10, max_lost_writes: 0, "
               "max_recovery_seconds: 120}}"),
      *config);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->kube_cluster, "k-pg");
  EXPECT_TRUE(params->command.empty());
  EXPECT_EQ(params->write_interval, milliseconds(50));
  EXPECT_EQ(params->max_downtime_seconds, 10);
  EXPECT_EQ(params->max_recovery_seconds, 120);
}

TEST(FailoverParamsTest, RejectsBadParamsNamingTheKey) {
  auto config = TestConfig();
  struct Case {
    std::string yaml;
    std::string fragment;
  };
  const std::vector<Case> cases{
      {"{pooler: pg-rw, trigger: {command: [x]}}", "cluster"},
      {"{cluster: nope, pooler: pg-rw, trigger: {command: [x]}}", "no postgres cluster"},
      {"{cluster: pg, pooler: pg-ro, trigger: {command: [x]}}", "not of type rw"},
      {"{cluster: pg, pooler: pg-rw}", "trigger"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x], kubernetes: {cluster: k-pg}}}",
       "exactly one of command or kubernetes"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: []}}", "needs at least the program"},
      {"{cluster: pg, pooler: pg-rw, trigger: {kubernetes: {cluster: other}}}",
       "no kubernetes.clusters[] entry"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, table: \"a; drop\"}", "dbcanary_"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, expect: {max_downtime: 3}}",
       "max_downtime"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, typo: 1}", "typo"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, min_writes_before: 0}",
       "min_writes_before"},
      {"{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, min_writes_after: -1}",
       "min_writes_after"},
  };
  for (const auto& test : cases) {
    auto params = ReadFailoverParams(Settings(test.yaml), *config);
    ASSERT_FALSE(params) << test.yaml;
    EXPECT_EQ(params.error().code, ErrorCode::kConfig) << test.yaml;
    EXPECT_NE(params.error().message.find(test.fragment), std::string::npos)
        << test.yaml << " -> " << params.error().message;
  }
}

// The drill truncates and drops its table: a setting naming a tenant's table must never load.
TEST(FailoverParamsTest, TableOutsideTheDrillPrefixIsRefusedAtLoad) {
  auto config = TestConfig();
  for (const char* table : {"orders", "public.orders", "dbcanary_", "dbcanaryx_orders"}) {
    auto params = ReadFailoverParams(
        Settings(std::string("{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, table: ") +
                 table + "}"),
        *config);
    ASSERT_FALSE(params) << table;
    EXPECT_EQ(params.error().code, ErrorCode::kConfig);
    EXPECT_NE(params.error().message.find("drills.jobs.failover.table"), std::string::npos)
        << params.error().message;
    EXPECT_NE(params.error().message.find("must start with dbcanary_"), std::string::npos)
        << params.error().message;
  }
  auto accepted = ReadFailoverParams(
      Settings("{cluster: pg, pooler: pg-rw, trigger: {command: [x]}, table: dbcanary_writes}"),
      *config);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->table, "dbcanary_writes");
}

TEST(FailoverParamsTest, RegistryBuildsTheDrillWithItsFamilies) {
  auto config = TestConfig();
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill =
      registry.Create(Settings("{cluster: pg, pooler: pg-rw, trigger: {command: [x]}}"), *config);
  ASSERT_TRUE(drill) << drill.error().message;
  std::set<std::string> names;
  for (const auto& desc : (*drill)->Describe()) names.insert(desc.name);
  EXPECT_TRUE(names.count("dbcanary_drill_failover_downtime_seconds"));
  EXPECT_TRUE(names.count("dbcanary_drill_failover_lost_writes"));
  EXPECT_TRUE(names.count("dbcanary_drill_failover_standbys_recovered_seconds"));
}

class FailoverKubeTriggerTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.SetToken("t0ken"); }
  kube::Client Client() const {
    kube::Credentials credentials;
    credentials.server = fake_.url();
    credentials.token = "t0ken";
    credentials.source = "test";
    return kube::Client(credentials, milliseconds(3000));
  }
  static constexpr char kPods[] = "/api/v1/namespaces/db/pods";
  testing::FakeKube fake_;
};

TEST_F(FailoverKubeTriggerTest, DeletesThePodLabelledPrimary) {
  fake_.SetBody(kPods, R"({"kind":"PodList","items":[{"metadata":{"name":"pgmain-2",
      "labels":{"cnpg.io/cluster":"pgmain","cnpg.io/instanceRole":"primary"}}}]})");
  fake_.Set(std::string("DELETE ") + kPods + "/pgmain-2",
            testing::FakeKube::Route{200, R"({"kind":"Pod","metadata":{"name":"pgmain-2"}})"});
  auto deleted = DeleteCnpgPrimaryPod(Client(), "db", "pgmain", Deadline::In(milliseconds(3000)));
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, "pgmain-2");
  auto requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], std::string("GET ") + kPods +
                             "?labelSelector=cnpg.io%2Fcluster%3Dpgmain%2Ccnpg.io%2FinstanceRole%"
                             "3Dprimary");
  EXPECT_EQ(requests[1], std::string("DELETE ") + kPods + "/pgmain-2");
}

TEST_F(FailoverKubeTriggerTest, RefusesWithoutExactlyOnePrimaryPod) {
  fake_.SetBody(kPods, R"({"kind":"PodList","items":[]})");
  auto none = DeleteCnpgPrimaryPod(Client(), "db", "pgmain", Deadline::In(milliseconds(3000)));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kUnexpected);
  fake_.SetBody(kPods, R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  auto two = DeleteCnpgPrimaryPod(Client(), "db", "pgmain", Deadline::In(milliseconds(3000)));
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().code, ErrorCode::kUnexpected);
  for (const auto& request : fake_.Requests()) EXPECT_NE(request.rfind("DELETE", 0), 0u);
}

TEST_F(FailoverKubeTriggerTest, ForbiddenDeleteIsAnAuthError) {
  fake_.SetBody(kPods, R"({"items":[{"metadata":{"name":"pgmain-1"}}]})");
  fake_.Set(std::string("DELETE ") + kPods + "/pgmain-1",
            testing::FakeKube::Error(403, "Forbidden", "pods \"pgmain-1\" is forbidden"));
  auto deleted = DeleteCnpgPrimaryPod(Client(), "db", "pgmain", Deadline::In(milliseconds(3000)));
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code, ErrorCode::kAuth);
}

}  // namespace
}  // namespace dbcanary
