// Roles derived from the servers (probes/postgres/pg_topology.h): who is primary, where writes
// go, split brain and no primary as named signals, and the role history a failover leaves.
// Also the role-neutral cluster config (instances:, read_write:, discover:) and the legacy form.

#include "probes/postgres/pg_topology.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>

#include "config/config.h"
#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

spdlog::logger& NullLog() {
  static spdlog::logger log("pg-topology-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return log;
}

PgMember Member(const std::string& name, bool up, bool in_recovery, double timeline = 1) {
  PgMember member;
  member.endpoint.name = name;
  member.endpoint.host = "host-" + name;
  member.facts.server = name;
  member.facts.up = up;
  member.facts.in_recovery = in_recovery;
  member.facts.timeline = timeline;
  if (!up) member.error = MakeError(ErrorCode::kConnect, "connect to " + name + ": refused");
  return member;
}

PgTopology Topology(std::vector<PgMember> members) {
  PgTopology topology;
  topology.cluster = "pg";
  topology.members = std::move(members);
  return topology;
}

const ExpectationResult* Find(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

std::optional<double> Value(const ProbeResult& result, std::string_view name,
                            const Labels& labels) {
  for (const auto& sample : result.samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

// The member order says nothing: pg-2 answers as primary, so writes go there and the others
// are the standbys.
TEST(PgTopologyTest, RolesComeFromTheServersNotFromTheMemberOrder) {
  auto topology = Topology({Member("pg-1", true, true, 2), Member("pg-2", true, false, 2),
                            Member("pg-3", true, true, 2)});
  EXPECT_EQ(topology.Primaries(), 1);
  ASSERT_NE(topology.Primary(), nullptr);
  EXPECT_EQ(topology.Primary()->endpoint.name, "pg-2");
  auto standbys = topology.Standbys();
  ASSERT_EQ(standbys.size(), 2u);
  EXPECT_EQ(standbys[0]->endpoint.name, "pg-1");
  EXPECT_EQ(standbys[1]->endpoint.name, "pg-3");
  auto write = topology.WriteEndpoint();
  ASSERT_TRUE(write);
  EXPECT_EQ(write->host, "host-pg-2");
  // A configured read-write endpoint (the CNPG -rw service) takes the writes instead.
  PgEndpoint rw;
  rw.name = "pg-rw";
  rw.host = "pg-rw.db.svc";
  topology.read_write = rw;
  EXPECT_EQ(topology.WriteEndpoint()->host, "pg-rw.db.svc");

  ProbeResult result;
  ReportRoles(topology, {}, result);
  EXPECT_EQ(Value(result, kPgIsPrimary, {{"target", "pg"}, {"server", "pg-2"}}), 1);
  EXPECT_EQ(Value(result, kPgIsPrimary, {{"target", "pg"}, {"server", "pg-1"}}), 0);
  EXPECT_EQ(Value(result, kPgPrimaries, {{"target", "pg"}}), 1);
  EXPECT_TRUE(Find(result, "has_primary")->pass);
  EXPECT_TRUE(Find(result, "no_split_brain")->pass);
}

// A standby promoted without fencing the old primary: two members out of recovery. Writes follow
// the promoted one (newer timeline); the split brain is its own named signal.
TEST(PgTopologyTest, SplitBrainIsNamedAndWritesFollowTheNewestTimeline) {
  auto topology = Topology({Member("pg-1", true, false, 1), Member("pg-2", true, false, 2),
                            Member("pg-3", true, true, 1)});
  EXPECT_EQ(topology.Primaries(), 2);
  EXPECT_EQ(topology.Primary()->endpoint.name, "pg-2");
  ProbeResult result;
  ReportRoles(topology, {}, result);
  EXPECT_EQ(Value(result, kPgPrimaries, {{"target", "pg"}}), 2);
  const auto* split = Find(result, "no_split_brain");
  ASSERT_NE(split, nullptr);
  EXPECT_FALSE(split->pass);
  EXPECT_EQ(split->observed, 2);
  EXPECT_EQ(split->observed_text, "split brain: 2 primaries: pg-1 pg-2");
  EXPECT_TRUE(Find(result, "has_primary")->pass);  // distinct from "no primary"
}

// The primary stopped and nothing promoted yet: "no primary", distinct from a split brain.
TEST(PgTopologyTest, NoPrimaryIsNamedAndWritesHaveNowhereToGo) {
  auto topology = Topology(
      {Member("pg-1", false, false), Member("pg-2", true, true), Member("pg-3", true, true)});
  EXPECT_EQ(topology.Primaries(), 0);
  EXPECT_EQ(topology.Primary(), nullptr);
  EXPECT_EQ(topology.Standbys().size(), 3u);
  auto write = topology.WriteEndpoint();
  ASSERT_FALSE(write);
  // The member that did not answer is most likely the primary: its error is the reason.
  EXPECT_EQ(write.error().code, ErrorCode::kConnect);
  EXPECT_EQ(write.error().message,
            "cluster pg: no primary (2 of 3 members answer, all in recovery); pg-1: connect to "
            "pg-1: refused");
  // Every member answered, all in recovery: nothing else to blame.
  auto all_standbys = Topology({Member("pg-1", true, true), Member("pg-2", true, true)});
  EXPECT_EQ(all_standbys.NoPrimary().code, ErrorCode::kUnexpected);
  EXPECT_EQ(all_standbys.NoPrimary().message,
            "cluster pg: no primary (2 of 2 members answer, all in recovery)");
  ProbeResult result;
  ReportRoles(topology, {}, result);
  const auto* has_primary = Find(result, "has_primary");
  ASSERT_NE(has_primary, nullptr);
  EXPECT_FALSE(has_primary->pass);
  EXPECT_EQ(has_primary->observed, 0);
  EXPECT_EQ(has_primary->observed_text, "no primary: 2 of 3 members answer, all in recovery");
  EXPECT_TRUE(Find(result, "no_split_brain")->pass);
  // The stopped member has no role at all, rather than a made-up one.
  EXPECT_FALSE(Value(result, kPgIsPrimary, {{"target", "pg"}, {"server", "pg-1"}}));
}

// Nothing answers: the members' own error (here kConnect) says why, not a generic "no primary".
TEST(PgTopologyTest, NothingAnsweringReportsTheMembersOwnError) {
  auto topology = Topology({Member("pg-1", false, false), Member("pg-2", false, false)});
  auto error = topology.NoPrimary();
  EXPECT_EQ(error.code, ErrorCode::kConnect);
  EXPECT_EQ(error.message,
            "cluster pg: no primary (no member answers); pg-1: connect to pg-1: refused");
  // Roles unknown: no sample claims "0 primaries", no split brain is suggested.
  ProbeResult result;
  ReportRoles(topology, {}, result);
  EXPECT_TRUE(result.samples.empty());
  ASSERT_EQ(result.expectations.size(), 1u);
  EXPECT_EQ(result.expectations[0].check, "has_primary");
  EXPECT_FALSE(result.expectations[0].pass);
  EXPECT_TRUE(std::isnan(result.expectations[0].observed));
}

// One failover is one primary change, however many runs see each state; the states in between
// (no primary, split brain) change nothing; failing back is a second change.
TEST(PgTopologyTest, HistoryCountsEachChangeOfTheSinglePrimaryOnce) {
  PgTopologySource source("pg", nullptr, std::nullopt, std::chrono::seconds(1));
  auto first = Topology({Member("pg-1", true, false), Member("pg-2", true, true)});
  source.Observe(first, NullLog());
  source.Observe(first, NullLog());
  EXPECT_EQ(source.History().primary, "pg-1");
  EXPECT_EQ(source.History().primary_changes, 0u);
  EXPECT_FALSE(source.History().last_change_unix);
  source.Observe(Topology({Member("pg-1", false, false), Member("pg-2", true, true)}), NullLog());
  source.Observe(Topology({Member("pg-1", true, false, 1), Member("pg-2", true, false, 2)}),
                 NullLog());
  EXPECT_EQ(source.History().primary_changes, 0u);
  auto promoted = Topology({Member("pg-1", true, true, 2), Member("pg-2", true, false, 2)});
  source.Observe(promoted, NullLog());
  source.Observe(promoted, NullLog());
  EXPECT_EQ(source.History().primary, "pg-2");
  EXPECT_EQ(source.History().primary_changes, 1u);
  ASSERT_TRUE(source.History().last_change_unix);
  EXPECT_GT(*source.History().last_change_unix, 1.7e9);

  ProbeResult result;
  ReportRoles(promoted, source.History(), result);
  EXPECT_EQ(Value(result, kPgPrimaryChanges, {{"target", "pg"}}), 1);
  EXPECT_EQ(Value(result, kPgLastPrimaryChange, {{"target", "pg"}}),
            *source.History().last_change_unix);

  source.Observe(first, NullLog());
  EXPECT_EQ(source.History().primary_changes, 2u);
}

std::shared_ptr<const Config> Parse(const std::string& text) {
  auto config = ParseConfig(text, "test.yaml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return *config;
}

std::string ErrorOf(const std::string& text) {
  auto config = ParseConfig(text, "test.yaml");
  return config ? std::string() : config.error().message;
}

constexpr char kHeader[] =
    "postgres:\n"
    "  clusters:\n"
    "    - name: pg\n"
    "      defaults: { user: dbcanary }\n";

TEST(PgTopologyConfigTest, InstancesAreMembersAndReadWriteIsOptional) {
  auto config = Parse(std::string(kHeader) +
                      "      instances:\n"
                      "        - { name: pg-1, host: a }\n"
                      "        - { name: pg-2, host: b, port: 5433 }\n"
                      "      read_write: { host: pg-rw.db.svc }\n");
  ASSERT_NE(config, nullptr);
  const auto& cluster = config->postgres_clusters.at(0);
  ASSERT_EQ(cluster.instances.size(), 2u);
  EXPECT_EQ(cluster.instances[1].port, 5433);
  EXPECT_EQ(cluster.instances[1].user, "dbcanary");
  ASSERT_TRUE(cluster.read_write);
  EXPECT_EQ(cluster.read_write->name, "pg-rw");
  EXPECT_EQ(cluster.read_write->user, "dbcanary");
}

// The legacy keys keep working: read as members (primary first), the role is still asked.
TEST(PgTopologyConfigTest, LegacyPrimaryAndStandbysAreReadAsMembers) {
  auto config = Parse(std::string(kHeader) +
                      "      primary: { name: pg-1, host: a }\n"
                      "      standbys:\n"
                      "        - { name: pg-2, host: b }\n");
  ASSERT_NE(config, nullptr);
  const auto& cluster = config->postgres_clusters.at(0);
  ASSERT_EQ(cluster.instances.size(), 2u);
  EXPECT_EQ(cluster.instances[0].name, "pg-1");
  EXPECT_EQ(cluster.instances[1].name, "pg-2");
}

TEST(PgTopologyConfigTest, MistakesNameTheFieldAndWhatToWrite) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "      primary: { name: pg-1, host: a }\n"
                                           "      instances: [{ name: pg-2, host: b }]\n"),
            "test.yaml:6:18: postgres.clusters[0].instances: set either instances: (every "
            "member; roles are derived) or the older primary:/standbys:, not both");
  EXPECT_EQ(ErrorOf(std::string(kHeader)),
            "test.yaml:3:7: postgres.clusters[0]: list the members in instances: [{ name, host, "
            "port }] (or discover: { kubernetes: ... })");
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "      instances: [{ host: a }]\n"),
            "test.yaml:5:19: postgres.clusters[0].instances[0].name: required (the "
            "application_name it streams with)");
  EXPECT_EQ(ErrorOf(std::string(kHeader) +
                    "      discover: { kubernetes: { cluster: pgmain, namespace: db } }\n"),
            "test.yaml:1:1: kubernetes: required: postgres cluster \"pg\" discovers its members "
            "(discover: kubernetes:)");
}

// The legacy primary: pointing at the read-write service would answer as a second primary
// after every switchover: refused, saying what to write instead.
TEST(PgTopologyConfigTest, LegacyPrimaryOnTheReadWriteServiceIsRefused) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "      primary: { name: pg-1, host: pg-rw.db.svc }\n"),
            "test.yaml:5:36: postgres.clusters[0].primary.host: \"pg-rw.db.svc\" is the cluster's "
            "read-write service, not an instance: list every instance by its own address in "
            "instances: and put the service in read_write: { host: pg-rw.db.svc }");
}

TEST(PgTopologyConfigTest, DiscoverReadsTheCnpgClusterAndDefaultsTheServerName) {
  auto config = Parse(std::string(kHeader) +
                      "      discover: { kubernetes: { cluster: pgmain, namespace: db } }\n"
                      "kubernetes: { in_cluster: true }\n");
  ASSERT_NE(config, nullptr);
  const auto& cluster = config->postgres_clusters.at(0);
  EXPECT_TRUE(cluster.instances.empty());
  ASSERT_TRUE(cluster.discover);
  EXPECT_EQ(cluster.discover->cnpg_cluster, "pgmain");
  EXPECT_EQ(cluster.discover->tls_server_name, "pgmain-rw.db.svc");
  EXPECT_FALSE(cluster.discover->port);  // the pod's "postgresql" container port, else 5432
  EXPECT_EQ(cluster.member_defaults.user, "dbcanary");
}

// Probes of one cluster share one source (one resolution serves them all); other settings, other
// source.
TEST(PgTopologyConfigTest, ProbesOfOneClusterShareOneSource) {
  auto config = Parse(std::string(kHeader) + "      instances: [{ name: pg-1, host: a }]\n");
  ASSERT_NE(config, nullptr);
  const auto& cluster = config->postgres_clusters.at(0);
  auto first = PgTopologySource::For(cluster, *config);
  auto second = PgTopologySource::For(cluster, *config);
  EXPECT_EQ(first.get(), second.get());
  PostgresCluster moved = cluster;
  moved.instances[0].port = 6543;
  EXPECT_NE(PgTopologySource::For(moved, *config).get(), first.get());
}

}  // namespace
}  // namespace dbcanary
