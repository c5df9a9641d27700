#include <gtest/gtest.h>

#include <cmath>

#include "config/config.h"
#include "probes/postgres/pg_hazards_rows.h"
#include "probes/postgres/pg_tenant_isolation.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line) {
  auto config = ParseConfig(R"(
postgres:
  clusters:
    - name: pg
      defaults: { user: dbcanary }
      primary: { name: pg-1, host: 127.0.0.1 }
      probes:
)" + probe_line + "\n",
                            "test.yaml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return std::make_shared<const Config>();
  }
  return *config;
}

Result<std::unique_ptr<Probe>> Create(const Config& config) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  return registry.Create(config.postgres_clusters.at(0).probes.at(0), config);
}

const ExpectationResult* Find(const ProbeResult& result, const std::string& check) {
  for (const auto& expectation : result.expectations) {
    if (expectation.check == check) return &expectation;
  }
  return nullptr;
}

TEST(PgHazardsTest, FactoryTakesBoundsAndRejectsUnknownOrOutOfRange) {
  auto probe = Create(*Load("        pg_hazards: {}"));
  ASSERT_TRUE(probe) << probe.error().message;
  probe = Create(*Load(
      "        pg_hazards: { expect: { max_xid_age: 5e8, max_connections_used_ratio: 0.5 } }"));
  ASSERT_TRUE(probe) << probe.error().message;
  probe = Create(*Load("        pg_hazards: { expect: { max_connections_used_ratio: 2 } }"));
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("max_connections_used_ratio"), std::string::npos);
  probe = Create(*Load("        pg_hazards: { expect: { max_xid: 1 } }"));
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("max_xid"), std::string::npos);
}

// Pins the judgement: only an inactive slot that reserves WAL counts, the fullest limited role
// is compared with its own limit, and ages are taken on the server's clock.
TEST(PgHazardsTest, ReportJudgesEachHazardByItsBound) {
  HazardFacts facts;
  PgTable scalars(
      {"xid_age", "multixact_age", "freeze_max_age", "ready_segments", "oldest_ready",
       "connections_in_use", "connections_available", "oldest_xact_start", "oldest_idle_in_xact",
       "server_now"},
      {{"1000", "10", "200000000", "3", "900", "170", "197", "400", std::nullopt, "1000"}});
  ASSERT_TRUE(ParseHazardScalars(scalars, facts));
  PgTable slots(
      {"slot_name", "active", "retained_bytes"},
      {{"standby", "t", "100"}, {"unreserved", "f", std::nullopt}, {"lost", "f", "5000"}});
  ASSERT_TRUE(ParseHazardSlots(slots, facts));
  PgTable roles({"rolname", "connection_limit", "in_use"},
                {{"app", "10", "9"}, {"closed", "0", "0"}});
  ASSERT_TRUE(ParseHazardRoles(roles, facts));

  ProbeResult result;
  HazardBounds bounds;
  bounds.max_slot_retained_wal_bytes = 4096;
  ReportHazards("pg", bounds, facts, result);
  EXPECT_EQ(result.expectations.size(), 10u);
  const auto* inactive = Find(result, "max_inactive_slots");
  ASSERT_NE(inactive, nullptr);
  EXPECT_EQ(inactive->observed, 1);  // "unreserved" holds nothing back
  EXPECT_NE(inactive->observed_text.find("lost"), std::string::npos);
  EXPECT_FALSE(inactive->pass);
  EXPECT_FALSE(Find(result, "max_slot_retained_wal_bytes")->pass);
  EXPECT_TRUE(Find(result, "max_archive_ready_segments")->pass);
  EXPECT_EQ(Find(result, "max_archive_ready_age_seconds")->observed, 100);
  EXPECT_FALSE(Find(result, "max_connections_used_ratio")->pass);  // 170 of 197 > 0.8
  const auto* role = Find(result, "max_role_connections_used_ratio");
  EXPECT_NEAR(role->observed, 0.9, 1e-9);
  EXPECT_NE(role->observed_text.find("app"), std::string::npos);
  EXPECT_FALSE(role->pass);
  EXPECT_EQ(Find(result, "max_transaction_age_seconds")->observed, 600);
  EXPECT_EQ(Find(result, "max_idle_in_transaction_seconds")->observed, 0);
  EXPECT_TRUE(Find(result, "max_xid_age")->pass);
}

TEST(PgHazardsTest, ScalarsRejectAnAnswerOfTheWrongShape) {
  HazardFacts facts;
  EXPECT_FALSE(ParseHazardScalars(PgTable({"xid_age"}, {}), facts));
  EXPECT_FALSE(ParseHazardScalars(PgTable({"xid_age"}, {{"1"}}), facts));  // columns missing
}

// Pins: what could not be observed fails as unknown instead of passing, and a refusal of every
// other tenant is what isolation wants.
TEST(PgTenantIsolationTest, ReportFailsUnknownAndNamesWhoGotIn) {
  TenantSpec spec;
  spec.database = "app";
  ProbeResult unknown;
  ReportTenantIsolation(spec, TenantIsolationFacts{}, unknown);
  ASSERT_EQ(unknown.expectations.size(), 2u);  // no login tried: no isolation/owner checks
  for (const auto& check : unknown.expectations) {
    EXPECT_FALSE(check.pass);
    EXPECT_TRUE(std::isnan(check.observed));
  }

  TenantIsolationFacts facts;
  facts.public_connect = false;
  facts.public_create_database = false;
  facts.public_create_schema = true;
  facts.owner_can_create = true;
  facts.other_logins_tried = 3;
  facts.admitted = {"intruder"};
  ProbeResult result;
  ReportTenantIsolation(spec, facts, result);
  ASSERT_EQ(result.expectations.size(), 4u);
  EXPECT_TRUE(Find(result, "tenant_public_connect")->pass);
  EXPECT_FALSE(Find(result, "tenant_public_create")->pass);
  EXPECT_NE(Find(result, "tenant_public_create")->observed_text.find("schema public"),
            std::string::npos);
  EXPECT_FALSE(Find(result, "tenant_isolation")->pass);
  EXPECT_EQ(Find(result, "tenant_isolation")->observed_text, "admitted intruder");
  EXPECT_TRUE(Find(result, "tenant_owner_can_create")->pass);
  EXPECT_EQ(Find(result, "tenant_owner_can_create")->target, "app");
}

}  // namespace
}  // namespace dbcanary
