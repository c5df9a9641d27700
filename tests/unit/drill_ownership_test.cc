#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "drills/runtime/ownership.h"

namespace dbcanary {
namespace {

TEST(DrillOwnershipTest, OnlyPrefixedIdentifiersAreDrillNames) {
  for (const char* name : {"dbcanary_failover_writes", "dbcanary_bench", "dbcanary_x1"}) {
    EXPECT_TRUE(IsDrillSqlName(name)) << name;
  }
  for (const char* name :
       {"orders", "dbcanary", "dbcanary_", "dbcanaryx_orders", "public.dbcanary_x", "dbcanary_X",
        "dbcanary_a;drop", "dbcanary_a b", "xdbcanary_a",
        "dbcanary_0123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_FALSE(IsDrillSqlName(name)) << name;
  }
}

// The marker check and the action are one statement, and nothing is dropped or emptied
// without the marker.
TEST(DrillOwnershipTest, TableStatementsCheckTheMarkerFirst) {
  const std::string comment = OwnershipComment("failover", "table");
  EXPECT_EQ(comment, "dbcanary failover scratch table");
  const std::string drop = DropOwnedTableSql("dbcanary_t", comment);
  EXPECT_EQ(drop.rfind("DO $dbcanary$", 0), 0u);
  EXPECT_NE(drop.find("obj_description(to_regclass('dbcanary_t'), 'pg_class') = "
                      "'dbcanary failover scratch table' THEN DROP TABLE dbcanary_t"),
            std::string::npos)
      << drop;
  const std::string truncate = GuardedTableSql("dbcanary_t", comment, "TRUNCATE dbcanary_t");
  EXPECT_LT(truncate.find("IS DISTINCT FROM"), truncate.find("EXECUTE 'TRUNCATE dbcanary_t'"));
  const std::string ensure = EnsureOwnedTableSql("dbcanary_t", "seq bigint", comment);
  EXPECT_NE(ensure.find("CREATE TABLE dbcanary_t (seq bigint); COMMENT ON TABLE dbcanary_t IS "
                        "'dbcanary failover scratch table'"),
            std::string::npos)
      << ensure;
  EXPECT_EQ(ensure.find("IF NOT EXISTS"), std::string::npos) << "an existing table is not adopted";
}

// A key prefix with glob specials matches only itself in SCAN MATCH.
TEST(DrillOwnershipTest, KeyPrefixIsEscapedForScan) {
  EXPECT_EQ(EscapeGlob("dbcanary:"), "dbcanary:");
  EXPECT_EQ(EscapeGlob("*"), "\\*");
  EXPECT_EQ(EscapeGlob("a?b[c]d\\e*"), "a\\?b\\[c\\]d\\\\e\\*");
}

TEST(DrillOwnershipTest, OwnerLabelMustBeDbcanary) {
  using nlohmann::json;
  EXPECT_TRUE(HasOwnerLabel(
      json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/managed-by":"dbcanary"}}})")));
  EXPECT_FALSE(HasOwnerLabel(
      json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/managed-by":"cnpg"}}})")));
  EXPECT_FALSE(HasOwnerLabel(json::parse(R"({"metadata":{"name":"x"}})")));
  EXPECT_FALSE(HasOwnerLabel(json::parse(R"({"metadata":{"labels":[]}})")));
  EXPECT_FALSE(HasOwnerLabel(json::parse("[]")));
}

}  // namespace
}  // namespace dbcanary
